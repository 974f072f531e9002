//! Pooling: AveragePool and GlobalAveragePool (tract's `SumPool`, a Linear: sum then the
//! constant 1/n, exactly as tract counts padding), MaxPool (a Max over each window; the windows
//! are read off a SumPool with the same geometry, so padding never enters a max).

use super::super::{probe, Built, Loader};
use crate::ops::{max::Max, FloatOp};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, SumPool};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    if node.op_as::<SumPool>().is_some() {
        return l.affine(node);
    }
    let Some(op) = node.op_as::<MaxPool>() else {
        return Ok(Built::NotMine);
    };
    if op.with_index_outputs.is_some() {
        return Err("MaxPool with index outputs".into());
    }
    let sum = SumPool {
        pool_spec: op.pool_spec.clone(),
        count_include_pad: false,
        normalize: false,
    };
    windows(l, node, &sum, false)
}

/// Adds a Max node whose windows are the supports of `support_op`'s outputs.
pub(super) fn windows(
    l: &mut Loader,
    node: &TypedNode,
    support_op: &dyn TypedOp,
    min: bool,
) -> Result<Built, String> {
    let (args, acts) = l.args(node)?;
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    let lin = probe::affine(support_op, &args, n, true).map_err(|e| format!("{e:#}"))?;
    let windows: Vec<_> = lin
        .rows
        .iter()
        .map(|r| r.terms.iter().map(|t| t.0).collect::<Vec<_>>())
        .collect();
    if windows.iter().any(Vec::is_empty) {
        return Err("a window covers no input element".into());
    }
    let t = l.add(&node.name, acts, shape, FloatOp::Max(Max { windows, min }));
    Ok(Built::Done(vec![super::super::Value::Tensor(t)]))
}
