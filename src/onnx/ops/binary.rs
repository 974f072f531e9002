//! Element-wise binary ops with ONNX broadcasting: Add and Sub (of tensors or constants), Mul
//! and Div by constants, all Linear (operands at different scales are aligned exactly by the
//! Linear's weight scales); Mul of two tensors (a product node); Pow with a small integer
//! constant exponent; Max and Min of two tensors (a Max node); Max/Min with a constant
//! (Relu when the constant is 0, Clip's bounds otherwise): `max(x, c) = c + ReLU(x − c)`,
//! `min(x, c) = c − ReLU(c − x)`.

use super::super::{probe, Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::linear::{Linear, Row};
use crate::ops::mul::Mul;
use crate::ops::relu::Relu;
use crate::ops::FloatOp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::math::Add;

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let Some(op) = node.op_as::<TypedBinOp>() else {
        return Ok(Built::NotMine);
    };
    let vals: Vec<Value> = (0..node.inputs.len()).map(|i| l.value(node, i)).collect();
    let acts = vals
        .iter()
        .filter(|v| matches!(v, Value::Tensor(_)))
        .count();
    let divisor_const = matches!(vals.get(1), Some(Value::Const(_)));
    match op.0.name() {
        "Add" | "Sub" => l.affine(node),
        "Mul" if acts == 1 => l.affine(node),
        "Div" if divisor_const => l.affine(node),
        "Max" | "Min" => max_min(l, node, op.0.name() == "Min", &vals),
        "Mul" => product(l, node),
        "Pow" => match vals.get(1) {
            Some(Value::Const(c)) => {
                let e = c.cast_to_scalar::<f64>().map_err(|e| e.to_string())?;
                let Value::Tensor(x) = l.value(node, 0) else {
                    return Err("the base is not an activation".into());
                };
                let shape = l.shape(OutletId::new(node.id, 0))?;
                if c.len() != 1
                    || l.graph.shape(x).iter().product::<usize>() != shape.iter().product::<usize>()
                {
                    return Err("a broadcast exponent".into());
                }
                super::unary::power(l, &node.name, x, shape, e)
            }
            // a constant base: b^x, a table function
            Some(Value::Tensor(x)) => match vals.first() {
                Some(Value::Const(c)) if c.len() == 1 => {
                    let b = c.cast_to_scalar::<f64>().map_err(|e| e.to_string())?;
                    if !(b > 0.0 && b.is_finite()) {
                        return Err(format!(
                            "Pow with base {b}: only a positive constant base is supported"
                        ));
                    }
                    let shape = l.shape(OutletId::new(node.id, 0))?;
                    let len: usize = shape.iter().product();
                    if l.graph.len(*x) != len {
                        return Err("a broadcast exponent".into());
                    }
                    let t = l.add(
                        &node.name,
                        vec![*x],
                        shape,
                        FloatOp::Func(crate::ops::func::Func {
                            name: "exp_base".into(),
                            params: vec![b],
                            len,
                        }),
                    );
                    Ok(Built::Done(vec![Value::Tensor(t)]))
                }
                Some(Value::Const(_)) => {
                    Err("Pow with a non-scalar constant base is not supported".into())
                }
                _ => Err("Pow of two activations is not supported".into()),
            },
            _ => Err("Pow with a non-constant exponent is not supported".into()),
        },
        "Div" => Err("division by an activation is not supported yet".into()),
        _ => Ok(Built::NotMine),
    }
}

/// A product of two activations (with broadcasting): the pairs are read off an Add with the
/// same operands.
fn product(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let add = TypedBinOp(Box::new(Add), None);
    let (args, acts) = l.args(node)?;
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    let sum = probe::affine(&add, &args, n, true).map_err(|e| format!("{e:#}"))?;
    let pairs = sum
        .rows
        .iter()
        .map(|r| match r.terms.as_slice() {
            [(a, _), (b, _)] => Ok((*a, *b)),
            _ => Err("cannot pair the factors".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let t = l.add(&node.name, acts, shape, FloatOp::Mul(Mul { pairs }));
    Ok(Built::Done(vec![Value::Tensor(t)]))
}

fn max_min(l: &mut Loader, node: &TypedNode, min: bool, vals: &[Value]) -> Result<Built, String> {
    let add = TypedBinOp(Box::new(Add), None);
    let konst = vals.iter().find_map(|v| match v {
        Value::Const(c) => Some(c.clone()),
        _ => None,
    });
    let Some(c) = konst else {
        return super::pool::windows(l, node, &add, min);
    };
    let (mut args, acts) = l.args(node)?;
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    let x = *acts.first().ok_or("no activation input")?;
    let neg: Vec<f64> = c
        .cast_to::<f64>()
        .map_err(|e| e.to_string())?
        .to_plain_array_view::<f64>()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|v| -v)
        .collect();
    if !min && neg.iter().all(|&v| v == 0.0) && n == l.graph.len(x) {
        let t = l.add(&node.name, vec![x], shape, FloatOp::Relu(Relu { len: n }));
        return Ok(Built::Done(vec![Value::Tensor(t)]));
    }
    let neg_c = Tensor::from_shape(c.shape(), &neg).map_err(|e| e.to_string())?;
    for a in &mut args {
        if let probe::Arg::Const(_) = a {
            *a = probe::Arg::Const(Arc::new(neg_c.clone()));
        }
    }
    // x − c (max) or c − x (min), then ReLU, then c ± r
    let mut diff = probe::affine(&add, &args, n, true).map_err(|e| format!("{e:#}"))?;
    if min {
        for r in &mut diff.rows {
            r.bias = -r.bias;
            r.terms.iter_mut().for_each(|t| t.1 = -t.1);
        }
    }
    let cs: Vec<f64> = diff
        .rows
        .iter()
        .map(|r| if min { r.bias } else { -r.bias })
        .collect();
    let sign = if min { -1.0 } else { 1.0 };
    let d = l.add(&node.name, vec![x], shape.clone(), FloatOp::Linear(diff));
    let r = l.add(
        &node.name,
        vec![d],
        shape.clone(),
        FloatOp::Relu(Relu { len: n }),
    );
    let back = Linear {
        rows: cs
            .iter()
            .enumerate()
            .map(|(j, &c)| Row {
                bias: c,
                terms: vec![(Ref(0, j as u32), sign)],
            })
            .collect(),
        relu: false,
    };
    let t = l.add(&node.name, vec![r], shape, FloatOp::Linear(back));
    Ok(Built::Done(vec![Value::Tensor(t)]))
}
