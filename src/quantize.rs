//! Quantize stage: float graph (+ calibration data) → fixed-point model.
//!
//! Every activation tensor (the input and each layer's pre-activation output) gets a power-of-two
//! scale `s` (value `q / 2^s`). All activations must fit `2·B` signed bits
//! ([`QuantModel::activation_bits`]): the circuit checks them as a `B`-bit high limb (ReLU sign
//! table) and a `B`-bit low limb (range table); that bound is what lets rescale be sound.
//! Weights of a layer use the largest scale `s_w ≤` [`MAX_WEIGHT_SCALE`] whose rescale shift
//! `d = s_in + s_w − s_out` fits two remainder limbs (`d ≤ 2·B`); the circuit checks remainders
//! in one limb when every `d ≤ B` and in two otherwise (see `zkinfer_circuits::rescale`).
//! Biases live at the accumulator scale `s_in + s_w`.
//!
//! Scale policy:
//! - `--scale N`: every activation tensor at scale `N`; `B` from calibration (with headroom) or
//!   `--lookup-bits`, default [`DEFAULT_TABLE_BITS`].
//! - calibration only: `B = --lookup-bits` (default [`DEFAULT_TABLE_BITS`]); each tensor takes the
//!   largest scale (≤ [`MAX_ACTIVATION_SCALE`]) at which `headroom × max|v|` still fits `2·B` bits.
//! - neither: scale [`DEFAULT_SCALE`], `B` = [`DEFAULT_TABLE_BITS`] (activations within
//!   ±2^(2B−1−scale) = ±16384 by default; `prove` says so clearly when an input leaves that).

use crate::onnx::{FloatLayer, FloatModel};
use serde::{Deserialize, Serialize};

/// Default activation scale without calibration data.
pub const DEFAULT_SCALE: u32 = 7;
/// Default table bits `B` (tables of 2^B rows, so k ≥ B + 1; activations get 2·B bits).
pub const DEFAULT_TABLE_BITS: u32 = 11;
/// Largest activation scale the calibrated policy picks.
pub const MAX_ACTIVATION_SCALE: u32 = 14;
/// Largest weight scale.
pub const MAX_WEIGHT_SCALE: u32 = 16;
/// Table bits allowed (a 2^B table forces k ≥ B + 1).
pub const TABLE_BITS_RANGE: std::ops::RangeInclusive<u32> = 6..=20;
/// Calibrated maxima are multiplied by this before sizing scales and tables.
pub const HEADROOM: f64 = 1.5;
/// Signed bits of a public output that skips the table (the verifier checks them).
pub const OUTPUT_BITS: u32 = 32;
/// Signed bits every accumulator `b + Σ w·x` must fit in the worst case over in-range inputs,
/// so witness generation and rescale never overflow `i64`.
pub const ACCUMULATOR_BITS: u32 = 62;
/// Scale of a public output that skips the table.
pub const OUTPUT_SCALE: u32 = 14;

/// Errors of the quantize stage.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// A ReLU that does not follow a dense layer.
    #[error("unsupported pattern at node `{node}`: Relu must follow a Gemm/MatMul (nothing to fuse it with)")]
    DanglingRelu {
        /// The node.
        node: String,
    },
    /// The model has no dense layer.
    #[error("the model has no Gemm/MatMul layer: nothing to prove")]
    Empty,
    /// Activations too large for the table at any usable scale.
    #[error("activations after node `{node}` reach {max:.3} (×{HEADROOM} headroom): too large for a {bits}-bit table; pass a larger --lookup-bits")]
    TooLarge {
        /// The node.
        node: String,
        /// Largest calibrated magnitude.
        max: f64,
        /// Table bits.
        bits: u32,
    },
    /// Weights so large that a dot product could overflow the accumulator.
    #[error("weights or biases of node `{node}` (up to {max:.3e}) are too large: over the compiled input range a dot product could exceed {ACCUMULATOR_BITS} bits at any usable weight scale")]
    WeightsTooLarge {
        /// The node.
        node: String,
        /// Largest weight or bias magnitude.
        max: f64,
    },
    /// An option outside its range.
    #[error("{0}")]
    BadOption(String),
    /// A calibration value that is not finite.
    #[error("calibration sample {sample} value {index} is {value}: calibration data must be finite numbers")]
    NonFinite {
        /// Sample index.
        sample: usize,
        /// Value index.
        index: usize,
        /// The value.
        value: f32,
    },
}

/// Options for [`quantize`].
#[derive(Clone, Debug, Default)]
pub struct QuantOptions {
    /// Fixed activation scale for every tensor.
    pub scale: Option<u32>,
    /// Table bits `B`.
    pub lookup_bits: Option<u32>,
}

/// One fused layer: `y = rescale(W·x + b)`, then optionally ReLU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantLayer {
    /// ONNX node the layer came from.
    pub node: String,
    /// Weights `[n_out][n_in]` at `weight_scale`.
    pub weights: Vec<Vec<i64>>,
    /// Bias at `in_scale + weight_scale`.
    pub bias: Vec<i64>,
    /// Scale of the layer input.
    pub in_scale: u32,
    /// Scale of the weights.
    pub weight_scale: u32,
    /// Scale of the output.
    pub out_scale: u32,
    /// Whether ReLU follows.
    pub relu: bool,
}

impl QuantLayer {
    /// Rescale shift `d`.
    pub fn shift(&self) -> u32 {
        self.in_scale + self.weight_scale - self.out_scale
    }
    /// Input width.
    pub fn n_in(&self) -> usize {
        self.weights.first().map_or(0, Vec::len)
    }
    /// Output width.
    pub fn n_out(&self) -> usize {
        self.bias.len()
    }
}

/// A fixed-point model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantModel {
    /// Declared input shape.
    pub input_shape: Vec<usize>,
    /// Scale of the input.
    pub input_scale: u32,
    /// Bits of the lookup tables `B` (range table `[0, 2^B)`, sign table over `B`-bit signed).
    pub table_bits: u32,
    /// Signed bits the public output must fit (checked by the verifier); equals `table_bits`
    /// when the final layer goes through the table.
    pub output_bits: u32,
    /// The layers.
    pub layers: Vec<QuantLayer>,
}

impl QuantModel {
    /// Number of input values.
    pub fn input_len(&self) -> usize {
        self.layers.first().map_or(0, QuantLayer::n_in)
    }
    /// Number of output values.
    pub fn output_len(&self) -> usize {
        self.layers.last().map_or(0, QuantLayer::n_out)
    }
    /// Scale of the output.
    pub fn output_scale(&self) -> u32 {
        self.layers.last().map_or(self.input_scale, |l| l.out_scale)
    }

    /// Signed bits every activation (and the input) must fit: two table-sized limbs.
    pub fn activation_bits(&self) -> u32 {
        2 * self.table_bits
    }

    /// Whether layer `i`'s rescaled values go through the ReLU table (and so are bounded by it).
    /// Only a final layer without ReLU skips it: its values are the public output, bounded by
    /// the verifier to [`QuantModel::output_bits`].
    pub fn table_bounded(&self, i: usize) -> bool {
        self.layers.get(i).is_some_and(|l| l.relu) || i + 1 < self.layers.len()
    }
}

/// A dense layer with its ReLU fused, still in floats.
#[derive(Clone, Debug)]
pub struct FusedLayer<'a> {
    node: &'a str,
    weights: &'a [Vec<f32>],
    bias: &'a [f32],
    relu: bool,
}

/// Fuses `Dense, Relu` pairs.
pub fn fuse(model: &FloatModel) -> Result<Vec<FusedLayer<'_>>, QuantizeError> {
    let mut out: Vec<FusedLayer> = Vec::new();
    for layer in &model.layers {
        match layer {
            FloatLayer::Dense {
                node,
                weights,
                bias,
            } => out.push(FusedLayer {
                node,
                weights,
                bias,
                relu: false,
            }),
            FloatLayer::Relu { node } => match out.last_mut() {
                Some(prev) => prev.relu = true, // relu∘relu = relu
                None => return Err(QuantizeError::DanglingRelu { node: node.clone() }),
            },
        }
    }
    if out.is_empty() {
        return Err(QuantizeError::Empty);
    }
    Ok(out)
}

fn signed_bits(max_int: f64) -> u32 {
    // bits for values in [-(m), m] as two's complement: ceil(log2(m + 1)) + 1
    ((max_int + 1.0).log2().ceil() as u32).max(1) + 1
}

fn fit_scale(max: f64, bits: u32, cap: u32) -> Option<u32> {
    if max <= 0.0 {
        return Some(cap);
    }
    let room = ((1u64 << (bits - 1)) - 1) as f64 / (max * HEADROOM);
    (room >= 1.0).then(|| (room.log2().floor() as u32).min(cap))
}

/// Quantizes `model`; `calibration` holds input samples (each `input_len` long).
pub fn quantize(
    model: &FloatModel,
    calibration: Option<&[Vec<f32>]>,
    opts: &QuantOptions,
) -> Result<QuantModel, QuantizeError> {
    let layers = fuse(model)?;
    if let Some(b) = opts.lookup_bits.filter(|b| !TABLE_BITS_RANGE.contains(b)) {
        return Err(QuantizeError::BadOption(format!(
            "--lookup-bits {b} is outside {}..={}",
            TABLE_BITS_RANGE.start(),
            TABLE_BITS_RANGE.end()
        )));
    }
    if let Some(s) = opts.scale.filter(|&s| s > 16) {
        return Err(QuantizeError::BadOption(format!("--scale {s} is above 16")));
    }
    // maxima[0] = input, maxima[1 + l] = pre-activation of layer l
    let maxima: Option<Vec<f64>> = calibration.map(|samples| {
        let mut m = vec![0f64; layers.len() + 1];
        for s in samples {
            m[0] = s.iter().fold(m[0], |acc, &v| acc.max(f64::from(v).abs()));
            model.forward_with(s, |i, z| {
                m[1 + i] = z.iter().fold(m[1 + i], |acc, v| acc.max(v.abs()))
            });
        }
        m
    });
    if let Some(samples) = calibration {
        for (si, s) in samples.iter().enumerate() {
            if let Some((index, &value)) = s.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(QuantizeError::NonFinite {
                    sample: si,
                    index,
                    value,
                });
            }
        }
    }
    // A final layer without ReLU is the public output: it skips the table (see `table_bounded`).
    let free_output = layers.last().is_some_and(|l| !l.relu);
    let names: Vec<&str> = std::iter::once("input")
        .chain(layers.iter().map(|l| l.node))
        .collect();
    let (scales, bits): (Vec<u32>, u32) = match (opts.scale, &maxima) {
        (Some(s), Some(m)) => {
            let table_tensors = if free_output {
                &m[..m.len() - 1]
            } else {
                &m[..]
            };
            let need = table_tensors
                .iter()
                .map(|&v| signed_bits(v * HEADROOM * 2f64.powi(s as i32)))
                .max()
                .unwrap_or(8);
            (
                vec![s; names.len()],
                // activations get 2·B bits (two limbs of B)
                opts.lookup_bits
                    .unwrap_or(need.div_ceil(2).max(*TABLE_BITS_RANGE.start())),
            )
        }
        (Some(s), None) => (
            vec![s; names.len()],
            opts.lookup_bits.unwrap_or(DEFAULT_TABLE_BITS),
        ),
        (None, Some(m)) => {
            let bits = opts.lookup_bits.unwrap_or(DEFAULT_TABLE_BITS);
            let scales = m
                .iter()
                .zip(&names)
                .map(|(&max, node)| {
                    fit_scale(max, 2 * bits, MAX_ACTIVATION_SCALE).ok_or_else(|| {
                        QuantizeError::TooLarge {
                            node: node.to_string(),
                            max,
                            bits: 2 * bits,
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            (scales, bits)
        }
        (None, None) => (
            vec![DEFAULT_SCALE; names.len()],
            opts.lookup_bits.unwrap_or(DEFAULT_TABLE_BITS),
        ),
    };
    let mut scales = scales;
    if free_output && opts.scale.is_none() {
        let max = maxima
            .as_ref()
            .and_then(|m| m.last().copied())
            .unwrap_or(0.0);
        let node = names.last().copied().unwrap_or("output");
        let s =
            fit_scale(max, OUTPUT_BITS, OUTPUT_SCALE).ok_or_else(|| QuantizeError::TooLarge {
                node: node.to_string(),
                max,
                bits: OUTPUT_BITS,
            })?;
        if let Some(last) = scales.last_mut() {
            *last = s;
        }
    }
    let output_bits = if free_output { OUTPUT_BITS } else { 2 * bits };
    if let Some(l) = (0..layers.len()).find(|&l| scales[l] > scales[l + 1] + 2 * bits) {
        return Err(QuantizeError::BadOption(format!(
            "layer `{}` would rescale from scale {} to {}: more than the {} bits two {bits}-bit remainder limbs check; raise --lookup-bits or --scale",
            names[l + 1],
            scales[l],
            scales[l + 1],
            2 * bits
        )));
    }
    if !TABLE_BITS_RANGE.contains(&bits) {
        return Err(QuantizeError::BadOption(format!(
            "activations at this scale need a {bits}-bit table (allowed {}..={}); lower --scale",
            TABLE_BITS_RANGE.start(),
            TABLE_BITS_RANGE.end()
        )));
    }
    let quant_layers = layers
        .iter()
        .enumerate()
        .map(|(l, f)| {
            let (s_in, s_out) = (scales[l], scales[l + 1]);
            let floor = s_out.saturating_sub(s_in);
            let best = (s_out + 2 * bits)
                .saturating_sub(s_in)
                .min(MAX_WEIGHT_SCALE)
                .max(floor);
            // the most precise weight scale whose worst-case accumulator fits (see `quantize_layer`)
            (floor..=best)
                .rev()
                .find_map(|w_scale| quantize_layer(f, s_in, w_scale, s_out, 2 * bits))
                .ok_or_else(|| QuantizeError::WeightsTooLarge {
                    node: f.node.to_string(),
                    max: f
                        .weights
                        .iter()
                        .flatten()
                        .chain(f.bias)
                        .fold(0f64, |m, &v| m.max(f64::from(v).abs())),
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(QuantModel {
        input_shape: model.input_shape.clone(),
        input_scale: scales[0],
        table_bits: bits,
        output_bits,
        layers: quant_layers,
    })
}

/// Quantizes one layer at weight scale `w_scale`, or `None` when a weight or bias does not fit
/// or some neuron's worst-case accumulator `Σ|w|·2^(x_bits−1) + |b|` (inputs anywhere in their
/// `x_bits`-bit range) leaves [`ACCUMULATOR_BITS`].
fn quantize_layer(
    f: &FusedLayer<'_>,
    s_in: u32,
    w_scale: u32,
    s_out: u32,
    x_bits: u32,
) -> Option<QuantLayer> {
    let limit = 1i128 << (ACCUMULATOR_BITS - 1);
    let q = |v: f32, s: u32| {
        let x = (f64::from(v) * 2f64.powi(s as i32)).round();
        (x.abs() < limit as f64).then_some(x as i64)
    };
    let weights: Vec<Vec<i64>> = f
        .weights
        .iter()
        .map(|r| r.iter().map(|&w| q(w, w_scale)).collect())
        .collect::<Option<_>>()?;
    let bias: Vec<i64> = f
        .bias
        .iter()
        .map(|&b| q(b, s_in + w_scale))
        .collect::<Option<_>>()?;
    let x_max = 1i128 << (x_bits - 1);
    let fits = weights.iter().zip(&bias).all(|(row, &b)| {
        let worst = row
            .iter()
            .map(|&w| i128::from(w).abs() * x_max)
            .sum::<i128>()
            + i128::from(b).abs();
        worst < limit
    });
    fits.then(|| QuantLayer {
        node: f.node.to_string(),
        weights,
        bias,
        in_scale: s_in,
        weight_scale: w_scale,
        out_scale: s_out,
        relu: f.relu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp() -> FloatModel {
        FloatModel {
            input_shape: vec![1, 3],
            input_len: 3,
            layers: vec![
                FloatLayer::Dense {
                    node: "d0".into(),
                    weights: vec![vec![0.5, -1.25, 2.0], vec![1.0, 1.0, 1.0]],
                    bias: vec![0.1, -0.2],
                },
                FloatLayer::Relu { node: "r0".into() },
                FloatLayer::Dense {
                    node: "d1".into(),
                    weights: vec![vec![3.0, -0.5]],
                    bias: vec![0.25],
                },
            ],
        }
    }

    #[test]
    fn fuses_relu_and_fits_calibrated_ranges_in_the_table() {
        let samples = vec![vec![1.0, 0.5, -1.0], vec![0.0, 2.0, 1.0]];
        let q = quantize(&mlp(), Some(&samples), &QuantOptions::default()).expect("quantize");
        assert_eq!(q.table_bits, DEFAULT_TABLE_BITS);
        assert_eq!(q.layers.len(), 2);
        assert!(q.layers[0].relu && !q.layers[1].relu);
        for l in &q.layers {
            assert!(
                l.shift() <= 2 * q.table_bits,
                "rescale shift must fit two remainder limbs"
            );
        }
        // the most precise weights two remainder limbs allow
        assert!(q.layers.iter().all(|l| l.weight_scale == MAX_WEIGHT_SCALE));
        // every calibration sample runs without leaving the table
        for s in &samples {
            let x: Vec<f64> = s.iter().map(|&v| f64::from(v)).collect();
            let input = crate::witness::quantize_input(&q, &x).expect("input in range");
            crate::witness::run(&q, input).expect("activations in range");
        }
    }

    #[test]
    fn explicit_scale_sizes_the_table_from_data() {
        let samples = vec![vec![1.0, 0.5, -1.0]];
        let q = quantize(
            &mlp(),
            Some(&samples),
            &QuantOptions {
                scale: Some(4),
                lookup_bits: None,
            },
        )
        .expect("quantize");
        assert!(q.layers.iter().all(|l| l.in_scale == 4 && l.out_scale == 4));
        assert!(q.table_bits < DEFAULT_TABLE_BITS);
    }

    #[test]
    fn bad_models_and_options_are_errors() {
        let mut m = mlp();
        m.layers.insert(
            0,
            FloatLayer::Relu {
                node: "r_first".into(),
            },
        );
        assert!(
            matches!(quantize(&m, None, &QuantOptions::default()), Err(QuantizeError::DanglingRelu { node }) if node == "r_first")
        );
        let opts = QuantOptions {
            scale: None,
            lookup_bits: Some(40),
        };
        assert!(matches!(
            quantize(&mlp(), None, &opts),
            Err(QuantizeError::BadOption(_))
        ));
        let nan = vec![vec![f32::NAN, 0.0, 0.0]];
        assert!(matches!(
            quantize(&mlp(), Some(&nan), &QuantOptions::default()),
            Err(QuantizeError::NonFinite { .. })
        ));
        let huge = vec![vec![1e9, 0.0, 0.0]];
        assert!(matches!(
            quantize(&mlp(), Some(&huge), &QuantOptions::default()),
            Err(QuantizeError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_shift_beyond_two_limbs_is_an_error_not_a_bad_circuit() {
        // tiny input (scale 14), huge hidden activations (scale 0): d = 14 > 2·6
        let m = FloatModel {
            input_shape: vec![1, 1],
            input_len: 1,
            layers: vec![
                FloatLayer::Dense {
                    node: "big".into(),
                    weights: vec![vec![100_000.0]],
                    bias: vec![0.0],
                },
                FloatLayer::Relu { node: "r".into() },
                FloatLayer::Dense {
                    node: "out".into(),
                    weights: vec![vec![1.0]],
                    bias: vec![0.0],
                },
            ],
        };
        let opts = QuantOptions {
            scale: None,
            lookup_bits: Some(6),
        };
        let err = quantize(&m, Some(&[vec![0.01]]), &opts).expect_err("shift too large");
        assert!(err.to_string().contains("`big`"), "{err}");
        // with the default tables the same model is fine
        let q = quantize(&m, Some(&[vec![0.01]]), &QuantOptions::default()).expect("quantize");
        assert!(q.layers.iter().all(|l| l.shift() <= 2 * q.table_bits));
    }

    #[test]
    fn weight_scale_backs_off_before_the_accumulator_could_overflow() {
        // |w| = 2^20 against 22-bit activations: at weight scale 16 the worst case is
        // 2^36·2^21 ≈ 2^57 per input, so four inputs need a lower scale to stay below 2^61.
        let m = FloatModel {
            input_shape: vec![1, 64],
            input_len: 64,
            layers: vec![FloatLayer::Dense {
                node: "huge".into(),
                weights: vec![vec![1_048_576.0; 64]],
                bias: vec![0.0],
            }],
        };
        let q = quantize(&m, None, &QuantOptions::default()).expect("quantize");
        let l = &q.layers[0];
        assert!(l.weight_scale < MAX_WEIGHT_SCALE, "{}", l.weight_scale);
        let worst: i128 = l.weights[0]
            .iter()
            .map(|&w| i128::from(w).abs() << (q.activation_bits() - 1))
            .sum();
        assert!(worst < 1i128 << (ACCUMULATOR_BITS - 1));
        // the largest in-range input does not overflow (its output is merely out of range)
        let x = vec![(1i64 << (q.activation_bits() - 1)) - 1; 64];
        let run = crate::witness::run(&q, x);
        assert!(
            !matches!(run, Err(crate::witness::WitnessError::Overflow { .. })),
            "{run:?}"
        );
        // and weights no scale can hold are an error naming the node
        let mut m2 = m.clone();
        if let FloatLayer::Dense { weights, .. } = &mut m2.layers[0] {
            weights[0][0] = 1e30;
        }
        let err = quantize(&m2, None, &QuantOptions::default()).expect_err("too large");
        assert!(
            matches!(err, QuantizeError::WeightsTooLarge { ref node, .. } if node == "huge"),
            "{err}"
        );
    }
}
