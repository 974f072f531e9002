//! Element-wise unary ops: Neg (a Linear), LeakyRelu with a constant slope
//! (`α·x + (1 − α)·ReLU(x)`), Abs (`2·ReLU(x) − x`), Square and Pow with an integer exponent
//! 1..=8 (a chain of products); every function of the table registry (Sigmoid, Tanh, Exp, Log,
//! Sqrt, Reciprocal, Erf, GELU, HardSwish, Sin, Cos, Tan, Atan, Sinh, Cosh, Asinh, Sign, real
//! powers) as a Func node.

use super::super::{Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::func::Func;

use crate::ops::mul::Mul;

use crate::ops::FloatOp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math::PowConst;
use tract_onnx::tract_core::ops::nn::{GeluApproximate, LeakyRelu};

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let Some(op) = node.op_as::<ElementWiseOp>() else {
        return Ok(Built::NotMine);
    };
    let name = op.0.name();
    if name == "Square" || op.0.downcast_ref::<PowConst>().is_some() {
        let e =
            op.0.downcast_ref::<PowConst>()
                .map_or(2.0, |p| f64::from(p.exponent));
        let Value::Tensor(x) = l.value(node, 0) else {
            return Err("the input is not an activation".into());
        };
        let shape = l.shape(OutletId::new(node.id, 0))?;
        return power(l, &node.name, x, shape, e);
    }
    if let Some((func, params)) = table_function(op) {
        let Value::Tensor(x) = l.value(node, 0) else {
            return Err("the input is not an activation".into());
        };
        let shape = l.shape(OutletId::new(node.id, 0))?;
        let len = shape.iter().product();
        let t = l.add(
            &node.name,
            vec![x],
            shape,
            FloatOp::Func(Func {
                name: func.into(),
                params,
                len,
            }),
        );
        return Ok(Built::Done(vec![Value::Tensor(t)]));
    }
    // slopes below and above zero
    let (neg, pos) = if let Some(lr) = op.0.downcast_ref::<LeakyRelu>() {
        (f64::from(lr.alpha), 1.0)
    } else {
        match name.as_str() {
            "Neg" => return l.affine(node),
            "Abs" => (-1.0, 1.0),
            _ => return Ok(Built::NotMine),
        }
    };
    let Value::Tensor(x) = l.value(node, 0) else {
        return Err("the input is not an activation".into());
    };
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    let t = super::select::sign_linear(l, &node.name, x, shape, &vec![neg; n], &vec![pos; n]);
    Ok(Built::Done(vec![Value::Tensor(t)]))
}

/// Largest integer exponent lowered to a chain of products.
const MAX_POWER: f64 = 8.0;

/// `x^e` for an integer `e` in `1..=8`, as products (`x^2 = x·x`, `x^3 = x^2·x`, …).
pub(super) fn power(
    l: &mut Loader,
    name: &str,
    x: usize,
    shape: Vec<usize>,
    e: f64,
) -> Result<Built, String> {
    if e.fract() != 0.0 || !(1.0..=MAX_POWER).contains(&e) {
        return Err(format!(
            "exponent {e}: only integer exponents 1..={MAX_POWER} are supported (others need a lookup table)"
        ));
    }
    let n = shape.iter().product::<usize>() as u32;
    let mut acc = x;
    for _ in 1..e as u32 {
        let pairs = (0..n).map(|i| (Ref(0, i), Ref(1, i))).collect();
        acc = l.add(
            name,
            vec![acc, x],
            shape.clone(),
            FloatOp::Mul(Mul { pairs }),
        );
    }
    if acc == x {
        // x^1: the same values under the declared shape
        let src = (0..n)
            .map(|i| crate::ops::gather::Src::Elem(Ref(0, i)))
            .collect();
        acc = l.add(
            name,
            vec![x],
            shape,
            FloatOp::Gather(crate::ops::gather::Gather { src }),
        );
    }
    Ok(Built::Done(vec![Value::Tensor(acc)]))
}

/// The registry function (and its parameters) a tract element-wise op computes, if any.
fn table_function(op: &ElementWiseOp) -> Option<(&'static str, Vec<f64>)> {
    if let Some(p) = op.0.downcast_ref::<PowConst>() {
        // integer exponents are products; any other real exponent is a table on x > 0
        let e = f64::from(p.exponent);
        return (e.fract() != 0.0 || !(1.0..=MAX_POWER).contains(&e)).then(|| ("pow", vec![e]));
    }
    if op.0.downcast_ref::<GeluApproximate>().is_some() {
        return Some(("gelu_tanh", vec![]));
    }
    let f = match op.0.name().as_str() {
        "Sigmoid" => "sigmoid",
        "Tanh" => "tanh",
        "Exp" => "exp",
        "Ln" => "log",
        "Sqrt" => "sqrt",
        "Rsqrt" => "rsqrt",
        "Recip" => "reciprocal",
        "Erf" => "erf",
        "GeluExact" => "gelu",
        "HardSwish" => "hard_swish",
        "Sin" => "sin",
        "Cos" => "cos",
        "Tan" => "tan",
        "Atan" => "atan",
        "Sinh" => "sinh",
        "Cosh" => "cosh",
        "Asinh" => "asinh",
        "Sign" => "sign",
        _ => return None,
    };
    Some((f, vec![]))
}
