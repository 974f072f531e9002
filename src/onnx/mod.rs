//! Load stage: ONNX (via tract, decluttered, never "optimized") → the float graph of core ops
//! ([`crate::ops`]).
//!
//! tract's decluttered typed graph is not ONNX's op list: Gemm/MatMul become `EinSum` (bias as a
//! following `Add` of a constant), Relu becomes `Max` with a constant 0, BatchNormalization is
//! folded into the preceding Conv or becomes `Mul`/`Add` by constants, GlobalAveragePool becomes
//! a sum and a multiply, Flatten/Reshape/Squeeze become axis ops. [`ops`] holds one builder per
//! op family (one file each); they lower tract nodes into core ops, reading the semantics off
//! tract itself where they can ([`probe`]). Nodes without a builder are collected and reported
//! all at once.

mod ops;
pub(crate) mod probe;

use crate::graph::{Graph, Input, Node, TensorId};
use crate::ops::gather::{Gather, Src};
use crate::ops::{FloatGraph, FloatOp};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// Errors of the load stage.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// Unreadable file or not an ONNX model.
    #[error("{path}: cannot read as an ONNX model: {msg}")]
    Read {
        /// The file.
        path: PathBuf,
        /// tract's message.
        msg: String,
    },
    /// tract could not type or declutter the graph.
    #[error("{path}: cannot analyse the graph: {msg}")]
    Analyse {
        /// The file.
        path: PathBuf,
        /// tract's message.
        msg: String,
    },
    /// Ops zkinfer does not support (every such node of the model).
    #[error("unsupported {}: {}", if .0.len() == 1 { "op" } else { "ops" }, list(.0))]
    UnsupportedOps(Vec<Unsupported>),
}

/// One node zkinfer cannot prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// Node name.
    pub node: String,
    /// Op type (tract's name for it).
    pub op: String,
    /// Why, when the op is known but this use of it is not.
    pub msg: Option<String>,
}

fn list(items: &[Unsupported]) -> String {
    items
        .iter()
        .map(|u| match &u.msg {
            Some(m) => format!("`{}` at node `{}` ({m})", u.op, u.node),
            None => format!("`{}` at node `{}`", u.op, u.node),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl OnnxError {
    /// The unsupported nodes, if that is the error.
    pub fn unsupported(&self) -> &[Unsupported] {
        match self {
            OnnxError::UnsupportedOps(v) => v,
            _ => &[],
        }
    }
}

/// Largest tensor the loader accepts (elements).
pub const MAX_ELEMENTS: usize = 1 << 22;

/// What an outlet of the tract graph is to zkinfer.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// An activation tensor of the float graph.
    Tensor(TensorId),
    /// A constant.
    Const(Arc<Tensor>),
    /// Produced by an unsupported node (already reported).
    Poisoned,
    /// A comparison of activation `x` with zero: true where `x < 0` (`below`) or `x > 0`;
    /// only a select reads it (`ops::select`).
    Cond {
        /// The compared activation.
        x: TensorId,
        /// True below zero (else above).
        below: bool,
    },
}

/// The state builders see: the tract model, the graph built so far, and what each outlet is.
pub(crate) struct Loader<'a> {
    model: &'a TypedModel,
    graph: FloatGraph,
    values: HashMap<OutletId, Value>,
}

/// A builder's answer.
pub(crate) enum Built {
    /// Not this builder's op.
    NotMine,
    /// Handled: what the node's outputs are.
    Done(Vec<Value>),
}

impl Loader<'_> {
    /// The concrete shape of an outlet (at most [`MAX_ELEMENTS`] elements).
    pub(crate) fn shape(&self, o: OutletId) -> Result<Vec<usize>, String> {
        let shape = self
            .model
            .outlet_fact(o)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
            .ok_or_else(|| "a shape is not concrete".to_string())?;
        match crate::artifact::numel(&shape) {
            Some(n) if n <= MAX_ELEMENTS => Ok(shape),
            _ => Err(format!(
                "a tensor of shape {shape:?} is larger than zkinfer proves ({MAX_ELEMENTS} elements)"
            )),
        }
    }

    /// What input `i` of `node` is.
    pub(crate) fn value(&self, node: &TypedNode, i: usize) -> Value {
        let o = node.inputs[i];
        if let Some(k) = self.model.outlet_fact(o).ok().and_then(|f| f.konst.clone()) {
            return Value::Const(k);
        }
        self.values.get(&o).cloned().unwrap_or(Value::Poisoned)
    }

    /// Adds a node producing a tensor of `shape`; returns its tensor id.
    pub(crate) fn add(
        &mut self,
        name: &str,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
        op: FloatOp,
    ) -> TensorId {
        self.graph.nodes.push(Node {
            name: name.to_string(),
            inputs,
            shape,
            op,
        });
        self.graph.n_tensors() - 1
    }

    /// The probe arguments and activation tensor ids of `node`'s inputs.
    pub(crate) fn args(
        &self,
        node: &TypedNode,
    ) -> Result<(Vec<probe::Arg>, Vec<TensorId>), String> {
        let mut args = Vec::new();
        let mut acts = Vec::new();
        for i in 0..node.inputs.len() {
            match self.value(node, i) {
                Value::Const(c) => args.push(probe::Arg::Const(c)),
                Value::Tensor(t) => {
                    // tract's shape for this outlet: a reshape passes its input tensor through
                    args.push(probe::Arg::Act(self.shape(node.inputs[i])?));
                    acts.push(t);
                }
                Value::Poisoned => return Err("follows an unsupported node".into()),
                Value::Cond { .. } => {
                    return Err("a comparison result used other than by a select".into())
                }
            }
        }
        Ok((args, acts))
    }

    /// Lowers an op that is affine in its activations into one Linear node, or into a Gather
    /// (free in the circuit) when every output is a plain copy of one input element or a
    /// constant (a nearest-neighbour Resize, a multiply by 1). `structural` reads each output's
    /// support with the constants replaced by ones (weights); pass false when the constants
    /// are not weights (a Resize's scales).
    pub(crate) fn affine_with(
        &mut self,
        node: &TypedNode,
        structural: bool,
    ) -> Result<Built, String> {
        let (args, acts) = self.args(node)?;
        let shape = self.shape(OutletId::new(node.id, 0))?;
        let n: usize = shape.iter().product();
        let lin = probe::affine(node.op.as_ref(), &args, n, structural)
            .map_err(|e| format!("{e:#}"))?
            .normalized();
        Ok(self.add_affine(node, acts, shape, lin))
    }

    /// Adds an affine node: a Gather where every output is a constant or a copy of one input
    /// element, else a Linear.
    pub(crate) fn add_affine(
        &mut self,
        node: &TypedNode,
        acts: Vec<TensorId>,
        shape: Vec<usize>,
        lin: crate::ops::linear::Linear<f64>,
    ) -> Built {
        let copy: Option<Vec<Src<f64>>> = lin
            .rows
            .iter()
            .map(|r| match r.terms.as_slice() {
                [] => Some(Src::Const(r.bias)),
                [(e, w)] if *w == 1.0 && r.bias == 0.0 => Some(Src::Elem(*e)),
                _ => None,
            })
            .collect();
        let op = match copy {
            Some(src) if !acts.is_empty() => FloatOp::Gather(Gather { src }),
            _ => FloatOp::Linear(lin),
        };
        let t = self.add(&node.name, acts, shape, op);
        Built::Done(vec![Value::Tensor(t)])
    }

    /// [`Loader::affine_with`] for ops whose constants are weights.
    pub(crate) fn affine(&mut self, node: &TypedNode) -> Result<Built, String> {
        self.affine_with(node, true)
    }

    /// Lowers an op that only moves elements into one Gather node; `data` are the inputs moved.
    pub(crate) fn copy(
        &mut self,
        node: &TypedNode,
        op: &dyn TypedOp,
        data: &[usize],
        pad: f64,
    ) -> Result<Built, String> {
        let (args, _) = self.args(node)?;
        let mut acts = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if let probe::Arg::Act(_) = a {
                if !data.contains(&i) {
                    return Err("a non-data input (indices, shape) is not a constant".into());
                }
                if let Value::Tensor(t) = self.value(node, i) {
                    acts.push(t);
                }
            }
        }
        let src = probe::indices(op, &args, data, pad).map_err(|e| format!("{e:#}"))?;
        let shape = self.shape(OutletId::new(node.id, 0))?;
        if acts.is_empty() {
            return Err("copies only constants".into());
        }
        let t = self.add(
            &node.name,
            acts,
            shape,
            FloatOp::Gather(crate::ops::gather::Gather { src }),
        );
        Ok(Built::Done(vec![Value::Tensor(t)]))
    }
}

fn read_err(path: &Path) -> impl Fn(TractError) -> OnnxError + '_ {
    move |e| OnnxError::Read {
        path: path.to_path_buf(),
        msg: format!("{e:#}"),
    }
}

fn analyse_err(path: &Path) -> impl Fn(TractError) -> OnnxError + '_ {
    move |e| OnnxError::Analyse {
        path: path.to_path_buf(),
        msg: format!("{e:#}"),
    }
}

/// tract's ONNX parser, with the op parsers zkinfer overrides.
fn parser() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("Celu", celu);
    onnx
}

/// Celu: tract 0.23's expansion drops the `α·` in `min(0, α·(exp(x/α) − 1))`, which only
/// matters for `α ≠ 1`; refuse those rather than prove the wrong function.
fn celu(
    _: &tract_onnx::model::ParsingContext,
    node: &tract_onnx::pb::NodeProto,
) -> TractResult<(
    Box<dyn tract_onnx::tract_hir::infer::InferenceOp>,
    Vec<String>,
)> {
    let alpha: f32 = node.get_attr_opt("alpha")?.unwrap_or(1.0);
    if alpha != 1.0 {
        return Err(tract_onnx::tract_hir::internal::format_err!(
            "node `{}`: Celu with alpha = {alpha} is not supported (only alpha = 1)",
            node.name
        ));
    }
    Ok((
        tract_onnx::tract_hir::ops::expandable::expand(
            tract_onnx::tract_hir::ops::activations::Celu(alpha),
        ),
        vec![],
    ))
}

/// Loads an ONNX file as a float graph of core ops.
pub fn load_onnx(path: &Path) -> Result<FloatGraph, OnnxError> {
    quietly_guarded(path, || {
        let model = parser().model_for_path(path).map_err(read_err(path))?;
        lower(model, path)
    })
}

/// Loads an in-memory ONNX model (`what` names it in errors).
pub fn load_proto(proto: &tract_onnx::pb::ModelProto, what: &str) -> Result<FloatGraph, OnnxError> {
    let path = Path::new(what);
    quietly_guarded(path, || {
        let model = parser()
            .model_for_proto_model(proto)
            .map_err(read_err(path))?;
        lower(model, path)
    })
}

/// Runs `f`, turning a panic inside tract into a read error (fuzzing found one: a graph
/// output naming no tensor panics in tract-onnx 0.23.9's model builder). The panic hook is
/// silenced meanwhile, so the user sees the error, not a panic message.
fn quietly_guarded(
    path: &Path,
    f: impl FnOnce() -> Result<FloatGraph, OnnxError>,
) -> Result<FloatGraph, OnnxError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "tract failed on it".into());
        Err(OnnxError::Read {
            path: path.to_path_buf(),
            msg: format!("malformed model ({why})"),
        })
    })
}

/// Fixes the inputs' shapes, declutters, and lowers every node.
fn lower(mut model: InferenceModel, path: &Path) -> Result<FloatGraph, OnnxError> {
    let n_inputs = model.input_outlets().map_err(read_err(path))?.len();
    let mut inputs = Vec::with_capacity(n_inputs);
    for i in 0..n_inputs {
        // Symbolic (batch) dimensions become 1; the rest come from the model.
        let declared = model.input_fact(i).map_err(read_err(path))?.clone();
        let shape: Vec<usize> = declared
            .shape
            .dims()
            .map(|d| {
                d.concretize()
                    .and_then(|t| t.to_i64().ok())
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(1)
            })
            .collect();
        if crate::artifact::numel(&shape).is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(OnnxError::Read {
                path: path.to_path_buf(),
                msg: format!("input {i} has shape {shape:?}: larger than zkinfer proves ({MAX_ELEMENTS} elements)"),
            });
        }
        let dt = declared
            .datum_type
            .concretize()
            .unwrap_or(f32::datum_type());
        if !dt.is_float() {
            return Err(OnnxError::Read {
                path: path.to_path_buf(),
                msg: format!("input {i} has type {dt:?}: zkinfer proves models with float inputs"),
            });
        }
        model
            .set_input_fact(i, f32::fact(&shape).into())
            .map_err(analyse_err(path))?;
        let outlet = model.input_outlets().map_err(read_err(path))?[i];
        inputs.push(Input {
            name: model.node(outlet.node).name.clone(),
            shape,
        });
    }
    let typed = model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(analyse_err(path))?;
    let mut graph = walk(&typed, inputs).map_err(|e| match e {
        WalkError::Unsupported(v) => OnnxError::UnsupportedOps(v),
        WalkError::Tract(e) => analyse_err(path)(e),
    })?;
    crate::ops::linear::fuse_linear(&mut graph);
    crate::ops::linear::fuse_relu(&mut graph);
    Ok(graph)
}

enum WalkError {
    Unsupported(Vec<Unsupported>),
    Tract(TractError),
}

/// Walks the decluttered graph in evaluation order, lowering every node.
fn walk(model: &TypedModel, inputs: Vec<Input>) -> Result<FloatGraph, WalkError> {
    let order = model.eval_order().map_err(WalkError::Tract)?;
    let sources = model.input_outlets().map_err(WalkError::Tract)?.to_vec();
    let mut l = Loader {
        model,
        graph: Graph {
            inputs,
            nodes: vec![],
            outputs: vec![],
            output_names: vec![],
        },
        values: HashMap::new(),
    };
    for (i, o) in sources.iter().enumerate() {
        l.values.insert(*o, Value::Tensor(i));
    }
    let mut unsupported = Vec::new();
    for id in order {
        let node = model.node(id);
        if sources.iter().any(|o| o.node == id) {
            continue;
        }
        let result = ops::build(&mut l, node);
        let outs = match result {
            Ok(Built::Done(v)) => v,
            Ok(Built::NotMine) => {
                unsupported.push(Unsupported {
                    node: node.name.clone(),
                    op: node.op.name().to_string(),
                    msg: None,
                });
                vec![Value::Poisoned; node.outputs.len()]
            }
            Err(msg) => {
                // a node after an unsupported one is not reported again
                let downstream =
                    (0..node.inputs.len()).any(|i| matches!(l.value(node, i), Value::Poisoned));
                if !downstream {
                    unsupported.push(Unsupported {
                        node: node.name.clone(),
                        op: node.op.name().to_string(),
                        msg: Some(msg),
                    });
                }
                vec![Value::Poisoned; node.outputs.len()]
            }
        };
        for (slot, v) in outs.into_iter().enumerate() {
            l.values.insert(OutletId::new(id, slot), v);
        }
    }
    let outputs = model.output_outlets().map_err(WalkError::Tract)?.to_vec();
    for o in outputs {
        let t = match l.values.get(&o).cloned() {
            Some(Value::Tensor(t)) => t,
            _ if !unsupported.is_empty() => continue,
            _ => {
                unsupported.push(Unsupported {
                    node: model.node(o.node).name.clone(),
                    op: "output".into(),
                    msg: Some("the output is a constant: nothing to prove".into()),
                });
                continue;
            }
        };
        // a reshape passed its input through: give the output its declared shape
        let t = match l.shape(o) {
            Ok(shape) if shape != l.graph.shape(t) => {
                let n = l.graph.len(t) as u32;
                let src = (0..n)
                    .map(|i| crate::ops::gather::Src::Elem(crate::graph::Ref(0, i)))
                    .collect();
                let name = model.node(o.node).name.clone();
                l.add(
                    &name,
                    vec![t],
                    shape,
                    FloatOp::Gather(crate::ops::gather::Gather { src }),
                )
            }
            _ => t,
        };
        l.graph.outputs.push(t);
        let name = model
            .outlet_label(o)
            .map(str::to_string)
            .unwrap_or_else(|| model.node(o.node).name.clone());
        l.graph.output_names.push(name);
    }
    if !unsupported.is_empty() {
        return Err(WalkError::Unsupported(unsupported));
    }
    Ok(l.graph)
}

#[cfg(test)]
mod random_tests;
#[cfg(test)]
mod tests;
