//! Load stage: ONNX (via tract, decluttered, never "optimized") → a float model.
//!
//! tract's decluttered typed graph is not ONNX's op list: Gemm/MatMul become `EinSum` (bias as a
//! following `Add` of a constant), Relu becomes `Max` with a constant 0, Flatten/Reshape become
//! axis ops. [`ops`] holds one small builder per op form; an op without a builder is a typed
//! error naming the node and op type.

mod ops;

use std::path::{Path, PathBuf};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// A float model as a chain of layers over a flat 1-D activation vector (batch 1).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatModel {
    /// The model's input shape as declared (batch fixed to 1), e.g. `[1, 64]`.
    pub input_shape: Vec<usize>,
    /// Number of input values.
    pub input_len: usize,
    /// The layers.
    pub layers: Vec<FloatLayer>,
}

/// One layer.
#[derive(Debug, Clone, PartialEq)]
pub enum FloatLayer {
    /// `y = W x + b`, weights row-major `[out][in]`.
    Dense {
        /// tract node name.
        node: String,
        /// Weights.
        weights: Vec<Vec<f32>>,
        /// Bias.
        bias: Vec<f32>,
    },
    /// `y = max(x, 0)`.
    Relu {
        /// tract node name.
        node: String,
    },
}

impl FloatModel {
    /// Output length.
    pub fn output_len(&self) -> usize {
        self.layers.iter().fold(self.input_len, |n, l| match l {
            FloatLayer::Dense { bias, .. } => bias.len(),
            FloatLayer::Relu { .. } => n,
        })
    }

    /// Plain float inference (f64 accumulation).
    pub fn forward(&self, input: &[f32]) -> Vec<f32> {
        self.forward_with(input, |_, _| {})
            .into_iter()
            .map(|v| v as f32)
            .collect()
    }

    /// Float inference that shows `on_dense(i, z)` each dense layer's output `z` (before any
    /// ReLU; `i` counts dense layers). Returns the model output.
    pub fn forward_with(&self, input: &[f32], mut on_dense: impl FnMut(usize, &[f64])) -> Vec<f64> {
        let mut x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
        let mut dense_index = 0;
        for layer in &self.layers {
            x = match layer {
                FloatLayer::Dense { weights, bias, .. } => {
                    let z: Vec<f64> = weights
                        .iter()
                        .zip(bias)
                        .map(|(row, &b)| {
                            row.iter()
                                .zip(&x)
                                .map(|(&w, &v)| f64::from(w) * v)
                                .sum::<f64>()
                                + f64::from(b)
                        })
                        .collect();
                    on_dense(dense_index, &z);
                    dense_index += 1;
                    z
                }
                FloatLayer::Relu { .. } => x.into_iter().map(|v| v.max(0.0)).collect(),
            };
        }
        x
    }
}

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
    /// An op zkinfer does not support.
    #[error("unsupported op `{op}` at node `{node}`: zkinfer supports Gemm, MatMul (+Add bias), Relu, Flatten/Reshape, Identity")]
    UnsupportedOp {
        /// Node name.
        node: String,
        /// Op type.
        op: String,
    },
    /// A supported op used in a form zkinfer cannot prove.
    #[error("node `{node}` ({op}): {msg}")]
    Unsupported {
        /// Node name.
        node: String,
        /// Op type.
        op: String,
        /// What is wrong.
        msg: String,
    },
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

/// Loads an ONNX file as a chain of dense and ReLU layers.
pub fn load_onnx(path: &Path) -> Result<FloatModel, OnnxError> {
    let mut model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(read_err(path))?;
    if model.input_outlets().map_err(read_err(path))?.len() != 1 {
        return Err(OnnxError::Read {
            path: path.to_path_buf(),
            msg: "zkinfer models take exactly one input".into(),
        });
    }
    // Symbolic (batch) dimensions become 1; the rest come from the model.
    let declared = model.input_fact(0).map_err(read_err(path))?.clone();
    let input_shape: Vec<usize> = declared
        .shape
        .dims()
        .map(|d| {
            d.concretize()
                .and_then(|t| t.to_i64().ok())
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(1)
        })
        .collect();
    model
        .set_input_fact(0, f32::fact(&input_shape).into())
        .map_err(analyse_err(path))?;
    let typed = model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(analyse_err(path))?;
    let layers = ops::walk(&typed)?;
    Ok(FloatModel {
        input_len: input_shape.iter().product(),
        input_shape,
        layers,
    })
}

#[cfg(test)]
mod tests;
