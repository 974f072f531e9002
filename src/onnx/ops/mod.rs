//! One builder per ONNX op family, over tract's decluttered forms. Each returns
//! [`Built::NotMine`] for nodes of other ops, `Err(reason)` for a use of its op zkinfer cannot
//! prove, and otherwise the core-op nodes it added.

mod binary;
pub(crate) mod conv;
mod einsum;
mod layout;
mod norm;
mod pool;
mod reduce;
mod resize;
mod select;
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
    norm::build,
    resize::build,
    softmax::build,
    select::build,
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

/// A reduction's windows: the input elements each reduced output covers, the window of every
/// input element, and the reduced shape (axes kept, of size 1).
pub(super) type Windows = (Vec<Vec<crate::graph::Ref>>, Vec<usize>, Vec<usize>);

/// The windows of a reduction of `node`'s first input over `axes`, read off tract's own sum
/// over the same axes.
pub(super) fn windows_over(
    l: &Loader,
    node: &TypedNode,
    axes: &[usize],
) -> Result<Windows, String> {
    use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};
    let shape = l.shape(node.inputs[0])?;
    let n: usize = shape.iter().product();
    let sum = Reduce {
        axes: axes.into(),
        reducer: Reducer::Sum,
    };
    let reduced: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let r_len: usize = reduced.iter().product();
    let (args, _) = l.args(node)?;
    let args = vec![args.into_iter().next().ok_or("no input")?];
    let lin = super::probe::affine(&sum, &args, r_len, true).map_err(|e| format!("{e:#}"))?;
    let windows: Vec<Vec<crate::graph::Ref>> = lin
        .rows
        .iter()
        .map(|r| r.terms.iter().map(|t| t.0).collect())
        .collect();
    let mut window_of = vec![usize::MAX; n];
    for (w, win) in windows.iter().enumerate() {
        for e in win {
            if let Some(slot) = window_of.get_mut(e.idx()) {
                *slot = w;
            }
        }
    }
    if windows.iter().any(Vec::is_empty) || window_of.contains(&usize::MAX) {
        return Err("the axes do not partition the input".into());
    }
    Ok((windows, window_of, reduced))
}
