//! Ops that only move elements, lowered to Gather (copy constraints, no arithmetic): Reshape,
//! Flatten, Squeeze, Unsqueeze (tract's axis ops; a reshape passes its input through), Transpose,
//! Slice, Concat (also with constants), Pad in constant mode, Gather with constant indices,
//! Expand (MultiBroadcastTo), Tile, strided slices (Downsample); Identity and constants.

use super::super::{Built, Loader, Value};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    Gather, MultiBroadcastTo, Pad, PadMode, Slice, Tile, TypedConcat,
};
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::downsample::Downsample;
use tract_onnx::tract_core::ops::identity::Identity;
use tract_onnx::tract_core::ops::konst::Const;

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    if let Some(c) = node.op_as::<Const>() {
        return Ok(Built::Done(vec![Value::Const(c.val().clone())]));
    }
    if node.op_as::<Identity>().is_some() {
        return Ok(Built::Done(vec![l.value(node, 0)]));
    }
    if let Some(op) = node.op_as::<AxisOp>() {
        if !matches!(op, AxisOp::Move(..)) {
            // Add/Rm/Reshape keep the row-major order: the same tensor, read with a new shape
            return Ok(Built::Done(vec![l.value(node, 0)]));
        }
        return l.copy(node, node.op.as_ref(), &[0], 0.0);
    }
    if let Some(op) = node.op_as::<Pad>() {
        let PadMode::Constant(c) = &op.mode else {
            return Err(format!("pad mode {:?} (only constant padding)", op.mode));
        };
        let value = c
            .cast_to_scalar::<f64>()
            .map_err(|e| format!("pad value: {e}"))?;
        let coded = Pad {
            pads: op.pads.clone(),
            mode: PadMode::Constant(Arc::new(tensor0(0i64))),
        };
        return l.copy(node, &coded, &[0], value);
    }
    let data: Vec<usize> = if node.op_as::<TypedConcat>().is_some() {
        (0..node.inputs.len()).collect()
    } else if node.op_as::<Slice>().is_some()
        || node.op_as::<Gather>().is_some()
        || node.op_as::<MultiBroadcastTo>().is_some()
        || node.op_as::<Tile>().is_some()
        || node.op_as::<Downsample>().is_some()
    {
        vec![0]
    } else {
        return Ok(Built::NotMine);
    };
    l.copy(node, node.op.as_ref(), &data, 0.0)
}
