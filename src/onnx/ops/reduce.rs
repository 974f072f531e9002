//! ReduceSum / ReduceMean (tract: a sum, then a multiply by a constant) over any axes as a
//! Linear; ReduceMax / ReduceMin as a Max over each reduced window.

use super::super::{Built, Loader};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let Some(op) = node.op_as::<Reduce>() else {
        return Ok(Built::NotMine);
    };
    let sum = Reduce {
        axes: op.axes.clone(),
        reducer: Reducer::Sum,
    };
    match op.reducer {
        Reducer::Sum => l.affine(node),
        Reducer::Max => super::pool::windows(l, node, &sum, false),
        Reducer::Min => super::pool::windows(l, node, &sum, true),
        Reducer::MeanOfSquares => Ok(Built::NotMine), // see norm.rs
        other => Err(format!("reduction {other:?} is not supported")),
    }
}
