//! Core op `Linear`: `y_j = b_j + Σ_k w_jk · x[ref_jk]`, then (fixed point) a rescale and an
//! optional fused ReLU. The weights are constants: in the circuit they sit in fixed columns, so
//! the verifying key commits to them.
//!
//! Gemm/MatMul, Conv (any kernel, stride, padding, dilation, groups), AveragePool,
//! GlobalAveragePool, ReduceSum/Mean, BatchNormalization, Add/Sub of tensors, Mul/Div by
//! constants, Neg and constants all lower to this op; the loaders differ only in which
//! elements each output reads.
//!
//! Fixed point: inputs at scales `s_i`, accumulator at `A = max_i s_i + s_w`, so the weights
//! reading slot `i` are integers at scale `A − s_i` (operands at different scales are aligned
//! exactly by those power-of-two weight scales) and the bias is at scale `A`; the output is
//! `rescale(acc, d)` with `d = A − s_out ≤ 2B` (checked remainders). `s_w` is the largest
//! weight scale `≤` [`MAX_WEIGHT_SCALE`] whose shift fits two remainder limbs and whose
//! worst-case accumulator over in-range inputs fits [`ACCUMULATOR_BITS`].
//!
//! Circuit: outputs reading the same input elements form a *group* (a Conv's output channels
//! at one position; all neurons of a Gemm), laid out by the dense chip (`ceil(rows / L)·(|x| +
//! 1)` dense rows per group) or checked by the Freivalds chip, which takes consecutive small
//! groups together (a convolution's neighbouring positions read their shared inputs once, see
//! `QuantLinear::freivalds_chunks`); then one rescale-chip row per output.

use super::{
    Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp, QuantOpImpl, Synthesize,
    WitnessCursor,
};
use crate::graph::{Inputs, Ref, TensorId};
use crate::ops::{FloatGraph, FloatOp};
use crate::quantize::{QuantizeError, ACCUMULATOR_BITS, MAX_WEIGHT_SCALE};
use crate::witness::{dequantize, WitnessError};
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use zkinfer_circuits::{
    fixed::{dot, fits_signed, relu, rescale},
    freivalds::{FreivaldsConfig, Packing},
    matmul::{DenseWitness, MatMulConfig, MatMulInstructions},
    rescale::{RescaleInstructions, RescaleWitness},
    Wire,
};

/// One output: `bias + Σ w·x[ref]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row<W> {
    /// The constant term.
    pub bias: W,
    /// `(element, weight)` pairs.
    pub terms: Vec<(Ref, W)>,
}

/// The float op: one row per output element, in output order.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear<W> {
    /// Rows.
    pub rows: Vec<Row<W>>,
    /// ReLU fused after it.
    pub relu: bool,
}

impl Linear<f64> {
    /// Merges repeated references in each row (summing their weights) and sorts the terms.
    pub fn normalized(mut self) -> Self {
        for r in &mut self.rows {
            r.terms.sort_by_key(|t| t.0);
            let mut merged: Vec<(Ref, f64)> = Vec::with_capacity(r.terms.len());
            for &(x, w) in &r.terms {
                match merged.last_mut() {
                    Some(last) if last.0 == x => last.1 += w,
                    _ => merged.push((x, w)),
                }
            }
            r.terms = merged;
        }
        self
    }
}

impl FloatOpImpl for Linear<f64> {
    fn refs(&self) -> Vec<Ref> {
        self.rows
            .iter()
            .flat_map(|r| r.terms.iter().map(|t| t.0))
            .collect()
    }

    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        let mut out: Vec<f64> = self
            .rows
            .iter()
            .map(|r| {
                r.bias
                    + r.terms
                        .iter()
                        .map(|&(e, w)| w * x.at(e).unwrap_or(0.0))
                        .sum::<f64>()
            })
            .collect();
        if self.relu {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        out
    }

    fn keeps_scale(&self) -> bool {
        false
    }

    fn output_needs_bound(&self) -> bool {
        self.relu
    }

    fn quantize(&self, ctx: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        if self.relu && !ctx.bounded {
            return Err(QuantizeError::Graph(format!(
                "node `{}`: a fused ReLU on unbounded rows",
                ctx.name
            )));
        }
        let max_in = ctx.in_scales.iter().copied().max().unwrap_or(0);
        let two_b = ctx.activation_bits();
        let s_out = ctx.out_scale;
        if max_in > s_out + two_b {
            return Err(QuantizeError::BadOption(format!(
                "node `{}` would rescale from scale {max_in} to {s_out}: more than the {two_b} bits two {}-bit remainder limbs check; raise --lookup-bits or --scale",
                ctx.name, ctx.table_bits
            )));
        }
        let floor = s_out.saturating_sub(max_in);
        let best = (s_out + two_b - max_in).min(MAX_WEIGHT_SCALE).max(floor);
        (floor..=best)
            .rev()
            .find_map(|s_w| self.quantize_at(ctx, max_in + s_w))
            .map(QuantOp::Linear)
            .ok_or_else(|| QuantizeError::WeightsTooLarge {
                node: ctx.name.to_string(),
                max: self
                    .rows
                    .iter()
                    .flat_map(|r| r.terms.iter().map(|t| t.1).chain([r.bias]))
                    .fold(0f64, |m, v| m.max(v.abs())),
            })
    }
}

impl Linear<f64> {
    /// Quantizes at accumulator scale `acc`, or `None` when a weight or some worst-case
    /// accumulator (inputs anywhere in their range) leaves [`ACCUMULATOR_BITS`].
    fn quantize_at(&self, ctx: &QuantCtx, acc: u32) -> Option<QuantLinear> {
        let limit = 1i128 << (ACCUMULATOR_BITS - 1);
        let q = |v: f64, s: u32| {
            let x = (v * 2f64.powi(s as i32)).round();
            (x.abs() < limit as f64).then_some(x as i64)
        };
        let x_max = 1i128 << (ctx.activation_bits() - 1);
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<Vec<Ref>, usize> = HashMap::new();
        for (j, r) in self.rows.iter().enumerate() {
            let bias = q(r.bias, acc)?;
            let w: Vec<i64> = r
                .terms
                .iter()
                .map(|&(e, w)| q(w, acc - ctx.in_scales.get(e.slot()).copied().unwrap_or(0)))
                .collect::<Option<_>>()?;
            let worst = w.iter().map(|&w| i128::from(w).abs() * x_max).sum::<i128>()
                + i128::from(bias).abs();
            if worst >= limit {
                return None;
            }
            let key: Vec<Ref> = r.terms.iter().map(|t| t.0).collect();
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push(Group {
                    x: key,
                    out: vec![],
                    bias: vec![],
                    w: vec![],
                });
                groups.len() - 1
            });
            groups[g].out.push(j as u32);
            groups[g].bias.push(bias);
            groups[g].w.push(w);
        }
        Some(QuantLinear {
            groups,
            acc_scale: acc,
            shift: acc - ctx.out_scale,
            relu: self.relu,
            bounded: ctx.bounded,
        })
    }
}

/// Outputs that read the same input elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The input elements, in the order the dense chip consumes them.
    pub x: Vec<Ref>,
    /// The output index of each row.
    pub out: Vec<u32>,
    /// Bias of each row (accumulator scale).
    pub bias: Vec<i64>,
    /// Weights `[row][k]`, aligned with `x`.
    pub w: Vec<Vec<i64>>,
}

/// One Freivalds check of a layer ([`QuantLinear::freivalds_chunks`]): consecutive groups,
/// their distinct inputs and their outputs.
#[derive(Clone, Debug)]
struct Chunk {
    groups: std::ops::Range<usize>,
    inputs: usize,
    outputs: usize,
    /// A part of one group's outputs (a split check, [`NodeCtx::freivalds_split`]), or all
    /// of its groups' outputs.
    part: Option<std::ops::Range<usize>>,
}

impl Chunk {
    /// The outputs of the check, in order.
    fn outputs_of(&self, groups: &[Group]) -> Vec<u32> {
        let all = groups[self.groups.clone()].iter().flat_map(|g| &g.out);
        match &self.part {
            Some(r) => all.skip(r.start).take(r.len()).copied().collect(),
            None => all.copied().collect(),
        }
    }
}

/// The fixed-point op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantLinear {
    /// Groups of outputs sharing their inputs.
    pub groups: Vec<Group>,
    /// Accumulator scale `A`.
    pub acc_scale: u32,
    /// Rescale shift `d = A − s_out`.
    pub shift: u32,
    /// ReLU fused.
    pub relu: bool,
    /// Whether the outputs are bounded in the circuit (limbs + sign table); false only for
    /// values that are public outputs, bounded by the verifier.
    pub bounded: bool,
}

impl QuantLinear {
    /// Whether every output's worst-case accumulator over inputs of `activation_bits` signed
    /// bits stays below `2^(ACCUMULATOR_BITS − 1)`, as quantization made it: the bound the
    /// rescale quotient and the Freivalds chip's packing rely on (checked again when a build
    /// is read, so an edited model.json cannot lift it).
    pub fn within_accumulator_bound(&self, activation_bits: u32) -> bool {
        let limit = 1i128 << (ACCUMULATOR_BITS - 1);
        let x_max = 1i128 << activation_bits.clamp(1, 64).saturating_sub(1);
        self.groups.iter().all(|g| {
            g.w.iter().zip(&g.bias).all(|(w, &b)| {
                let worst = w.iter().fold(i128::from(b).abs(), |acc, &w| {
                    acc.saturating_add(i128::from(w).abs().saturating_mul(x_max))
                });
                worst < limit
            })
        })
    }

    /// Whether every group has one bias and one weight row per output and one weight per
    /// input (an edited model.json could break it: the chips would see truncated rows).
    pub fn is_well_formed(&self) -> bool {
        self.groups.iter().all(|g| {
            !g.out.is_empty()
                && g.bias.len() == g.out.len()
                && g.w.len() == g.out.len()
                && g.w.iter().all(|r| r.len() == g.x.len())
        })
    }

    fn dense_rows(&self, lanes: usize) -> usize {
        self.groups
            .iter()
            .map(|g| MatMulConfig::rows(g.x.len(), g.out.len(), lanes))
            .sum()
    }

    fn freivalds_group_rows(&self, ctx: &NodeCtx) -> Vec<usize> {
        let width = ctx.freivalds * self.packing(ctx).factor;
        self.freivalds_chunks(ctx)
            .iter()
            .map(|c| FreivaldsConfig::rows(c.inputs, c.outputs, width))
            .collect()
    }

    /// The checks the Freivalds chip makes for this layer, in synthesis order: each group
    /// alone, or with [`NodeCtx::freivalds_merge`] consecutive groups together while their
    /// outputs fit one block (`K·P`). A merged check reads the union of its groups' inputs
    /// once, with weight 0 where an output does not read an input: the relation is the
    /// groups' own (the chip checks `y = W·x + b` for whatever fixed `W` it is given), in
    /// fewer rows wherever the groups share inputs (a convolution's neighbouring positions:
    /// 3×3 over four channels, eight positions a check read 96 elements instead of 288) and
    /// one bias row instead of one a group. Which inputs a check reads follows the model's
    /// references, never the weights' values (a private weight that happens to be 0 is read
    /// like any other).
    fn freivalds_chunks(&self, ctx: &NodeCtx) -> Vec<Chunk> {
        let width = ctx.freivalds * self.packing(ctx).factor;
        let mut chunks: Vec<Chunk> = Vec::with_capacity(self.groups.len());
        let mut seen: std::collections::HashSet<Ref> = Default::default();
        for (i, g) in self.groups.iter().enumerate() {
            let n = g.out.len();
            if let Some(c) = chunks.last_mut() {
                if ctx.freivalds_merge && c.outputs + n <= width {
                    c.inputs += g.x.iter().filter(|&&r| seen.insert(r)).count();
                    c.outputs += n;
                    c.groups.end = i + 1;
                    continue;
                }
            }
            seen.clear();
            // (a group of `width` outputs or more takes no partner: nothing to remember)
            if ctx.freivalds_merge && n < width {
                seen.extend(g.x.iter().copied());
            }
            chunks.push(Chunk {
                groups: i..i + 1,
                inputs: g.x.len(),
                outputs: n,
                part: None,
            });
        }
        if ctx.freivalds_split > 1 {
            chunks = chunks
                .into_iter()
                .flat_map(|c| Self::split(c, width, ctx.freivalds_split))
                .collect();
        }
        chunks
    }

    /// A check of one group with more than one block of outputs, in `parts` checks of whole
    /// blocks (as even as blocks allow; no more parts than blocks): the same rows, each part
    /// a check of its own (its own `ρ`-combination, its own `acc = 0`), so that banks can
    /// share a layer too large for one (mlp_wide's 256 × 256 layer, at width 32, in two
    /// banks of half the rows). Other checks stay whole.
    fn split(c: Chunk, width: usize, parts: usize) -> Vec<Chunk> {
        let blocks = c.outputs.div_ceil(width.max(1));
        if c.groups.len() != 1 || c.part.is_some() || blocks < 2 {
            return vec![c];
        }
        let parts = parts.min(blocks);
        let per = blocks.div_ceil(parts) * width;
        (0..c.outputs)
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(c.outputs);
                Chunk {
                    groups: c.groups.clone(),
                    inputs: c.inputs,
                    outputs: end - start,
                    part: Some(start..end),
                }
            })
            .collect()
    }

    /// The inputs, output indices, biases and weights (`[output][input]`) of one check.
    fn chunk_check(&self, c: &Chunk) -> Group {
        let groups = &self.groups[c.groups.clone()];
        if let [g] = groups {
            return match &c.part {
                Some(r) => Group {
                    x: g.x.clone(),
                    out: g.out[r.clone()].to_vec(),
                    bias: g.bias[r.clone()].to_vec(),
                    w: g.w[r.clone()].to_vec(),
                },
                None => g.clone(),
            };
        }
        let mut at: HashMap<Ref, usize> = HashMap::with_capacity(c.inputs);
        let mut x: Vec<Ref> = Vec::with_capacity(c.inputs);
        for g in groups {
            for &r in &g.x {
                at.entry(r).or_insert_with(|| {
                    x.push(r);
                    x.len() - 1
                });
            }
        }
        let mut out = Vec::with_capacity(c.outputs);
        let mut bias = Vec::with_capacity(c.outputs);
        let mut w = Vec::with_capacity(c.outputs);
        for g in groups {
            out.extend_from_slice(&g.out);
            bias.extend_from_slice(&g.bias);
            for row in &g.w {
                let mut full = vec![0i64; x.len()];
                for (r, &v) in g.x.iter().zip(row) {
                    full[at[r]] = v;
                }
                w.push(full);
            }
        }
        Group { x, out, bias, w }
    }

    /// The Freivalds chip's packing for this layer: up to `ctx.freivalds_pack` outputs per
    /// weight cell, separated by `t` bits, where every output's error
    /// `e = (b + Σ w·x) − z` times `2^s` is an integer below `2^(t−1)`, as the chip's argument
    /// needs (its module doc):
    /// - `|b + Σ w·x| < 2^61`: every input is a bounded activation or a range-checked input,
    ///   and quantization checks the worst case over that range against
    ///   [`ACCUMULATOR_BITS`];
    /// - the claimed accumulator `z` is rescaled by the rescale chip,
    ///   `z = y·2^d + r − 2^(d−1)`, with `y = hi·2^R + lo` of `bits` signed bits (limbs in the
    ///   tables: integers) and the remainder `r` a sum of limbs in `[0, 2^R)` times powers of
    ///   two, `r ∈ [0, 2^d)`; so `|z| ≤ 2^(bits−1+d) + 2^d ≤ 2^(bits+d)`. The limbs' scales
    ///   `2^(d−R)` (and `2^(d−2R)`) are inverse powers of two when `d < limbs·R`: nothing
    ///   but the check itself makes `z` an integer, so `z` is a multiple of `2^−s`,
    ///   `s = limbs·R − d` (0 at `d = 0`, where the limbs are pinned to 0);
    /// - so `2^s·e` is an integer below `2^(s + max(61, bits+d) + 1)`: `t = s + max(61,
    ///   bits + d) + 2`.
    ///
    /// Only bounded layers pack: an unbounded (public output) element that is never published
    /// has a free `y`, whose error could cancel a published partner's; unpacked, such a free
    /// cell is harmless (`ρ` is drawn after it is committed).
    pub fn packing(&self, ctx: &NodeCtx) -> Packing {
        if !self.bounded {
            return Packing::NONE;
        }
        let fraction = if self.shift == 0 {
            0
        } else {
            (ctx.remainder_limbs * ctx.range_bits).saturating_sub(self.shift)
        };
        let bound = (ACCUMULATOR_BITS - 1).max(self.bits(ctx) + self.shift) + 1;
        Packing::at_most(ctx.freivalds_pack, fraction + bound + 1)
    }

    /// Whether the layer is checked Freivalds-style: when the circuit has the chip and its
    /// advice cells (two columns: inputs and outputs, accumulator) are fewer than the dense
    /// chip's (`L + 1` columns).
    pub fn uses_freivalds(&self, ctx: &NodeCtx) -> bool {
        self.freivalds_checks(ctx).is_some()
    }

    /// The rows of each Freivalds check when the layer uses the chip ([`Self::uses_freivalds`]),
    /// computed once for the callers that need both answers (the plan asks every layer for
    /// every layout it tries).
    fn freivalds_checks(&self, ctx: &NodeCtx) -> Option<Vec<usize>> {
        if ctx.freivalds == 0 {
            return None;
        }
        let rows = self.freivalds_group_rows(ctx);
        (2 * rows.iter().sum::<usize>() < (ctx.lanes + 1) * self.dense_rows(ctx.lanes))
            .then_some(rows)
    }

    fn accumulators(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        let n = ctx.node.len();
        let mut acc = vec![0i64; n];
        let overflow = || WitnessError::Overflow {
            node: ctx.node.name.clone(),
        };
        for g in &self.groups {
            let xs: Vec<i64> =
                g.x.iter()
                    .map(|&r| x.at(r))
                    .collect::<Option<_>>()
                    .ok_or_else(overflow)?;
            for ((&j, &b), w) in g.out.iter().zip(&g.bias).zip(&g.w) {
                let slot = acc.get_mut(j as usize).ok_or_else(overflow)?;
                *slot = dot(w, &xs, b).ok_or_else(overflow)?;
            }
        }
        Ok(acc)
    }

    fn bits(&self, ctx: &NodeCtx) -> u32 {
        if self.bounded {
            ctx.activation_bits
        } else {
            ctx.output_bits
        }
    }
}

/// Rescales `acc` by `2^d`, checks every value against `bits` and applies ReLU if asked: the
/// fixed-point semantics of one rescale-chip call.
pub fn rescale_checked(
    ctx: &NodeCtx,
    acc: &[i64],
    d: u32,
    bits: u32,
    with_relu: bool,
) -> Result<Vec<i64>, WitnessError> {
    acc.iter()
        .enumerate()
        .map(|(index, &z)| {
            let y = rescale(z, d).0;
            if !fits_signed(y, bits) {
                return Err(WitnessError::ActivationRange {
                    node: ctx.node.name.clone(),
                    index,
                    value: dequantize(y, ctx.scale),
                    bound: dequantize(1i64 << (bits - 1), ctx.scale),
                });
            }
            Ok(if with_relu { relu(y) } else { y })
        })
        .collect()
}

impl QuantOpImpl for QuantLinear {
    fn refs(&self) -> Vec<Ref> {
        self.groups.iter().flat_map(|g| g.x.clone()).collect()
    }

    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        let acc = self.accumulators(ctx, x)?;
        rescale_checked(ctx, &acc, self.shift, self.bits(ctx), self.relu)
    }

    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        let bad = || WitnessError::Overflow {
            node: ctx.node.name.clone(),
        };
        let acc = self.accumulators(ctx, x)?;
        let rescale: Vec<RescaleWitness> = acc
            .iter()
            .map(|&z| RescaleWitness::compute(z, self.shift, ctx.range_bits))
            .collect();
        if self.uses_freivalds(ctx) {
            // the checked outputs of each group are its accumulators
            let freivalds = self
                .freivalds_chunks(ctx)
                .iter()
                .map(|c| {
                    c.outputs_of(&self.groups)
                        .into_iter()
                        .map(|j| acc.get(j as usize).copied())
                        .collect()
                })
                .collect::<Option<Vec<Vec<i64>>>>()
                .ok_or_else(bad)?;
            return Ok(NodeWitness {
                freivalds,
                rescale: vec![rescale],
                ..NodeWitness::default()
            });
        }
        let dense = self
            .groups
            .iter()
            .map(|g| {
                let xs = x.all(g.x.iter().copied())?;
                DenseWitness::compute(ctx.lanes, &g.w, &g.bias, &xs)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        Ok(NodeWitness {
            dense,
            rescale: vec![rescale],
            ..NodeWitness::default()
        })
    }

    fn cost(&self, ctx: &NodeCtx) -> Cost {
        if let Some(rows) = self.freivalds_checks(ctx) {
            return Cost {
                freivalds_rows: rows.iter().sum(),
                rescale_rows: ctx.node.len(),
                ..Cost::default()
            };
        }
        Cost {
            dense_rows: self.dense_rows(ctx.lanes),
            rescale_rows: ctx.node.len(),
            ..Cost::default()
        }
    }

    fn freivalds_groups(&self, ctx: &NodeCtx) -> Vec<usize> {
        self.freivalds_checks(ctx).unwrap_or_default()
    }

    fn freivalds_splits(&self, ctx: &NodeCtx) -> bool {
        ctx.freivalds_split > 1
            && self.uses_freivalds(ctx)
            && self.freivalds_chunks(ctx).iter().any(|c| c.part.is_some())
    }

    fn freivalds_merges(&self, ctx: &NodeCtx) -> bool {
        // (a check of several groups: split checks can make the counts alone equal)
        ctx.freivalds_merge
            && self.uses_freivalds(ctx)
            && self
                .freivalds_chunks(ctx)
                .iter()
                .any(|c| c.groups.len() > 1)
    }

    fn freivalds_pack(&self, ctx: &NodeCtx) -> usize {
        if self.uses_freivalds(ctx) {
            self.packing(ctx).factor
        } else {
            1
        }
    }

    fn max_shift(&self) -> u32 {
        self.shift
    }

    fn describe(&self) -> String {
        let macs: usize = self.groups.iter().map(|g| g.x.len() * g.out.len()).sum();
        format!(
            "linear: {} groups, {macs} MACs, shift {}{}{}",
            self.groups.len(),
            self.shift,
            if self.relu { ", relu" } else { "" },
            if self.bounded { "" } else { ", public output" }
        )
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for QuantLinear {
    fn synthesize(
        &self,
        ctx: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let mut acc: Vec<Option<Wire<Fr>>> = vec![None; ctx.node.len()];
        let freivalds = self.uses_freivalds(ctx);
        // a merged check's weights are built when it is laid out, one at a time
        let chunks = if freivalds {
            self.freivalds_chunks(ctx)
        } else {
            Vec::new()
        };
        let n_checks = if freivalds {
            chunks.len()
        } else {
            self.groups.len()
        };
        let checks = (0..n_checks).map(|i| {
            if freivalds {
                std::borrow::Cow::Owned(self.chunk_check(&chunks[i]))
            } else {
                std::borrow::Cow::Borrowed(&self.groups[i])
            }
        });
        for g in checks {
            let xs: Vec<Wire<Fr>> =
                g.x.iter()
                    .map(|&r| x.at(r))
                    .collect::<Option<_>>()
                    .ok_or(Error::Synthesis)?;
            let out = if freivalds {
                // the bank the plan's balance gives the check, or the one with the fewest
                // rows (the first on a tie), as the plan counts
                let chip = match chips.freivalds_order.as_mut() {
                    Some(order) => {
                        let bank = order.pop_front().ok_or(Error::Synthesis)?;
                        chips.freivalds.get_mut(bank)
                    }
                    None => chips.freivalds.iter_mut().min_by_key(|c| c.next_row()),
                }
                .ok_or(Error::Synthesis)?;
                chip.check(
                    layouter,
                    &xs,
                    &g.w,
                    &g.bias,
                    w.freivalds()?,
                    self.packing(ctx),
                )?
            } else {
                chips
                    .dense()?
                    .dense(layouter, &xs, &g.w, &g.bias, w.dense()?)?
            };
            for (&j, wire) in g.out.iter().zip(out) {
                *acc.get_mut(j as usize).ok_or(Error::Synthesis)? = Some(wire);
            }
        }
        let acc: Vec<Wire<Fr>> = acc
            .into_iter()
            .collect::<Option<_>>()
            .ok_or(Error::Synthesis)?;
        let out = chips
            .rescale
            .rescale(layouter, &acc, self.shift, self.bounded, w.rescale()?)?;
        // `relu` is `None` on unbounded rows, where the chip does not give it
        out.into_iter()
            .map(|r| {
                if self.relu {
                    r.relu.ok_or(Error::Synthesis)
                } else {
                    Ok(r.y)
                }
            })
            .collect()
    }
}

/// Fuses a ReLU into the Linear before it when nothing else reads the Linear's output.
pub fn fuse_relu(g: &mut FloatGraph) {
    let consumers = g.consumers();
    let n_in = g.inputs.len();
    for i in 0..g.nodes.len() {
        if !matches!(g.nodes[i].op, FloatOp::Relu(_)) {
            continue;
        }
        let src = g.nodes[i].inputs[0];
        let fusable = src >= n_in
            && consumers[src].len() == 1
            && !g.outputs.contains(&src)
            && matches!(&g.nodes[src - n_in].op, FloatOp::Linear(l) if !l.relu);
        if fusable {
            if let FloatOp::Linear(l) = &mut g.nodes[src - n_in].op {
                l.relu = true;
            }
            g.replace_uses(n_in + i, src);
        }
    }
    g.retain_used();
}

/// Whether `B` (reading `A` in input slot `slot`) may take `A` in although its rows read more
/// than one element of `A`: every row of `B` reads exactly one element of `A`, no element of
/// `A` is read by two rows of `B` (a broadcast would copy `A`'s row into each reader), and the
/// folded rows read no more distinct element sets than `A`'s rows do (nothing splits `A`'s
/// groups, so no layout takes more rows than `A` alone: the folded layer's groups are `A`'s,
/// each reading what it read). That is a residual Add whose skip elements are among the
/// elements its convolution's positions read already (`conv1(relu(conv0(x))) + relu(conv0(x))`
/// in residual_conv, where the skip is the centre tap of the patch); a skip from elsewhere
/// (`conv2(relu(conv1(x))) + x`) would give each output a group of its own and stays a layer
/// of its own.
fn fold_keeps_groups(
    la: &Linear<f64>,
    a_inputs: &[TensorId],
    lb: &Linear<f64>,
    b_inputs: &[TensorId],
    slot: usize,
) -> bool {
    use std::collections::HashSet;
    type Key = Vec<(Option<TensorId>, u32)>;
    let elem = |inputs: &[TensorId], r: Ref| (inputs.get(r.slot()).copied(), r.1);
    let key_of = |mut k: Key| {
        k.sort_unstable();
        k.dedup();
        k
    };
    let mut read: HashSet<u32> = HashSet::new();
    let mut fused: HashSet<Key> = HashSet::new();
    for r in &lb.rows {
        let mut from_a = r.terms.iter().filter(|e| e.0.slot() == slot);
        let (Some(e), None) = (from_a.next(), from_a.next()) else {
            return false;
        };
        let Some(ra) = la.rows.get(e.0.idx()) else {
            return false;
        };
        if !read.insert(e.0 .1) {
            return false;
        }
        fused.insert(key_of(
            ra.terms
                .iter()
                .map(|t| elem(a_inputs, t.0))
                .chain(
                    r.terms
                        .iter()
                        .filter(|t| t.0.slot() != slot)
                        .map(|t| elem(b_inputs, t.0)),
                )
                .collect(),
        ));
    }
    let own: HashSet<Key> = la
        .rows
        .iter()
        .map(|ra| key_of(ra.terms.iter().map(|t| elem(a_inputs, t.0)).collect()))
        .collect();
    fused.len() <= own.len()
}

/// Folds a Linear `A` into a Linear `B` that is its only reader when every row of `B` reads at
/// most one element of `A` and nothing else (a bias add, a per-channel scale, BatchNorm), or
/// elements of other tensors too without splitting `A`'s groups ([`fold_keeps_groups`]: a
/// residual Add whose skip its convolution reads already): one rescale instead of two, no
/// rounding in between.
pub fn fuse_linear(g: &mut FloatGraph) {
    loop {
        let consumers = g.consumers();
        let n_in = g.inputs.len();
        let candidate = (0..g.nodes.len()).find_map(|b| {
            let FloatOp::Linear(lb) = &g.nodes[b].op else {
                return None;
            };
            g.nodes[b]
                .inputs
                .iter()
                .enumerate()
                .find(|&(slot, &t)| {
                    t >= n_in
                        && consumers[t].len() == 1
                        && !g.outputs.contains(&t)
                        && g.nodes[b].inputs.iter().filter(|&&u| u == t).count() == 1
                        && matches!(&g.nodes[t - n_in].op, FloatOp::Linear(la) if !la.relu
                        && (lb.rows.iter().all(|r| {
                            r.terms.len() <= 1 && r.terms.iter().all(|e| e.0.slot() == slot)
                        }) || fold_keeps_groups(
                            la,
                            &g.nodes[t - n_in].inputs,
                            lb,
                            &g.nodes[b].inputs,
                            slot,
                        )))
                })
                .map(|(slot, &t)| (b, slot, t - n_in))
        });
        let Some((b, slot, a)) = candidate else { break };
        let (FloatOp::Linear(la), FloatOp::Linear(lb)) = (&g.nodes[a].op, &g.nodes[b].op) else {
            break;
        };
        // New inputs: B's other inputs, then A's inputs.
        let b_inputs = &g.nodes[b].inputs;
        let mut inputs: Vec<TensorId> = Vec::new();
        let slot_of = |t: TensorId, inputs: &mut Vec<TensorId>| -> u32 {
            match inputs.iter().position(|&u| u == t) {
                Some(p) => p as u32,
                None => {
                    inputs.push(t);
                    (inputs.len() - 1) as u32
                }
            }
        };
        let b_map: Vec<u32> = b_inputs
            .iter()
            .enumerate()
            .map(|(s, &t)| {
                if s == slot {
                    u32::MAX
                } else {
                    slot_of(t, &mut inputs)
                }
            })
            .collect();
        let a_map: Vec<u32> = g.nodes[a]
            .inputs
            .iter()
            .map(|&t| slot_of(t, &mut inputs))
            .collect();
        let rows = lb
            .rows
            .iter()
            .map(|r| {
                let mut out = Row {
                    bias: r.bias,
                    terms: Vec::new(),
                };
                for &(e, w) in &r.terms {
                    if e.slot() == slot {
                        let ra = &la.rows[e.idx()];
                        out.bias += w * ra.bias;
                        out.terms.extend(
                            ra.terms
                                .iter()
                                .map(|&(ea, wa)| (Ref(a_map[ea.slot()], ea.1), w * wa)),
                        );
                    } else {
                        out.terms.push((Ref(b_map[e.slot()], e.1), w));
                    }
                }
                out
            })
            .collect();
        let fused = Linear {
            rows,
            relu: lb.relu,
        }
        .normalized();
        g.nodes[b].op = FloatOp::Linear(fused);
        g.nodes[b].inputs = inputs;
        // A is now unread.
        g.retain_used();
    }
}
