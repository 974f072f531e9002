//! Gemm / MatMul: tract's `EinSum` of the activation with a constant weight (any axes: batched,
//! with folded Flatten, or a 1×1 Conv tract rewrote as an EinSum). The bias is a following Add,
//! folded in later by [`crate::ops::linear::fuse_linear`].

use super::super::{Built, Loader, Value};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let Some(op) = node.op_as::<EinSum>() else {
        return Ok(Built::NotMine);
    };
    if op.q_params.is_some() {
        return Err("quantized matmul".into());
    }
    let acts = (0..node.inputs.len())
        .filter(|&i| matches!(l.value(node, i), Value::Tensor(_)))
        .count();
    if acts != 1 {
        return Err(
            "a product of two activations (not a constant weight) is not supported yet".into(),
        );
    }
    l.affine(node)
}
