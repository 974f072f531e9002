//! Resize / Upsample: affine in the input for every mode tract implements (nearest: a copy,
//! lowered to a free Gather; linear: fixed interpolation weights, a Linear). The scales, sizes
//! and region-of-interest inputs are constants, never weights.

use super::super::{Built, Loader, Value};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{NearestUpsample, Resize};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    if node.op_as::<Resize>().is_none() && node.op_as::<NearestUpsample>().is_none() {
        return Ok(Built::NotMine);
    }
    if (1..node.inputs.len()).any(|i| !matches!(l.value(node, i), Value::Const(_))) {
        return Err("the scales and sizes must be constants".into());
    }
    l.affine_with(node, false)
}
