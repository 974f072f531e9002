//! Per-op builders over tract's decluttered typed graph. Each builder takes the node and the
//! layers built so far, and either extends them or returns a typed error.

use super::{FloatLayer, OnnxError};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    binary::TypedBinOp, change_axes::AxisOp, einsum::EinSum, identity::Identity, konst::Const,
    source::TypedSource,
};

/// The state a builder sees.
struct Walk<'a> {
    model: &'a TypedModel,
    layers: Vec<FloatLayer>,
    /// The outlet carrying the current activation.
    current: Option<OutletId>,
    /// Its element count.
    width: usize,
}

type Builder = fn(&mut Walk, &TypedNode) -> Result<bool, OnnxError>;

/// The registry: each builder returns `Ok(true)` if it handled the node.
const BUILDERS: &[Builder] = &[source, konst, einsum, bin_op, axis_op, identity];

/// Walks the graph in evaluation order.
pub(super) fn walk(model: &TypedModel) -> Result<Vec<FloatLayer>, OnnxError> {
    let order = model
        .eval_order()
        .map_err(|e| unsupported_graph("(graph)", &format!("{e:#}")))?;
    let mut w = Walk {
        model,
        layers: Vec::new(),
        current: None,
        width: 0,
    };
    for id in order {
        let node = model.node(id);
        let mut handled = false;
        for b in BUILDERS {
            if b(&mut w, node)? {
                handled = true;
                break;
            }
        }
        if !handled {
            return Err(OnnxError::UnsupportedOp {
                node: node.name.clone(),
                op: node.op.name().to_string(),
            });
        }
    }
    let outputs = model
        .output_outlets()
        .map_err(|e| unsupported_graph("(graph)", &format!("{e:#}")))?;
    if outputs.len() != 1 || Some(outputs[0]) != w.current {
        return Err(unsupported_graph(
            "(outputs)",
            "the model must have one output: the end of a single chain of layers",
        ));
    }
    Ok(w.layers)
}

fn unsupported_graph(node: &str, msg: &str) -> OnnxError {
    OnnxError::Unsupported {
        node: node.to_string(),
        op: "graph".into(),
        msg: msg.to_string(),
    }
}

fn unsupported(node: &TypedNode, msg: impl Into<String>) -> OnnxError {
    OnnxError::Unsupported {
        node: node.name.clone(),
        op: node.op.name().to_string(),
        msg: msg.into(),
    }
}

impl Walk<'_> {
    fn konst(&self, outlet: OutletId) -> Option<Arc<Tensor>> {
        self.model.outlet_fact(outlet).ok()?.konst.clone()
    }

    /// Splits a node's inputs into the current activation and constants; errors if the node
    /// does not consume the current activation exactly once.
    fn operands(&self, node: &TypedNode) -> Result<Vec<Option<Arc<Tensor>>>, OnnxError> {
        let mut activations = 0;
        let consts = node
            .inputs
            .iter()
            .map(|&o| {
                if Some(o) == self.current {
                    activations += 1;
                    Ok(None)
                } else {
                    self.konst(o).map(Some).ok_or_else(|| {
                        unsupported(node, "an input is neither the previous layer's output nor a constant (branching graphs are not supported)")
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if activations != 1 {
            return Err(unsupported(node, "expected exactly one non-constant input"));
        }
        Ok(consts)
    }

    fn advance(&mut self, node: &TypedNode, width: usize) {
        self.current = Some(OutletId::new(node.id, 0));
        self.width = width;
    }
}

fn floats(node: &TypedNode, t: &Tensor) -> Result<Vec<f32>, OnnxError> {
    let t = t
        .cast_to::<f32>()
        .map_err(|e| unsupported(node, format!("constant is not numeric: {e}")))?;
    let v: Vec<f32> = t
        .to_plain_array_view::<f32>()
        .map_err(|e| unsupported(node, format!("{e}")))?
        .iter()
        .copied()
        .collect();
    if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
        return Err(unsupported(
            node,
            format!("constant holds {bad}: weights must be finite"),
        ));
    }
    Ok(v)
}

fn source(w: &mut Walk, node: &TypedNode) -> Result<bool, OnnxError> {
    if node.op_as::<TypedSource>().is_none() {
        return Ok(false);
    }
    let len = w
        .model
        .outlet_fact(OutletId::new(node.id, 0))
        .ok()
        .and_then(|f| f.shape.as_concrete().map(|s| s.iter().product()));
    w.advance(node, len.unwrap_or(0));
    Ok(true)
}

fn konst(_: &mut Walk, node: &TypedNode) -> Result<bool, OnnxError> {
    Ok(node.op_as::<Const>().is_some())
}

fn identity(w: &mut Walk, node: &TypedNode) -> Result<bool, OnnxError> {
    if node.op_as::<Identity>().is_none() {
        return Ok(false);
    }
    w.operands(node)?;
    w.advance(node, w.width);
    Ok(true)
}

/// Flatten/Reshape/Squeeze/Unsqueeze: no-ops on the flat (row-major) batch-1 vector. A move
/// (transpose) of an axis longer than 1 would reorder it: unsupported.
fn axis_op(w: &mut Walk, node: &TypedNode) -> Result<bool, OnnxError> {
    let Some(op) = node.op_as::<AxisOp>() else {
        return Ok(false);
    };
    if let AxisOp::Move(from, _) = op {
        let len = node
            .inputs
            .first()
            .and_then(|&i| w.model.outlet_fact(i).ok())
            .and_then(|f| f.shape.as_concrete().map(|s| s.get(*from).copied()));
        if len != Some(Some(1)) {
            return Err(unsupported(
                node,
                "transposing the activation is not supported",
            ));
        }
    }
    w.operands(node)?;
    w.advance(node, w.width);
    Ok(true)
}

/// Gemm / MatMul: an EinSum of the activation with a constant 2-D weight.
fn einsum(w: &mut Walk, node: &TypedNode) -> Result<bool, OnnxError> {
    let Some(op) = node.op_as::<EinSum>() else {
        return Ok(false);
    };
    if op.q_params.is_some() {
        return Err(unsupported(node, "quantized matmul"));
    }
    let consts = w.operands(node)?;
    let (slot, weight) = match consts
        .iter()
        .enumerate()
        .find_map(|(i, c)| c.clone().map(|c| (i, c)))
    {
        Some(found) if consts.len() == 2 => found,
        _ => {
            return Err(unsupported(
                node,
                "the weight must be a constant 2-D tensor",
            ))
        }
    };
    let act_slot = 1 - slot;
    // Contracted axes appear in both inputs and not in the output (tract may fold a Flatten
    // into the weight, contracting several); the output axis appears in the weight and the
    // output only. Every other axis of either input must have size 1 (batch).
    let act_shape: Vec<usize> = w
        .model
        .outlet_fact(node.inputs[act_slot])
        .ok()
        .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
        .ok_or_else(|| unsupported(node, "input shape is not concrete"))?;
    let axes: Vec<_> = op.axes.iter_all_axes().collect();
    let contracted: Vec<_> = axes
        .iter()
        .filter(|a| {
            !a.inputs[slot].is_empty() && !a.inputs[act_slot].is_empty() && a.outputs[0].is_empty()
        })
        .collect();
    let produced = axes.iter().find(|a| {
        !a.inputs[slot].is_empty() && a.inputs[act_slot].is_empty() && !a.outputs[0].is_empty()
    });
    if contracted.is_empty() {
        return Err(unsupported(
            node,
            "no contracted axis between input and weight",
        ));
    }
    let shape = weight.shape();
    let n_pos = produced.map(|a| a.inputs[slot][0]);
    let w_used: Vec<usize> = contracted
        .iter()
        .map(|a| a.inputs[slot][0])
        .chain(n_pos)
        .collect();
    let a_used: Vec<usize> = contracted.iter().map(|a| a.inputs[act_slot][0]).collect();
    if shape
        .iter()
        .enumerate()
        .any(|(p, &d)| !w_used.contains(&p) && d != 1)
        || act_shape
            .iter()
            .enumerate()
            .any(|(p, &d)| !a_used.contains(&p) && d != 1)
    {
        return Err(unsupported(node, format!("weight {shape:?} on input {act_shape:?}: only a batch-1 matrix-vector product is supported")));
    }
    let w_strides: Vec<usize> = (0..shape.len())
        .map(|p| shape[p + 1..].iter().product())
        .collect();
    let n_in: usize = act_shape.iter().product();
    let n_out = n_pos.map_or(1, |p| shape[p]);
    if n_in != w.width {
        return Err(unsupported(
            node,
            format!(
                "weight expects {n_in} inputs, the previous layer gives {}",
                w.width
            ),
        ));
    }
    let flat = floats(node, &weight)?;
    // Offset in the weight of activation element i (row-major over the activation's shape).
    let in_offset = |i: usize| {
        let mut rest = i;
        let mut offset = 0;
        for p in (0..act_shape.len()).rev() {
            let coord = rest % act_shape[p];
            rest /= act_shape[p];
            if let Some(c) = contracted.iter().find(|a| a.inputs[act_slot][0] == p) {
                offset += coord * w_strides[c.inputs[slot][0]];
            }
        }
        offset
    };
    let sn = n_pos.map_or(0, |p| w_strides[p]);
    let weights = (0..n_out)
        .map(|j| (0..n_in).map(|i| flat[in_offset(i) + j * sn]).collect())
        .collect();
    w.layers.push(FloatLayer::Dense {
        node: node.name.clone(),
        weights,
        bias: vec![0.0; n_out],
    });
    w.advance(node, n_out);
    Ok(true)
}

/// `Add` of a constant after a dense layer (its bias), `Mul` by a constant scalar after a dense
/// layer (Gemm's alpha), and `Max` with 0 (Relu).
fn bin_op(w: &mut Walk, node: &TypedNode) -> Result<bool, OnnxError> {
    let Some(op) = node.op_as::<TypedBinOp>() else {
        return Ok(false);
    };
    let name = op.0.name().to_string();
    let consts = w.operands(node)?;
    let c = consts
        .iter()
        .flatten()
        .next()
        .cloned()
        .ok_or_else(|| unsupported(node, "needs a constant operand"))?;
    let values = floats(node, &c)?;
    let width = w.width;
    match (name.as_str(), w.layers.last_mut()) {
        ("Max", _) if values.iter().all(|&v| v == 0.0) => {
            w.layers.push(FloatLayer::Relu {
                node: node.name.clone(),
            });
        }
        ("Add", Some(FloatLayer::Dense { bias, .. }))
            if values.len() == width || values.len() == 1 =>
        {
            for (j, b) in bias.iter_mut().enumerate() {
                *b += values[if values.len() == 1 { 0 } else { j }];
            }
        }
        ("Mul", Some(FloatLayer::Dense { weights, bias, .. })) if values.len() == 1 => {
            weights.iter_mut().flatten().for_each(|x| *x *= values[0]);
            bias.iter_mut().for_each(|x| *x *= values[0]);
        }
        _ => {
            return Err(OnnxError::UnsupportedOp {
                node: node.name.clone(),
                op: format!("{name} (with this operand)"),
            });
        }
    }
    w.advance(node, width);
    Ok(true)
}
