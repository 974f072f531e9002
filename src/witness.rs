//! Witness stage: fixed-point model + input → the full trace of every intermediate tensor, in
//! plain Rust, bit-exact with the circuit (both use `zkinfer_circuits::fixed`).

use crate::graph::Inputs;
use crate::quantize::QuantModel;
use zkinfer_circuits::fixed::fits_signed;

/// Errors of the witness stage.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Wrong number of input values.
    #[error("the input has {got} values, the model expects {want}")]
    InputLength {
        /// Values given.
        got: usize,
        /// Values expected.
        want: usize,
    },
    /// NaN or infinite input.
    #[error("input value {index} is {value}: inputs must be finite numbers")]
    NonFinite {
        /// Position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// An input too large for the compiled range.
    #[error("input value {index} = {value} is outside the compiled input range ±{bound}; recompile with calibration data that covers this input")]
    InputRange {
        /// Position.
        index: usize,
        /// The value.
        value: f64,
        /// The bound.
        bound: f64,
    },
    /// An activation outside the table.
    #[error("activation {index} after node `{node}` is {value:.4}, outside the compiled range ±{bound:.4}; recompile with calibration data that covers this input (or a larger --lookup-bits)")]
    ActivationRange {
        /// Layer node.
        node: String,
        /// Neuron.
        index: usize,
        /// Dequantized value.
        value: f64,
        /// Dequantized bound.
        bound: f64,
    },
    /// An input of a function outside its table.
    #[error("input {index} of node `{node}` ({func}) is {value:.4}, outside the function's table [{lo:.4}, {hi:.4}) (the calibrated range with headroom, where the function is defined); recompile with calibration data that covers this input")]
    OutsideTable {
        /// The node.
        node: String,
        /// The function.
        func: String,
        /// Element.
        index: usize,
        /// Dequantized input.
        value: f64,
        /// Table start.
        lo: f64,
        /// Table end.
        hi: f64,
    },
    /// Integer overflow or a malformed node (cannot happen for models that passed compile).
    #[error("integer overflow or malformed data at node `{node}`")]
    Overflow {
        /// Layer node.
        node: String,
    },
}

/// The full trace: every tensor's values (inputs first, then node outputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// Values per tensor.
    pub values: Vec<Vec<i64>>,
    /// Which tensors are the outputs.
    pub outputs: Vec<usize>,
    /// Number of graph inputs.
    pub n_inputs: usize,
}

impl Trace {
    /// All input values, flattened in input order.
    pub fn input(&self) -> Vec<i64> {
        self.values[..self.n_inputs].concat()
    }
    /// All output values (integers at their scales), flattened in output order.
    pub fn output(&self) -> Vec<i64> {
        self.outputs
            .iter()
            .flat_map(|&t| self.values[t].iter().copied())
            .collect()
    }
}

fn scale_f(s: u32) -> f64 {
    2f64.powi(s as i32)
}

/// Dequantizes `q` at scale `s`.
pub fn dequantize(q: i64, s: u32) -> f64 {
    q as f64 / scale_f(s)
}

/// Quantizes a float input (all graph inputs, flattened), checking length, finiteness and range.
pub fn quantize_input(model: &QuantModel, values: &[f64]) -> Result<Vec<i64>, WitnessError> {
    let want = model.input_len();
    if values.len() != want {
        return Err(WitnessError::InputLength {
            got: values.len(),
            want,
        });
    }
    let mut scale_of = Vec::with_capacity(want);
    for t in 0..model.graph.inputs.len() {
        scale_of.extend(std::iter::repeat_n(model.scale(t), model.graph.len(t)));
    }
    values
        .iter()
        .zip(scale_of)
        .enumerate()
        .map(|(index, (&value, scale))| {
            if !value.is_finite() {
                return Err(WitnessError::NonFinite { index, value });
            }
            let q = (value * scale_f(scale)).round();
            if q.abs() >= 9e15 || !fits_signed(q as i64, model.activation_bits()) {
                return Err(WitnessError::InputRange {
                    index,
                    value,
                    bound: dequantize(1i64 << (model.activation_bits() - 1), scale),
                });
            }
            Ok(q as i64)
        })
        .collect()
}

/// Runs the fixed-point inference on the quantized input (all graph inputs, flattened).
pub fn run(model: &QuantModel, input: Vec<i64>) -> Result<Trace, WitnessError> {
    if input.len() != model.input_len() {
        return Err(WitnessError::InputLength {
            got: input.len(),
            want: model.input_len(),
        });
    }
    let g = &model.graph;
    let mut values = crate::ops::split_inputs(g, &input);
    for (i, node) in g.nodes.iter().enumerate() {
        let ctx = model.node_ctx(i, 1, model.table_bits);
        let x = Inputs(node.inputs.iter().map(|&t| values[t].as_slice()).collect());
        let out = node.op.imp().eval(&ctx, &x)?;
        if out.len() != node.len() {
            return Err(WitnessError::Overflow {
                node: node.name.clone(),
            });
        }
        values.push(out);
    }
    Ok(Trace {
        values,
        outputs: g.outputs.clone(),
        n_inputs: g.inputs.len(),
    })
}
