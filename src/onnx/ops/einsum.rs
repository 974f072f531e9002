//! Gemm / MatMul: tract's `EinSum` of the activation with a constant weight (any axes: batched,
//! with folded Flatten, or a 1×1 Conv tract rewrote as an EinSum). The bias is a following Add,
//! folded in later by [`crate::ops::linear::fuse_linear`]. An einsum of two activations
//! (attention's `Q·Kᵀ` and `softmax(·)·V`) becomes products and sums.

use super::super::{Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::linear::{Linear, Row};
use crate::ops::mul::Mul;
use crate::ops::FloatOp;
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
    match (acts, node.inputs.len()) {
        (1, _) => l.affine(node),
        (2, 2) => bilinear(l, node, op),
        (0, _) => Err("an einsum of constants only".into()),
        _ => Err("an einsum of more than two activations".into()),
    }
}

/// A product of two activations (`Q·Kᵀ`, `softmax(·)·V`, any einsum of two tensors): one
/// product per term of the sum (a Mul node), then the sums (a Linear node).
fn bilinear(l: &mut Loader, node: &TypedNode, op: &EinSum) -> Result<Built, String> {
    let (Value::Tensor(a), Value::Tensor(b)) = (l.value(node, 0), l.value(node, 1)) else {
        return Err("expected two activations".into());
    };
    let shapes = [l.shape(node.inputs[0])?, l.shape(node.inputs[1])?];
    let out_shape = l.shape(OutletId::new(node.id, 0))?;
    let axes: Vec<_> = op.axes.iter_all_axes().collect();
    // the size of each axis, and which axis sits at each position of each tensor
    let sizes: Vec<usize> = axes
        .iter()
        .map(|ax| {
            let shapes = &shapes;
            let ins = (0..2).flat_map(|s| ax.inputs[s].iter().map(move |&p| shapes[s][p]));
            let outs = ax.outputs[0].iter().map(|&p| out_shape[p]);
            ins.chain(outs).max().unwrap_or(1)
        })
        .collect();
    let axis_at = |which: usize, rank: usize| -> Result<Vec<usize>, String> {
        (0..rank)
            .map(|p| {
                axes.iter()
                    .position(|ax| {
                        if which < 2 {
                            ax.inputs[which].contains(&p)
                        } else {
                            ax.outputs[0].contains(&p)
                        }
                    })
                    .ok_or_else(|| format!("no axis at position {p}"))
            })
            .collect()
    };
    let at = [
        axis_at(0, shapes[0].len())?,
        axis_at(1, shapes[1].len())?,
        axis_at(2, out_shape.len())?,
    ];
    let dims = [shapes[0].clone(), shapes[1].clone(), out_shape.clone()];
    let flat = |t: usize, coord: &[usize]| -> usize {
        let mut idx = 0;
        for (p, &d) in dims[t].iter().enumerate() {
            // a broadcast axis (size 1 here) always reads coordinate 0
            let c = if d == 1 { 0 } else { coord[at[t][p]] };
            idx = idx * d + c;
        }
        idx
    };
    let total = sizes.iter().try_fold(1usize, |n, &s| n.checked_mul(s));
    let total = match total {
        Some(t) if t <= crate::onnx::MAX_ELEMENTS => t,
        _ => return Err("the product has too many terms".into()),
    };
    let out_len: usize = out_shape.iter().product();
    let mut pairs = Vec::with_capacity(total);
    let mut rows: Vec<Row<f64>> = (0..out_len)
        .map(|_| Row {
            bias: 0.0,
            terms: vec![],
        })
        .collect();
    let mut coord = vec![0usize; axes.len()];
    for k in 0..total {
        pairs.push((
            Ref(0, flat(0, &coord) as u32),
            Ref(1, flat(1, &coord) as u32),
        ));
        let o = flat(2, &coord);
        rows.get_mut(o)
            .ok_or("output index out of range")?
            .terms
            .push((Ref(0, k as u32), 1.0));
        // odometer over the axes
        for i in (0..axes.len()).rev() {
            coord[i] += 1;
            if coord[i] < sizes[i] {
                break;
            }
            coord[i] = 0;
        }
    }
    let name = node.name.as_str();
    let p = l.add(name, vec![a, b], vec![total], FloatOp::Mul(Mul { pairs }));
    let y = l.add(
        name,
        vec![p],
        out_shape,
        FloatOp::Linear(Linear { rows, relu: false }),
    );
    Ok(Built::Done(vec![Value::Tensor(y)]))
}
