//! Witness stage: fixed-point model + input → the full trace of every intermediate tensor, in
//! plain Rust, bit-exact with the circuit (both use `zkinfer_circuits::fixed`).

use crate::quantize::QuantModel;
use zkinfer_circuits::fixed::{dot, fits_signed, relu, rescale};

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
    /// Integer overflow (cannot happen for models that passed compile).
    #[error("integer overflow in the dot products of node `{node}`")]
    Overflow {
        /// Layer node.
        node: String,
    },
}

/// One layer's tensors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerTrace {
    /// Accumulators `W·x + b` (scale `in + w`).
    pub acc: Vec<i64>,
    /// Rescaled values (scale `out`).
    pub rescaled: Vec<i64>,
    /// Layer output: `ReLU(rescaled)` or `rescaled`.
    pub output: Vec<i64>,
}

/// The full trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// Quantized input.
    pub input: Vec<i64>,
    /// Per layer.
    pub layers: Vec<LayerTrace>,
}

impl Trace {
    /// The model output (integers at the output scale).
    pub fn output(&self) -> &[i64] {
        self.layers.last().map_or(&self.input, |l| &l.output)
    }
}

fn scale_f(s: u32) -> f64 {
    2f64.powi(s as i32)
}

/// Dequantizes `q` at scale `s`.
pub fn dequantize(q: i64, s: u32) -> f64 {
    q as f64 / scale_f(s)
}

/// Quantizes a float input, checking length, finiteness and range.
pub fn quantize_input(model: &QuantModel, values: &[f64]) -> Result<Vec<i64>, WitnessError> {
    let want = model.input_len();
    if values.len() != want {
        return Err(WitnessError::InputLength {
            got: values.len(),
            want,
        });
    }
    let bound = dequantize(1i64 << (model.activation_bits() - 1), model.input_scale);
    values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            if !value.is_finite() {
                return Err(WitnessError::NonFinite { index, value });
            }
            let q = (value * scale_f(model.input_scale)).round();
            if q.abs() >= 9e15 || !fits_signed(q as i64, model.activation_bits()) {
                return Err(WitnessError::InputRange {
                    index,
                    value,
                    bound,
                });
            }
            Ok(q as i64)
        })
        .collect()
}

/// Runs the fixed-point inference.
pub fn run(model: &QuantModel, input: Vec<i64>) -> Result<Trace, WitnessError> {
    if input.len() != model.input_len() {
        return Err(WitnessError::InputLength {
            got: input.len(),
            want: model.input_len(),
        });
    }
    let mut layers: Vec<LayerTrace> = Vec::with_capacity(model.layers.len());
    for (li, layer) in model.layers.iter().enumerate() {
        let x = layers.last().map_or(&input, |l| &l.output);
        let acc = layer
            .weights
            .iter()
            .zip(&layer.bias)
            .map(|(w, &b)| dot(w, x, b))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| WitnessError::Overflow {
                node: layer.node.clone(),
            })?;
        let rescaled: Vec<i64> = acc.iter().map(|&z| rescale(z, layer.shift()).0).collect();
        let bits = if model.table_bounded(li) {
            model.activation_bits()
        } else {
            model.output_bits
        };
        if let Some((index, &v)) = rescaled
            .iter()
            .enumerate()
            .find(|(_, &v)| !fits_signed(v, bits))
        {
            return Err(WitnessError::ActivationRange {
                node: layer.node.clone(),
                index,
                value: dequantize(v, layer.out_scale),
                bound: dequantize(1i64 << (bits - 1), layer.out_scale),
            });
        }
        let output = if layer.relu {
            rescaled.iter().map(|&v| relu(v)).collect()
        } else {
            rescaled.clone()
        };
        layers.push(LayerTrace {
            acc,
            rescaled,
            output,
        });
    }
    Ok(Trace { input, layers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::QuantLayer;

    fn model() -> QuantModel {
        QuantModel {
            input_shape: vec![1, 2],
            input_scale: 2,
            table_bits: 4, // activations: 8 signed bits
            output_bits: 32,
            layers: vec![QuantLayer {
                node: "d0".into(),
                weights: vec![vec![4, -4], vec![8, 8]],
                bias: vec![2, -40],
                in_scale: 2,
                weight_scale: 2,
                out_scale: 2,
                relu: true,
            }],
        }
    }

    #[test]
    fn runs_rescale_and_relu_bit_exactly() {
        let t = run(
            &model(),
            quantize_input(&model(), &[1.0, 0.25]).expect("input"),
        )
        .expect("run");
        assert_eq!(t.input, vec![4, 1]);
        assert_eq!(t.layers[0].acc, vec![4 * 4 - 4 + 2, 32 + 8 - 40]);
        assert_eq!(t.layers[0].rescaled, vec![4, 0]); // (14 + 2) >> 2 = 4; (0 + 2) >> 2 = 0
        assert_eq!(t.output(), &[4, 0]);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let m = model();
        assert!(matches!(
            quantize_input(&m, &[1.0]),
            Err(WitnessError::InputLength { got: 1, want: 2 })
        ));
        assert!(matches!(
            quantize_input(&m, &[f64::NAN, 0.0]),
            Err(WitnessError::NonFinite { index: 0, .. })
        ));
        assert!(matches!(
            quantize_input(&m, &[0.0, 1e6]),
            Err(WitnessError::InputRange { index: 1, .. })
        ));
        // 31.75 fits the input range (±32) but the second neuron's activation does not
        let x = quantize_input(&m, &[31.75, 31.75]).expect("in range");
        assert!(matches!(
            run(&m, x),
            Err(WitnessError::ActivationRange { index: 1, .. })
        ));
    }
}
