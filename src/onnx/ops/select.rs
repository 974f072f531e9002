//! Sign-dependent selects: a comparison of an activation with zero (`GT`, `GTE`, `LT`, `LTE`)
//! is kept as a condition, and an `Iff` (ONNX `Where`, and tract's expansion of `PRelu`)
//! choosing between two branches that are each a per-element multiple of that activation
//! (`x` itself, `α·x` with constant `α`, or zero) becomes
//! `y = α₋·x + (α₊ − α₋)·ReLU(x)`, with `α₊`/`α₋` the slopes on either side of zero. Both
//! branches vanish at `x = 0`, so `>` and `≥` agree. PRelu with constant (per-channel or any
//! broadcast) slopes, LeakyRelu written as `Where(x > 0, x, α·x)`, and `Where(x > 0, x, 0)`
//! all lower this way. A select of `c·x` above zero and `a·eᕽ + b` below (tract's expansion of
//! Elu and Selu: `b = −a`) is the table function `c·elu(x; a/c)`. A select between other
//! values is reported as unsupported.

use super::super::{Built, Loader, Value};
use crate::graph::{Ref, TensorId};
use crate::ops::linear::{Linear, Row};
use crate::ops::relu::Relu;
use crate::ops::FloatOp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::logic::Iff;

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    if let Some(op) = node.op_as::<TypedBinOp>() {
        // `a OP b`: true where x is below zero for `0 > x`, `x < 0` (and the ≥/≤ forms)
        let below = match op.0.name() {
            "GT" | "GTE" => [true, false],
            "LT" | "LTE" => [false, true],
            _ => return Ok(Built::NotMine),
        };
        let (a, b) = (l.value(node, 0), l.value(node, 1));
        let (x, below) = match (&a, &b) {
            (Value::Const(c), Value::Tensor(x)) if all_zero(c) => (*x, below[0]),
            (Value::Tensor(x), Value::Const(c)) if all_zero(c) => (*x, below[1]),
            _ => return Err("only a comparison of an activation with zero is supported".into()),
        };
        let n: usize = l.shape(OutletId::new(node.id, 0))?.iter().product();
        if n != l.graph.len(x) {
            return Err("a comparison that broadcasts its activation".into());
        }
        return Ok(Built::Done(vec![Value::Cond { x, below }]));
    }
    if node.op_as::<Iff>().is_none() {
        return Ok(Built::NotMine);
    }
    let Value::Cond { x, below } = l.value(node, 0) else {
        return Err("only a select on the sign of an activation is supported".into());
    };
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    if n != l.graph.len(x) {
        return Err("a select that broadcasts".into());
    }
    if let Some(t) = elu_like(l, node, x, below, n, &shape)? {
        return Ok(Built::Done(vec![Value::Tensor(t)]));
    }
    let slopes = |i: usize| -> Result<Vec<f64>, String> {
        slopes_of(l, &l.value(node, i), x, n).ok_or_else(|| {
            "a select whose branches are not constant multiples of the compared activation"
                .to_string()
        })
    };
    let (when_true, when_false) = (slopes(1)?, slopes(2)?);
    let (neg, pos) = if below {
        (when_true, when_false)
    } else {
        (when_false, when_true)
    };
    let t = sign_linear(l, &node.name, x, shape, &neg, &pos);
    Ok(Built::Done(vec![Value::Tensor(t)]))
}

/// `y_j = neg_j·x_j` below zero and `pos_j·x_j` above, as
/// `neg·x + (pos − neg)·ReLU(x)`: a Relu node and a Linear.
pub(super) fn sign_linear(
    l: &mut Loader,
    name: &str,
    x: TensorId,
    shape: Vec<usize>,
    neg: &[f64],
    pos: &[f64],
) -> TensorId {
    let n: usize = shape.iter().product();
    let r = l.add(name, vec![x], shape.clone(), FloatOp::Relu(Relu { len: n }));
    let lin = Linear {
        rows: (0..n)
            .map(|j| Row {
                bias: 0.0,
                terms: vec![
                    (Ref(0, j as u32), neg[j]),
                    (Ref(1, j as u32), pos[j] - neg[j]),
                ],
            })
            .collect(),
        relu: false,
    };
    l.add(name, vec![x, r], shape, FloatOp::Linear(lin))
}

fn all_zero(c: &Tensor) -> bool {
    c.cast_to::<f64>()
        .ok()
        .and_then(|c| {
            c.to_plain_array_view::<f64>()
                .ok()
                .map(|v| v.iter().all(|&v| v == 0.0))
        })
        .unwrap_or(false)
}

/// The per-element `α` with `branch = α·x`, if the branch is `x`, zero, or a Linear whose
/// every row is one weight times the same element of `x` (no bias).
fn slopes_of(l: &Loader, branch: &Value, x: TensorId, n: usize) -> Option<Vec<f64>> {
    match branch {
        Value::Const(c) if all_zero(c) => Some(vec![0.0; n]),
        Value::Tensor(t) if *t == x => Some(vec![1.0; n]),
        Value::Tensor(t) => {
            let node = l.graph.producer(*t)?;
            let FloatOp::Linear(lin) = &node.op else {
                return None;
            };
            if lin.relu || lin.rows.len() != n || node.inputs.first() != Some(&x) {
                return None;
            }
            lin.rows
                .iter()
                .enumerate()
                .map(|(j, row)| match row.terms.as_slice() {
                    [(Ref(0, i), w)] if row.bias == 0.0 && *i as usize == j => Some(*w),
                    [] if row.bias == 0.0 => Some(0.0),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

/// `(a, b)` with `branch = a·exp(x) + b` for every element alike, through a chain of Linears.
fn exp_affine(l: &Loader, branch: &Value, x: TensorId, n: usize) -> Option<(f64, f64)> {
    let Value::Tensor(mut t) = branch else {
        return None;
    };
    let (mut a, mut b) = (1.0, 0.0);
    loop {
        let node = l.graph.producer(t)?;
        match &node.op {
            FloatOp::Func(f)
                if f.name == "exp" && f.params.is_empty() && node.inputs == [x] && f.len == n =>
            {
                return Some((a, b));
            }
            FloatOp::Linear(lin) if !lin.relu && lin.rows.len() == n && node.inputs.len() == 1 => {
                // every row `w·u_j + c` with one (w, c) for all j
                let (w, c) = match lin.rows.first()?.terms.as_slice() {
                    [(_, w)] => (*w, lin.rows[0].bias),
                    _ => return None,
                };
                let uniform = lin.rows.iter().enumerate().all(|(j, r)| {
                    r.bias == c && matches!(r.terms.as_slice(), [(Ref(0, i), v)] if *i as usize == j && *v == w)
                });
                if !uniform {
                    return None;
                }
                // a·(w·u + c) + b
                b += a * c;
                a *= w;
                t = node.inputs[0];
            }
            _ => return None,
        }
    }
}

/// Elu/Selu: `c·x` above zero and `a·eᕽ − a` below, as `c·elu(x; a/c)` (a table, then a
/// scaling when `c ≠ 1`).
fn elu_like(
    l: &mut Loader,
    node: &TypedNode,
    x: TensorId,
    below: bool,
    n: usize,
    shape: &[usize],
) -> Result<Option<TensorId>, String> {
    let (neg_i, pos_i) = if below { (1, 2) } else { (2, 1) };
    let Some((a, b)) = exp_affine(l, &l.value(node, neg_i), x, n) else {
        return Ok(None);
    };
    let Some(pos) = slopes_of(l, &l.value(node, pos_i), x, n) else {
        return Ok(None);
    };
    let c = pos[0];
    if pos.iter().any(|&v| v != c) || c == 0.0 || (a + b).abs() > 1e-6 * a.abs().max(1.0) {
        return Ok(None);
    }
    let e = l.add(
        &node.name,
        vec![x],
        shape.to_vec(),
        FloatOp::Func(crate::ops::func::Func {
            name: "elu".into(),
            params: vec![a / c],
            len: n,
        }),
    );
    if c == 1.0 {
        return Ok(Some(e));
    }
    let lin = Linear {
        rows: (0..n as u32)
            .map(|j| Row {
                bias: 0.0,
                terms: vec![(Ref(0, j), c)],
            })
            .collect(),
        relu: false,
    };
    Ok(Some(l.add(
        &node.name,
        vec![e],
        shape.to_vec(),
        FloatOp::Linear(lin),
    )))
}
