//! Element-wise unary ops that need no lookup table: Neg (a Linear), LeakyRelu with a constant
//! slope (`α·x + (1 − α)·ReLU(x)`), Abs (`2·ReLU(x) − x`).

use super::super::{Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::linear::{Linear, Row};
use crate::ops::relu::Relu;
use crate::ops::FloatOp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::LeakyRelu;

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    let Some(op) = node.op_as::<ElementWiseOp>() else {
        return Ok(Built::NotMine);
    };
    let name = op.0.name();
    // (weight of x, weight of ReLU(x)) in the result
    let (wx, wr) = if let Some(lr) = op.0.downcast_ref::<LeakyRelu>() {
        let a = f64::from(lr.alpha);
        (a, 1.0 - a)
    } else {
        match name.as_str() {
            "Neg" => return l.affine(node),
            "Abs" => (-1.0, 2.0),
            _ => return Ok(Built::NotMine),
        }
    };
    let Value::Tensor(x) = l.value(node, 0) else {
        return Err("the input is not an activation".into());
    };
    let shape = l.shape(OutletId::new(node.id, 0))?;
    let n: usize = shape.iter().product();
    let r = l.add(
        &node.name,
        vec![x],
        shape.clone(),
        FloatOp::Relu(Relu { len: n }),
    );
    let lin = Linear {
        rows: (0..n as u32)
            .map(|j| Row {
                bias: 0.0,
                terms: vec![(Ref(0, j), wx), (Ref(1, j), wr)],
            })
            .collect(),
        relu: false,
    };
    let t = l.add(&node.name, vec![x, r], shape, FloatOp::Linear(lin));
    Ok(Built::Done(vec![Value::Tensor(t)]))
}
