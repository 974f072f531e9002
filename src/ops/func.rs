//! Core op `Func`: `y = f(x)` element-wise for a function of the registry
//! ([`super::funcs`]): Sigmoid, Tanh, Exp, Log, Sqrt, Erf, GELU, Softplus, …
//!
//! Proved by piecewise-linear lookup (the function chip, `zkinfer_circuits::func`): the input
//! `x` (scale `s_x`) is split `x = hi·2^r + lo`; the table holds, for every segment `hi` of the
//! analysed domain, `f0 = round(f(hi·2^r / 2^s_x)·2^t)` and `slope = f0(hi + 1) − f0(hi)`;
//! the chip computes `acc = f0·2^r + slope·lo` (scale `t + r`) and the rescale chip brings it to
//! `y` at `t = s_y` (shift `r`, so one remainder limb). Consecutive segments meet exactly at
//! their ends, so the error is the interpolation error of `f` over segments of `2^(r − s_x)`
//! (at most `h²/8·max|f''|`) plus one output rounding.
//!
//! Table size from range analysis: the domain is the calibrated `±headroom·max|x|` (every
//! representable input without calibration data), the segment width `2^r` the smallest that
//! fits the domain in the row budget (the `2^(B+1)` rows of `k = B + 1`, less halo2's reserved
//! rows, shared by the model's distinct tables, so the tables do not raise `k`). Segments where
//! `f` is undefined or leaves the output range are left out, except that a function defined
//! on `x > 0` (log, rsqrt, 1/x) saturates on `[0, 2^r)` at its value at `2^r`. An input outside
//! the table is a witness error naming the node (recalibrate), never a wrong proof: the lookup
//! cannot be satisfied. Uniform segments are coarse where `f` is steep (1/x, rsqrt near 0).
//! Identical tables (one function at the same scales) share one tag.

use super::funcs::{lookup, FuncDef};
use super::{
    linear::rescale_checked, Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp,
    QuantOpImpl, Synthesize, WitnessCursor,
};
use crate::graph::{Graph, Inputs, Ref};
use crate::quantize::{QuantizeError, HEADROOM};
use crate::witness::{dequantize, WitnessError};
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    func::{FuncInstructions, FuncWitness, Segment},
    rescale::{RescaleInstructions, RescaleWitness},
    Wire,
};

/// The float op.
#[derive(Clone, Debug, PartialEq)]
pub struct Func {
    /// Registry name.
    pub name: String,
    /// Parameters (ONNX attributes), see the registry entry.
    pub params: Vec<f64>,
    /// Number of elements.
    pub len: usize,
}

impl Func {
    fn def(&self) -> Option<&'static FuncDef> {
        lookup(&self.name)
    }
    fn value(&self, x: f64) -> f64 {
        match self.def() {
            Some(d) if d.domain.contains(x) => (d.f)(x, &self.params),
            _ => f64::NAN,
        }
    }
}

impl FloatOpImpl for Func {
    fn refs(&self) -> Vec<Ref> {
        (0..self.len as u32).map(|i| Ref(0, i)).collect()
    }
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        (0..self.len as u32)
            .map(|i| self.value(x.at(Ref(0, i)).unwrap_or(0.0)))
            .collect()
    }
    fn keeps_scale(&self) -> bool {
        false
    }
    fn output_needs_bound(&self) -> bool {
        true
    }
    fn quantize(&self, ctx: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        self.def().ok_or_else(|| {
            QuantizeError::Graph(format!(
                "node `{}`: unknown function {}",
                ctx.name, self.name
            ))
        })?;
        let s_in = ctx.in_scales.first().copied().unwrap_or(0);
        let bits = ctx.activation_bits();
        let big = (1i64 << (bits - 1)) - 1;
        // domain in input integers
        // the calibrated range with headroom; without calibration data, every representable
        // input (functions flat at both ends stay in range there; others lose the segments
        // whose values leave the output range)
        let bound = match ctx.in_max.as_ref().and_then(|m| m.first()) {
            Some(&m) => ((m * HEADROOM * 2f64.powi(s_in as i32)).ceil() as i64).clamp(1, big),
            None => big,
        };
        let (lo_x, hi_x) = (-bound - 1, bound);
        let range_bits = ctx.table_bits;
        let budget = ctx.func_budget.max(2) as i64;
        let count = |r: u32| hi_x.div_euclid(1 << r) - lo_x.div_euclid(1 << r) + 1;
        let r = (0..=range_bits)
            .find(|&r| count(r) <= budget)
            .unwrap_or(range_bits);
        let t = ctx.out_scale;
        let q = |hi: i64| -> Option<i64> {
            let x = (hi * (1 << r)) as f64 / 2f64.powi(s_in as i32);
            let y = (self.value(x) * 2f64.powi(t as i32)).round();
            (y.is_finite() && y.abs() < big as f64).then_some(y as i64)
        };
        let mut segments = Vec::new();
        for hi in lo_x.div_euclid(1 << r)..=hi_x.div_euclid(1 << r) {
            match (q(hi), q(hi + 1)) {
                (Some(f0), Some(f1)) => segments.push((hi, f0, f1 - f0)),
                // a function defined on x > 0 (log, rsqrt, 1/x) saturates below its first
                // representable point: [0, 2^r) takes the value at 2^r
                (None, Some(f1)) if hi == 0 => segments.push((0, f1, 0)),
                _ => {}
            }
        }
        if segments.is_empty() {
            return Err(QuantizeError::TooLarge {
                node: ctx.name.to_string(),
                max: f64::INFINITY,
                bits,
            });
        }
        Ok(QuantOp::Func(QuantFunc {
            name: self.name.clone(),
            len: self.len,
            tag: 0,
            r,
            segments,
        }))
    }
}

/// The fixed-point op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantFunc {
    /// Registry name (for reports).
    pub name: String,
    /// Number of elements.
    pub len: usize,
    /// The table variant (from 1; equal tables share one).
    pub tag: u64,
    /// Segment width `2^r` (and the rescale shift).
    pub r: u32,
    /// `(hi, f0, slope)` per segment, sorted by `hi`.
    pub segments: Vec<(i64, i64, i64)>,
}

impl QuantFunc {
    fn segment(&self, hi: i64) -> Option<(i64, i64)> {
        self.segments
            .binary_search_by_key(&hi, |s| s.0)
            .ok()
            .map(|i| (self.segments[i].1, self.segments[i].2))
    }

    /// The table rows of this variant.
    pub fn table(&self) -> Vec<Segment> {
        self.segments
            .iter()
            .map(|&(hi, f0, slope)| Segment {
                tag: self.tag,
                hi,
                f0,
                slope,
            })
            .collect()
    }

    fn witnesses(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<FuncWitness>, WitnessError> {
        (0..self.len as u32)
            .map(|i| {
                let v = x.at(Ref(0, i)).ok_or_else(|| WitnessError::Overflow {
                    node: ctx.node.name.clone(),
                })?;
                FuncWitness::compute(v, self.r, |hi| self.segment(hi)).ok_or_else(|| {
                    let s_in = ctx.in_scales.first().copied().unwrap_or(0);
                    let first = self.segments.first().map_or(0, |s| s.0);
                    let last = self.segments.last().map_or(0, |s| s.0);
                    WitnessError::OutsideTable {
                        node: ctx.node.name.clone(),
                        func: self.name.clone(),
                        index: i as usize,
                        value: dequantize(v, s_in),
                        lo: dequantize(first << self.r, s_in),
                        hi: dequantize((last + 1) << self.r, s_in),
                    }
                })
            })
            .collect()
    }
}

impl QuantOpImpl for QuantFunc {
    fn refs(&self) -> Vec<Ref> {
        (0..self.len as u32).map(|i| Ref(0, i)).collect()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        let acc: Vec<i64> = self.witnesses(ctx, x)?.iter().map(|w| w.acc).collect();
        rescale_checked(ctx, &acc, self.r, ctx.activation_bits, false)
    }
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        let w = self.witnesses(ctx, x)?;
        let rescale = w
            .iter()
            .map(|w| RescaleWitness::compute(w.acc, self.r, ctx.range_bits))
            .collect();
        Ok(NodeWitness {
            rescale: vec![rescale],
            func: vec![w],
            ..NodeWitness::default()
        })
    }
    fn cost(&self, _: &NodeCtx) -> Cost {
        Cost {
            rescale_rows: self.len,
            func_rows: self.len,
            ..Cost::default()
        }
    }
    fn max_shift(&self) -> u32 {
        self.r
    }
    fn describe(&self) -> String {
        format!(
            "{}: table tag {}, {} segments of 2^{}",
            self.name,
            self.tag,
            self.segments.len(),
            self.r
        )
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for QuantFunc {
    fn synthesize(
        &self,
        _: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let xs = x
            .all((0..self.len as u32).map(|i| Ref(0, i)))
            .ok_or(Error::Synthesis)?;
        let chip = chips.func.as_mut().ok_or(Error::Synthesis)?;
        let acc = chip.interpolate(layouter, &xs, self.tag, self.r, w.func()?)?;
        let out = chips
            .rescale
            .rescale(layouter, &acc, self.r, true, w.rescale()?)?;
        Ok(out.into_iter().map(|r| r.y).collect())
    }
}

/// A table's identity: segment bits and segments.
type TableKey = (u32, Vec<(i64, i64, i64)>);

/// Gives every distinct table a tag (from 1); nodes with equal tables share it.
pub fn assign_tags(g: &mut Graph<QuantOp>) {
    let mut seen: Vec<TableKey> = Vec::new();
    for n in &mut g.nodes {
        if let QuantOp::Func(f) = &mut n.op {
            let key = (f.r, f.segments.clone());
            let tag = match seen.iter().position(|k| *k == key) {
                Some(i) => i + 1,
                None => {
                    seen.push(key);
                    seen.len()
                }
            };
            f.tag = tag as u64;
        }
    }
}

/// Every distinct table of the model (one entry per tag).
pub fn tables(g: &Graph<QuantOp>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut done: Vec<u64> = Vec::new();
    for n in &g.nodes {
        if let QuantOp::Func(f) = &n.op {
            if !done.contains(&f.tag) {
                done.push(f.tag);
                out.extend(f.table());
            }
        }
    }
    out
}

/// Checks that nodes sharing a tag share their table (model.json is read back from disk).
pub fn check_tags(g: &Graph<QuantOp>) -> Result<(), String> {
    let mut seen: Vec<(u64, &QuantFunc)> = Vec::new();
    for n in &g.nodes {
        if let QuantOp::Func(f) = &n.op {
            match seen.iter().find(|(t, _)| *t == f.tag) {
                Some((_, other)) if other.r != f.r || other.segments != f.segments => {
                    return Err(format!(
                        "node `{}` shares table tag {} with another node but not its table",
                        n.name, f.tag
                    ));
                }
                Some(_) => {}
                None if f.tag == 0 => return Err(format!("node `{}` has no table tag", n.name)),
                None => seen.push((f.tag, f)),
            }
        }
    }
    Ok(())
}
