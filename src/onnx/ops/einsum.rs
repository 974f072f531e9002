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
        (1, 2) => direct(l, node, op),
        (1, _) => l.affine(node),
        (2, 2) => bilinear(l, node, op),
        (0, _) => Err("an einsum of constants only".into()),
        _ => Err("an einsum of more than two activations".into()),
    }
}

/// The axes of a two-input einsum: each axis's size and, per tensor (input 0, input 1,
/// output), which axis sits at each position, so that [`Axes::flat`] maps a coordinate over
/// all axes to each tensor's flat index.
struct Axes {
    sizes: Vec<usize>,
    at: [Vec<usize>; 3],
    dims: [Vec<usize>; 3],
}

impl Axes {
    fn of(l: &Loader, node: &TypedNode, op: &EinSum) -> Result<Self, String> {
        let shapes = [l.shape(node.inputs[0])?, l.shape(node.inputs[1])?];
        let out_shape = l.shape(OutletId::new(node.id, 0))?;
        let axes: Vec<_> = op.axes.iter_all_axes().collect();
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
        Ok(Self {
            sizes,
            at,
            dims: [shapes[0].clone(), shapes[1].clone(), out_shape],
        })
    }

    /// Flat index into tensor `t` (0, 1: inputs; 2: output) of the coordinate over all axes.
    fn flat(&self, t: usize, coord: &[usize]) -> usize {
        let mut idx = 0;
        for (p, &d) in self.dims[t].iter().enumerate() {
            // a broadcast axis (size 1 here) always reads coordinate 0
            let c = if d == 1 { 0 } else { coord[self.at[t][p]] };
            idx = idx * d + c;
        }
        idx
    }

    /// Terms of the sum (the product of the axis sizes), at most `max`.
    fn total(&self, max: usize) -> Result<usize, String> {
        match self.sizes.iter().try_fold(1usize, |n, &s| n.checked_mul(s)) {
            Some(t) if t <= max => Ok(t),
            _ => Err(format!("the product has more than {max} terms")),
        }
    }

    /// Calls `f(coord)` for every coordinate over all axes (odometer order).
    fn each(
        &self,
        max: usize,
        mut f: impl FnMut(&[usize]) -> Result<(), String>,
    ) -> Result<(), String> {
        let total = self.total(max)?;
        let mut coord = vec![0usize; self.sizes.len()];
        for _ in 0..total {
            f(&coord)?;
            for i in (0..self.sizes.len()).rev() {
                coord[i] += 1;
                if coord[i] < self.sizes[i] {
                    break;
                }
                coord[i] = 0;
            }
        }
        Ok(())
    }
}

/// Multiply-accumulates of one activation-times-constant einsum (64 M: a 8192 × 8192 layer;
/// the terms take 16 bytes each while compiling).
const MAX_MACS: usize = 1 << 26;

/// An activation times a constant (Gemm, MatMul): the weights are read off the constant
/// through the einsum's axes, one term per (output, summed coordinate), in time linear in the
/// multiply-accumulates. (Probing, as other affine ops are read, costs one evaluation per
/// input element: quadratic in a layer's width.) Every term is kept, zero weights included,
/// so outputs keep sharing their inputs; the bias is a following Add.
fn direct(l: &mut Loader, node: &TypedNode, op: &EinSum) -> Result<Built, String> {
    let a = if matches!(l.value(node, 0), Value::Tensor(_)) {
        0
    } else {
        1
    };
    let (Value::Tensor(x), Value::Const(c)) = (l.value(node, a), l.value(node, 1 - a)) else {
        return Err("expected an activation and a constant".into());
    };
    let c: Vec<f64> = c
        .cast_to::<f64>()
        .and_then(|t| Ok(t.to_plain_array_view::<f64>()?.iter().copied().collect()))
        .map_err(|e| format!("weights: {e}"))?;
    if let Some(v) = c.iter().find(|v| !v.is_finite()) {
        return Err(format!("a weight is {v}: weights must be finite"));
    }
    let axes = Axes::of(l, node, op)?;
    let out_len: usize = axes.dims[2].iter().product();
    let mut rows: Vec<Row<f64>> = (0..out_len)
        .map(|_| Row {
            bias: 0.0,
            terms: vec![],
        })
        .collect();
    axes.each(MAX_MACS, |coord| {
        let w = *c
            .get(axes.flat(1 - a, coord))
            .ok_or("weight index out of range")?;
        rows.get_mut(axes.flat(2, coord))
            .ok_or("output index out of range")?
            .terms
            .push((Ref(0, axes.flat(a, coord) as u32), w));
        Ok(())
    })?;
    let lin = Linear { rows, relu: false }.normalized();
    let shape = axes.dims[2].clone();
    Ok(l.add_affine(node, vec![x], shape, lin))
}

/// A product of two activations (`Q·Kᵀ`, `softmax(·)·V`, any einsum of two tensors): one
/// product per term of the sum (a Mul node), then the sums (a Linear node).
fn bilinear(l: &mut Loader, node: &TypedNode, _op: &EinSum) -> Result<Built, String> {
    let (Value::Tensor(a), Value::Tensor(b)) = (l.value(node, 0), l.value(node, 1)) else {
        return Err("expected two activations".into());
    };
    let axes = Axes::of(l, node, _op)?;
    let total = axes.total(crate::onnx::MAX_ELEMENTS)?;
    let out_shape = axes.dims[2].clone();
    let out_len: usize = out_shape.iter().product();
    let mut pairs = Vec::with_capacity(total);
    let mut rows: Vec<Row<f64>> = (0..out_len)
        .map(|_| Row {
            bias: 0.0,
            terms: vec![],
        })
        .collect();
    let mut k = 0u32;
    axes.each(crate::onnx::MAX_ELEMENTS, |coord| {
        pairs.push((
            Ref(0, axes.flat(0, coord) as u32),
            Ref(1, axes.flat(1, coord) as u32),
        ));
        rows.get_mut(axes.flat(2, coord))
            .ok_or("output index out of range")?
            .terms
            .push((Ref(0, k), 1.0));
        k += 1;
        Ok(())
    })?;
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
