//! One builder per ONNX op family, over tract's decluttered forms. Each returns
//! [`Built::NotMine`] for nodes of other ops, `Err(reason)` for a use of its op zkinfer cannot
//! prove, and otherwise the core-op nodes it added.

mod binary;
mod conv;
mod einsum;
mod layout;
mod pool;
mod reduce;
mod resize;
mod softmax;
mod unary;

use super::{Built, Loader};
use tract_onnx::prelude::*;

type Builder = fn(&mut Loader, &TypedNode) -> Result<Built, String>;

/// The registry, tried in order.
const BUILDERS: &[Builder] = &[
    layout::build,
    einsum::build,
    conv::build,
    pool::build,
    reduce::build,
    resize::build,
    softmax::build,
    binary::build,
    unary::build,
];

/// Lowers `node` with the first builder that knows its op.
pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    for b in BUILDERS {
        match b(l, node)? {
            Built::NotMine => continue,
            done => return Ok(done),
        }
    }
    Ok(Built::NotMine)
}
