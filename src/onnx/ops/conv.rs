//! Conv (2-D or any rank): any kernel, stride, padding (explicit, asymmetric, `auto_pad`),
//! dilation and groups (incl. depthwise), with bias; BatchNormalization that tract folded into
//! it; ConvTranspose (tract's `Deconv`, with output padding) likewise. Lowered to a Linear whose outputs at one position share that position's patch, so the
//! dense chip lays out all output channels of a position together.

use super::super::{Built, Loader, Value};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    if node.op_as::<Deconv>().is_none() {
        let Some(op) = node.op_as::<Conv>() else {
            return Ok(Built::NotMine);
        };
        if op.q_params.is_some() {
            return Err("quantized convolution".into());
        }
    }
    if (1..node.inputs.len()).any(|i| !matches!(l.value(node, i), Value::Const(_))) {
        return Err("the kernel and bias must be constants".into());
    }
    l.affine(node)
}
