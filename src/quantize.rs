//! Quantize stage: float graph (+ calibration data) → fixed-point model.
//!
//! Every tensor gets a power-of-two scale `s` (value `q / 2^s`). Activations must fit `2·B`
//! signed bits ([`QuantModel::activation_bits`]): the circuit checks them as a `B`-bit high
//! limb (sign table) and a `B`-bit low limb (range table); that bound is what makes rescale,
//! ReLU and max sound. Ops that copy or compare (Relu, Max, Gather) keep their inputs' scale,
//! so all tensors they connect form one *scale class* sharing a scale; each Linear picks its
//! output scale freely (see [`crate::ops::linear`] for its weight scales).
//!
//! Scale policy, per class:
//! - `--scale N`: every class at scale `N`; `B` from calibration (with headroom) or
//!   `--lookup-bits`, default [`DEFAULT_TABLE_BITS`].
//! - calibration only: `B = --lookup-bits` (default [`DEFAULT_TABLE_BITS`]); a class takes the
//!   largest scale (≤ [`MAX_ACTIVATION_SCALE`]) at which `headroom × max|v|` of every member
//!   (twice that for inputs of max/min, whose differences must fit too) fits `2·B` bits.
//! - neither: scale [`DEFAULT_SCALE`], `B` = [`DEFAULT_TABLE_BITS`].
//!
//! A class whose values only reach the public output (a final Gemm, possibly reshaped) is not
//! bounded in the circuit: the verifier bounds public outputs to [`OUTPUT_BITS`], so those
//! values take a finer scale (up to [`OUTPUT_SCALE`]) and skip the sign table.

use crate::graph::{Graph, TensorId};
use crate::ops::{eval_float, FloatGraph, FloatOp, NodeCtx, QuantCtx, QuantOp};
use serde::{Deserialize, Serialize};

/// Default activation scale without calibration data.
pub const DEFAULT_SCALE: u32 = 7;
/// Default table bits `B` (tables of 2^B rows, so k ≥ B + 1; activations get 2·B bits).
pub const DEFAULT_TABLE_BITS: u32 = 11;
/// Largest activation scale the calibrated policy picks.
pub const MAX_ACTIVATION_SCALE: u32 = 18;
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
    /// A malformed graph.
    #[error("malformed model graph: {0}")]
    Graph(String),
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
    /// Range-check the outputs in the circuit too (a hashed output: the verifier cannot).
    pub bound_outputs: bool,
}

/// A fixed-point model: the graph of fixed-point core ops and a scale per tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantModel {
    /// The graph.
    pub graph: Graph<QuantOp>,
    /// Scale of every tensor (inputs first, then node outputs).
    pub scales: Vec<u32>,
    /// Bits of the lookup tables `B` (range table `[0, 2^B)`, sign table over `B`-bit signed).
    pub table_bits: u32,
    /// Signed bits every public output must fit (checked by the verifier).
    pub output_bits: u32,
}

impl QuantModel {
    /// Number of input values (all inputs).
    pub fn input_len(&self) -> usize {
        self.graph.input_len()
    }
    /// Number of output values (all outputs).
    pub fn output_len(&self) -> usize {
        self.graph.output_len()
    }
    /// Signed bits every activation (and the input) must fit: two table-sized limbs.
    pub fn activation_bits(&self) -> u32 {
        2 * self.table_bits
    }
    /// Scale of tensor `t`.
    pub fn scale(&self, t: TensorId) -> u32 {
        self.scales.get(t).copied().unwrap_or(0)
    }
    /// Largest rescale shift of any node.
    pub fn max_shift(&self) -> u32 {
        self.graph
            .nodes
            .iter()
            .map(|n| n.op.imp().max_shift())
            .max()
            .unwrap_or(0)
    }
    /// [`Self::node_ctx`] for a circuit of `shape`.
    pub fn node_ctx_in(&self, i: usize, shape: &crate::circuit::CircuitShape) -> NodeCtx<'_> {
        let mut ctx = self.node_ctx(i, shape.lanes, shape.range_bits);
        ctx.freivalds = shape.freivalds;
        ctx.freivalds_pack = shape.freivalds_pack;
        ctx.freivalds_merge = shape.freivalds_merge;
        ctx.freivalds_split = match (shape.freivalds_split, shape.freivalds_balance) {
            // (one block a check: as many parts as blocks)
            (true, true) => usize::MAX,
            (true, false) => shape.freivalds_banks.max(1),
            (false, _) => 1,
        };
        ctx.remainder_limbs = shape.remainder_limbs;
        ctx.product_beside_rescale = shape.product_beside_rescale && !shape.product_in_rescale;
        ctx
    }
    /// What the fixed-point stages know about node `i`.
    pub fn node_ctx(&self, i: usize, lanes: usize, range_bits: u32) -> NodeCtx<'_> {
        let node = &self.graph.nodes[i];
        NodeCtx {
            node,
            scale: self.scale(self.graph.inputs.len() + i),
            in_scales: node.inputs.iter().map(|&t| self.scale(t)).collect(),
            activation_bits: self.activation_bits(),
            output_bits: self.output_bits,
            range_bits,
            lanes,
            freivalds: 0,
            freivalds_pack: 1,
            freivalds_merge: false,
            freivalds_split: 1,
            remainder_limbs: 2,
            product_beside_rescale: false,
        }
    }
    /// Checks the structure (after reading model.json): tensor order, references, scales.
    pub fn check(&self) -> Result<(), String> {
        self.graph.check(|op| op.imp().refs())?;
        if self.scales.len() != self.graph.n_tensors() {
            return Err("one scale per tensor expected".into());
        }
        if !TABLE_BITS_RANGE.contains(&self.table_bits) || !(1..=63).contains(&self.output_bits) {
            return Err("bit widths out of range".into());
        }
        for n in &self.graph.nodes {
            // a constant of a concatenation or pad is an activation like any other: the
            // accumulator bound of the layers reading it assumes it in range
            if let crate::ops::QuantOp::Gather(g) = &n.op {
                let bits = self.activation_bits();
                if let Some(c) = g
                    .consts()
                    .into_iter()
                    .find(|&c| !zkinfer_circuits::fixed::fits_signed(c, bits))
                {
                    return Err(format!(
                        "node `{}`: constant {c} is outside the activation range of ±2^{}",
                        n.name,
                        bits - 1
                    ));
                }
            }
            if let crate::ops::QuantOp::Linear(l) = &n.op {
                if !l.is_well_formed() {
                    return Err(format!(
                        "node `{}`: a group's weights, biases and outputs differ in length",
                        n.name
                    ));
                }
                // every output computed by exactly one group row: a repeated index would
                // leave the earlier row's accumulator unrescaled, a free cell that a packed
                // Freivalds check lets cancel its partner's error
                let mut seen = vec![false; n.len()];
                for &o in l.groups.iter().flat_map(|g| &g.out) {
                    match seen.get_mut(o as usize) {
                        Some(s) if !*s => *s = true,
                        _ => {
                            return Err(format!(
                                "node `{}`: output {o} is computed twice or is out of range",
                                n.name
                            ))
                        }
                    }
                }
                if let Some(o) = seen.iter().position(|s| !s) {
                    return Err(format!("node `{}`: no group computes output {o}", n.name));
                }
                if !l.within_accumulator_bound(self.activation_bits()) {
                    return Err(format!(
                        "node `{}`: a worst-case accumulator leaves {ACCUMULATOR_BITS} bits",
                        n.name
                    ));
                }
            }
        }
        crate::ops::func::check_tags(&self.graph)
    }
}

fn signed_bits(max_int: f64) -> u32 {
    // bits for values in [-(m), m] as two's complement: ceil(log2(m + 1)) + 1
    ((max_int + 1.0).log2().ceil().min(1000.0) as u32)
        .max(1)
        .saturating_add(1)
}

fn fit_scale(max: f64, bits: u32, cap: u32) -> Option<u32> {
    if max <= 0.0 {
        return Some(cap);
    }
    let room = ((1u64 << (bits - 1)) - 1) as f64 / (max * HEADROOM);
    (room >= 1.0).then(|| (room.log2().floor() as u32).min(cap))
}

fn find(parent: &mut [usize], mut t: usize) -> usize {
    while parent[t] != t {
        parent[t] = parent[parent[t]];
        t = parent[t];
    }
    t
}

/// Per-tensor calibrated ranges `(min, max)` over the samples (`(0, 0)` for an empty tensor).
pub fn calibrate(model: &FloatGraph, samples: &[Vec<Vec<f64>>]) -> Vec<(f64, f64)> {
    let mut m = vec![(f64::INFINITY, f64::NEG_INFINITY); model.n_tensors()];
    for s in samples {
        for (t, vals) in eval_float(model, s).iter().enumerate() {
            m[t] = vals
                .iter()
                .fold(m[t], |(lo, hi), &v| (lo.min(v), hi.max(v)));
        }
    }
    m.into_iter()
        .map(|(lo, hi)| if lo <= hi { (lo, hi) } else { (0.0, 0.0) })
        .collect()
}

/// Quantizes `model`; `calibration` holds input samples (one vector per graph input each).
pub fn quantize(
    model: &FloatGraph,
    calibration: Option<&[Vec<Vec<f64>>]>,
    opts: &QuantOptions,
) -> Result<QuantModel, QuantizeError> {
    model
        .check(|op| op.imp().refs())
        .map_err(QuantizeError::Graph)?;
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
    if let Some(samples) = calibration {
        for (si, s) in samples.iter().enumerate() {
            let flat = s.iter().flatten();
            if let Some((index, &value)) = flat.enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(QuantizeError::NonFinite {
                    sample: si,
                    index,
                    value: value as f32,
                });
            }
        }
    }
    let ranges = calibration.map(|s| calibrate(model, s));
    let maxima: Option<Vec<f64>> = ranges
        .as_ref()
        .map(|r| r.iter().map(|&(lo, hi)| lo.abs().max(hi.abs())).collect());
    let n_in = model.inputs.len();
    let n = model.n_tensors();

    // headroom factor each tensor's consumers ask for
    let mut factor = vec![1f64; n];
    for node in &model.nodes {
        let f = node.op.imp().input_range_factor();
        for &t in &node.inputs {
            factor[t] = factor[t].max(f);
        }
    }
    // scale classes
    let mut parent: Vec<usize> = (0..n).collect();
    for (i, node) in model.nodes.iter().enumerate() {
        if node.op.imp().keeps_scale() {
            for &t in &node.inputs {
                let (a, b) = (find(&mut parent, t), find(&mut parent, n_in + i));
                parent[a] = b;
            }
        }
    }
    let class: Vec<usize> = (0..n).map(|t| find(&mut parent, t)).collect();
    // tensors the circuit must bound: inputs, and everything read by a non-copy op (or by a
    // copy whose output must be bounded)
    let mut need = vec![false; n];
    need[..n_in].iter_mut().for_each(|v| *v = true);
    if opts.bound_outputs {
        for &t in &model.outputs {
            need[t] = true;
        }
    }
    for (i, node) in model.nodes.iter().enumerate().rev() {
        if node.op.imp().output_needs_bound() {
            need[n_in + i] = true;
        }
        let copy = matches!(node.op, FloatOp::Gather(_));
        if !copy || need[n_in + i] {
            for &t in &node.inputs {
                need[t] = true;
            }
        }
    }
    let mut bounded_class = vec![false; n];
    for t in 0..n {
        if need[t] {
            bounded_class[class[t]] = true;
        }
    }
    let bounded: Vec<bool> = (0..n).map(|t| bounded_class[class[t]]).collect();
    let any_free = bounded.iter().any(|b| !b);

    let max_of = |t: usize| maxima.as_ref().map_or(0.0, |m| m[t]);
    let bits = match (opts.lookup_bits, opts.scale, &maxima) {
        (Some(b), _, _) => b,
        (None, Some(s), Some(_)) => {
            let need_bits = (0..n)
                .filter(|&t| bounded[t])
                .map(|t| signed_bits(max_of(t) * factor[t] * HEADROOM * 2f64.powi(s as i32)))
                .max()
                .unwrap_or(8);
            need_bits.div_ceil(2).max(*TABLE_BITS_RANGE.start())
        }
        _ => DEFAULT_TABLE_BITS,
    };
    if !TABLE_BITS_RANGE.contains(&bits) {
        return Err(QuantizeError::BadOption(format!(
            "activations at this scale need a {bits}-bit table (allowed {}..={}); lower --scale",
            TABLE_BITS_RANGE.start(),
            TABLE_BITS_RANGE.end()
        )));
    }
    let mut class_scale: Vec<Option<u32>> = vec![None; n];
    for t in 0..n {
        let s = match (opts.scale, &maxima, bounded[t]) {
            (Some(s), _, _) => s,
            (None, Some(_), true) => {
                fit_scale(max_of(t) * factor[t], 2 * bits, MAX_ACTIVATION_SCALE).ok_or_else(
                    || QuantizeError::TooLarge {
                        node: model.name(t).to_string(),
                        max: max_of(t) * factor[t],
                        bits: 2 * bits,
                    },
                )?
            }
            (None, None, true) => DEFAULT_SCALE,
            (None, _, false) => {
                fit_scale(max_of(t), OUTPUT_BITS, OUTPUT_SCALE).ok_or_else(|| {
                    QuantizeError::TooLarge {
                        node: model.name(t).to_string(),
                        max: max_of(t),
                        bits: OUTPUT_BITS,
                    }
                })?
            }
        };
        let c = &mut class_scale[class[t]];
        *c = Some(c.map_or(s, |old| old.min(s)));
    }
    for (i, node) in model.nodes.iter().enumerate() {
        if let Some(s) = node.op.imp().fixed_output_scale() {
            class_scale[class[n_in + i]] = Some(s);
        }
    }
    let scales: Vec<u32> = (0..n)
        .map(|t| class_scale[class[t]].unwrap_or(DEFAULT_SCALE))
        .collect();
    // bounded outputs (and inputs passed through) have 2B bits, unbounded ones OUTPUT_BITS
    let output_bits = if any_free {
        OUTPUT_BITS.max(2 * bits)
    } else {
        2 * bits
    };
    let n_funcs = model
        .nodes
        .iter()
        .filter(|n| matches!(n.op, FloatOp::Func(_)))
        .count();
    // k = B + 1 holds 2^(B+1) rows (the 2^B-row tables use half): function tables may use
    // the rest, less room for halo2's reserved rows, without raising k
    let func_budget = ((1usize << (bits + 1)) - 64) / n_funcs.max(1);
    let mut graph = model.map(|i, node| {
        let ctx = QuantCtx {
            in_range: ranges
                .as_ref()
                .map(|m| node.inputs.iter().map(|&t| m[t]).collect()),
            func_budget,
            name: &node.name,
            in_scales: node.inputs.iter().map(|&t| scales[t]).collect(),
            out_scale: scales[n_in + i],
            table_bits: bits,
            bounded: bounded[n_in + i],
            output_bits,
        };
        node.op.imp().quantize(&ctx)
    })?;
    crate::ops::func::assign_tags(&mut graph);
    Ok(QuantModel {
        graph,
        scales,
        table_bits: bits,
        output_bits,
    })
}

#[cfg(test)]
mod tests;
