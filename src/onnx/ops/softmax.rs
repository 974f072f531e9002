//! Softmax and LogSoftmax over any axes, composed of core ops (no chip of their own):
//! `m = max` over each window (a proven max), `d = x − m`, `e = exp(d)` (table, `d ≤ 0`),
//! `s = Σ e` (at least 1: the max's own term), then `e · (1/s)` (reciprocal table on
//! `[1, n]`, a product) for Softmax or `d − log(s)` (log table) for LogSoftmax.

use super::super::{Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::func::Func;
use crate::ops::linear::{Linear, Row};
use crate::ops::max::Max;
use crate::ops::mul::Mul;
use crate::ops::FloatOp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let Some(op) = node.op_as::<Softmax>() else {
        return Ok(Built::NotMine);
    };
    if op.quant_output_dt.is_some() {
        return Err("quantized softmax".into());
    }
    let Value::Tensor(x) = l.value(node, 0) else {
        return Err("the input is not an activation".into());
    };
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    let (windows, window_of, reduced) = super::windows_over(l, node, &op.axes)?;
    let name = node.name.as_str();
    let m = l.add(
        name,
        vec![x],
        reduced.clone(),
        FloatOp::Max(Max {
            windows: windows.clone(),
            min: false,
        }),
    );
    // d_i = x_i − m_w(i)
    let d = l.add(
        name,
        vec![x, m],
        shape.clone(),
        FloatOp::Linear(Linear {
            rows: (0..n)
                .map(|i| Row {
                    bias: 0.0,
                    terms: vec![(Ref(0, i as u32), 1.0), (Ref(1, window_of[i] as u32), -1.0)],
                })
                .collect(),
            relu: false,
        }),
    );
    let func = |l: &mut Loader, name_: &str, input, shape: Vec<usize>, f: &str| {
        let len = shape.iter().product();
        l.add(
            name_,
            vec![input],
            shape,
            FloatOp::Func(Func {
                name: f.into(),
                params: vec![],
                len,
            }),
        )
    };
    let e = func(l, name, d, shape.clone(), "exp");
    let s = l.add(
        name,
        vec![e],
        reduced.clone(),
        FloatOp::Linear(Linear {
            rows: windows
                .iter()
                .map(|win| Row {
                    bias: 0.0,
                    terms: win.iter().map(|&r| (r, 1.0)).collect(),
                })
                .collect(),
            relu: false,
        }),
    );
    let out = match op.kind {
        SoftmaxKind::Softmax => {
            let inv = func(l, name, s, reduced, "reciprocal");
            l.add(
                name,
                vec![e, inv],
                shape,
                FloatOp::Mul(Mul {
                    pairs: (0..n)
                        .map(|i| (Ref(0, i as u32), Ref(1, window_of[i] as u32)))
                        .collect(),
                }),
            )
        }
        SoftmaxKind::LogSoftmax => {
            let log = func(l, name, s, reduced, "log");
            l.add(
                name,
                vec![d, log],
                shape,
                FloatOp::Linear(Linear {
                    rows: (0..n)
                        .map(|i| Row {
                            bias: 0.0,
                            terms: vec![
                                (Ref(0, i as u32), 1.0),
                                (Ref(1, window_of[i] as u32), -1.0),
                            ],
                        })
                        .collect(),
                    relu: false,
                }),
            )
        }
    };
    Ok(Built::Done(vec![Value::Tensor(out)]))
}
