//! Normalizations tract leaves as ops of their own after expanding LayerNormalization and
//! InstanceNormalization: `RmsNorm` (`x / sqrt(mean(x²) + ε)` along an axis) and the reduction
//! `MeanOfSquares`. Both are composed of core ops: products `x·x`, a mean (Linear, `ε` in its
//! bias), an `rsqrt` table, and a product.

use super::super::{Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::func::Func;
use crate::ops::linear::{Linear, Row};
use crate::ops::mul::Mul;
use crate::ops::FloatOp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer, RmsNorm};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let (axes, eps, normalize): (Vec<usize>, f64, bool) = if let Some(op) = node.op_as::<RmsNorm>()
    {
        let eps = op
            .eps
            .cast_to_scalar::<f64>()
            .map_err(|e| format!("epsilon: {e}"))?;
        (vec![op.axis], eps, true)
    } else if let Some(op) = node.op_as::<Reduce>() {
        if op.reducer != Reducer::MeanOfSquares {
            return Ok(Built::NotMine);
        }
        (op.axes.to_vec(), 0.0, false)
    } else {
        return Ok(Built::NotMine);
    };
    let Value::Tensor(x) = l.value(node, 0) else {
        return Err("the input is not an activation".into());
    };
    let (windows, window_of, reduced) = super::windows_over(l, node, &axes)?;
    let in_shape = l.shape(node.inputs[0])?;
    let n = window_of.len();
    let name = node.name.as_str();
    let sq = l.add(
        name,
        vec![x, x],
        in_shape.clone(),
        FloatOp::Mul(Mul {
            pairs: (0..n as u32).map(|i| (Ref(0, i), Ref(1, i))).collect(),
        }),
    );
    let mean = l.add(
        name,
        vec![sq],
        reduced.clone(),
        FloatOp::Linear(Linear {
            rows: windows
                .iter()
                .map(|w| Row {
                    bias: eps,
                    terms: w.iter().map(|&r| (r, 1.0 / w.len() as f64)).collect(),
                })
                .collect(),
            relu: false,
        }),
    );
    if !normalize {
        return Ok(Built::Done(vec![Value::Tensor(mean)]));
    }
    let r_len = reduced.iter().product();
    let inv = l.add(
        name,
        vec![mean],
        reduced,
        FloatOp::Func(Func {
            name: "rsqrt".into(),
            params: vec![],
            len: r_len,
        }),
    );
    let y = l.add(
        name,
        vec![x, inv],
        in_shape,
        FloatOp::Mul(Mul {
            pairs: (0..n)
                .map(|i| (Ref(0, i as u32), Ref(1, window_of[i] as u32)))
                .collect(),
        }),
    );
    Ok(Built::Done(vec![Value::Tensor(y)]))
}
