//! Core op `Func`: `y = f(x)` element-wise for a function of the registry
//! ([`super::funcs`]): Sigmoid, Tanh, Exp, Log, Sqrt, Erf, GELU, Softplus, …
//!
//! Proved by piecewise-linear lookup (the function chip, `zkinfer_circuits::func`): the table
//! holds disjoint segments `[start, start + 2^r)` of the integer input `x` (scale `s_x`), each
//! with `f0 = round(f(start / 2^s_x)·2^t)` and `slope = f0(end) − f0(start)`; the chip proves
//! the segment holding `x` and `acc = f0·2^R + slope·(x − start)·2^(R−r)` (scale `t + R`), and
//! the rescale chip brings it to `y` at `t = s_y` (shift `R`, one remainder limb). Consecutive
//! segments meet exactly at their ends, so the error is the interpolation error of `f` over
//! each segment (at most `h²/8·max|f''|` for a width `h`) plus one output rounding.
//!
//! Table size from range analysis: the domain is the calibrated `[min, max]` of the input,
//! each end pushed away from zero by the headroom factor (every representable input without
//! calibration data); so exp after a softmax's max-subtraction (inputs ≤ 0) spends no rows on
//! positive inputs. The segments are chosen greedily from the left, each as wide as the
//! tolerance `τ` allows (`f` sampled at 17 points per segment), with `τ` the smallest (down to
//! a quarter of an output unit) whose segments fit the row budget: the `2^(B+1)` rows of
//! `k = B + 1`, less halo2's reserved rows, shared by the model's distinct tables, so the
//! tables do not raise `k`. Steep regions (1/x and rsqrt near 0, exp's upper end) get narrow
//! segments, flat ones wide. Inputs where `f` is undefined or leaves the output range get no
//! segment, except that a function defined on `x > 0` (log, rsqrt, 1/x) takes its value at
//! one unit on `x = 0`. An input outside the table is a witness error naming the node
//! (recalibrate), never a wrong proof: the lookup cannot be satisfied. Identical tables (one
//! function at the same scales and domain) share one tag.

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
        let def = self.def().ok_or_else(|| {
            QuantizeError::Graph(format!(
                "node `{}`: unknown function {}",
                ctx.name, self.name
            ))
        })?;
        let s_in = ctx.in_scales.first().copied().unwrap_or(0);
        let bits = ctx.activation_bits();
        let big = (1i64 << (bits - 1)) - 1;
        // the domain in input integers: the calibrated range with each end pushed away from
        // zero by the headroom, or every representable input without calibration data
        // (the lower end goes down, the upper end up)
        let to_int = |v: f64, up: bool| {
            let h = if (v > 0.0) == up {
                HEADROOM
            } else {
                1.0 / HEADROOM
            };
            (v * h * 2f64.powi(s_in as i32)).clamp(-(big as f64) - 1.0, big as f64)
        };
        let (lo_x, hi_x) = match ctx.in_range.as_ref().and_then(|r| r.first()) {
            Some(&(lo, hi)) if lo <= hi => (
                to_int(lo, false).floor() as i64,
                to_int(hi, true).ceil() as i64,
            ),
            _ => (-big - 1, big),
        };
        let t = ctx.out_scale;
        let fv = |x: i64| -> Option<f64> {
            let y = self.value(x as f64 / 2f64.powi(s_in as i32)) * 2f64.powi(t as i32);
            (y.is_finite() && y.abs() < big as f64).then_some(y)
        };
        let positive = def.domain == super::funcs::Domain::Positive;
        let segments = build_segments(
            &fv,
            (lo_x, hi_x),
            ctx.table_bits,
            ctx.func_budget.max(2),
            positive,
        );
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
            shift: ctx.table_bits,
            segments,
        }))
    }
}

/// Smallest interpolation tolerance worth buying rows for, in output units (the output is
/// rounded to one unit anyway).
const MIN_TOLERANCE: f64 = 0.25;
/// Largest interpolation tolerance accepted to keep a table within its row budget, in output
/// units; beyond it the table takes more rows (and `k` grows).
const MAX_TOLERANCE: f64 = 4.0;
/// Rows beyond which a function table stops growing.
const MAX_TABLE_ROWS: usize = 1 << 20;
/// Points of `f` sampled per segment when checking the tolerance.
const SAMPLES: i64 = 16;

/// Greedy segments over `[a, b]` at tolerance `tol` (`None` once more than `limit`).
fn segments_at(
    fv: &dyn Fn(i64) -> Option<f64>,
    (a, b): (i64, i64),
    big_r: u32,
    tol: f64,
    limit: usize,
    positive: bool,
) -> Option<Vec<(i64, u32, i64, i64)>> {
    // the segment [p, p + 2^r) with rounded ends, if it stays within `tol` of f
    let fit = |p: i64, r: u32| -> Option<(i64, i64)> {
        let w = 1i64 << r;
        let (y0, y1) = (fv(p)?, fv(p + w)?);
        let step = (w / SAMPLES).max(1);
        let mut x = p + step;
        while x < p + w {
            // the interpolation error of f itself (the rounded ends add at most half a unit)
            let line = y0 + (y1 - y0) * (x - p) as f64 / w as f64;
            if (fv(x)? - line).abs() > tol {
                return None;
            }
            x += step;
        }
        let (f0, f1) = (y0.round() as i64, y1.round() as i64);
        Some((f0, f1 - f0))
    };
    let mut out = Vec::new();
    let mut p = a;
    let mut r_prev = 0u32;
    while p <= b {
        if fv(p).is_none() {
            if p == 0 && positive {
                // x = 0 of a function on x > 0: the value at one unit
                if let Some(f1) = fv(1) {
                    out.push((0, 0, f1.round() as i64, 0));
                    p = 1;
                    if out.len() > limit {
                        return None;
                    }
                    continue;
                }
            }
            // skip undefined or out-of-range inputs, by the largest power of two that lands
            // on another such input (at least one)
            let mut j = 0;
            while j < big_r && fv(p + (2 << j)).is_none() {
                j += 1;
            }
            p += 1 << j;
            continue;
        }
        // the widest fitting segment, searched from the previous width
        let mut r = (r_prev + 1).min(big_r);
        let mut seg = fit(p, r);
        if seg.is_some() {
            while r < big_r {
                match fit(p, r + 1) {
                    Some(s) => {
                        seg = Some(s);
                        r += 1;
                    }
                    None => break,
                }
            }
        } else {
            while seg.is_none() && r > 0 {
                r -= 1;
                seg = fit(p, r);
            }
        }
        let (f0, slope) = seg.unwrap_or((fv(p)?.round() as i64, 0));
        out.push((p, r, f0, slope));
        if out.len() > limit {
            return None;
        }
        r_prev = r;
        p += 1 << r;
    }
    Some(out)
}

/// Segments of `f` (values at the output scale, `None` where undefined or out of range) over
/// the input domain `[a, b]`, at the smallest tolerance whose table fits `budget` rows. When
/// not even [`MAX_TOLERANCE`] fits, the budget doubles (the plan then raises `k`) rather than
/// the tolerance: a table never trades accuracy beyond a few output units for rows.
fn build_segments(
    fv: &dyn Fn(i64) -> Option<f64>,
    domain: (i64, i64),
    big_r: u32,
    budget: usize,
    positive: bool,
) -> Vec<(i64, u32, i64, i64)> {
    let at = |tol: f64, limit: usize| segments_at(fv, domain, big_r, tol, limit, positive);
    let mut budget = budget;
    let mut best = loop {
        if let Some(s) = at(MIN_TOLERANCE, budget) {
            return s;
        }
        if let Some(s) = at(MAX_TOLERANCE, budget) {
            break s;
        }
        if budget >= MAX_TABLE_ROWS {
            // wider than any table zkinfer builds: the coarsest within the tolerance anyway
            return at(MAX_TOLERANCE, usize::MAX).unwrap_or_default();
        }
        budget *= 2;
    };
    // bisect (geometrically) towards the smallest tolerance that fits
    let (mut lo, mut hi) = (MIN_TOLERANCE, MAX_TOLERANCE);
    for _ in 0..10 {
        let mid = (lo * hi).sqrt();
        match at(mid, budget) {
            Some(s) => {
                best = s;
                hi = mid;
            }
            None => lo = mid,
        }
    }
    best
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
    /// The rescale shift `R` (the range table's bits; `acc` is at `2^R` times the table scale).
    pub shift: u32,
    /// `(start, r, f0, slope)` per segment `[start, start + 2^r)`, sorted by `start`.
    pub segments: Vec<(i64, u32, i64, i64)>,
}

impl QuantFunc {
    /// The segment holding input `x`, as `(start, r, f0, slope)`.
    pub fn segment_of(&self, x: i64) -> Option<(i64, u32, i64, i64)> {
        let i = self.segments.partition_point(|s| s.0 <= x).checked_sub(1)?;
        let s = self.segments[i];
        (x - s.0 < 1i64 << s.1.min(62)).then_some(s)
    }

    /// The table rows of this variant.
    pub fn table(&self) -> Vec<Segment> {
        self.segments
            .iter()
            .map(|&(start, r, f0, slope)| Segment {
                tag: self.tag,
                start,
                r,
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
                let w = self.segment_of(v).and_then(|(start, r, f0, slope)| {
                    let seg = Segment {
                        tag: self.tag,
                        start,
                        r,
                        f0,
                        slope,
                    };
                    FuncWitness::compute(v, self.shift, &seg)
                });
                w.ok_or_else(|| {
                    let s_in = ctx.in_scales.first().copied().unwrap_or(0);
                    let first = self.segments.first().map_or(0, |s| s.0);
                    let end = self.segments.last().map_or(0, |s| s.0 + (1 << s.1));
                    WitnessError::OutsideTable {
                        node: ctx.node.name.clone(),
                        func: self.name.clone(),
                        index: i as usize,
                        value: dequantize(v, s_in),
                        lo: dequantize(first, s_in),
                        hi: dequantize(end, s_in),
                    }
                })
            })
            .collect()
    }

    fn check_shift(&self, ctx: &NodeCtx) -> Result<(), WitnessError> {
        if self.shift == ctx.range_bits {
            Ok(())
        } else {
            Err(WitnessError::Overflow {
                node: ctx.node.name.clone(),
            })
        }
    }
}

impl QuantOpImpl for QuantFunc {
    fn refs(&self) -> Vec<Ref> {
        (0..self.len as u32).map(|i| Ref(0, i)).collect()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        self.check_shift(ctx)?;
        let acc: Vec<i64> = self.witnesses(ctx, x)?.iter().map(|w| w.acc).collect();
        rescale_checked(ctx, &acc, self.shift, ctx.activation_bits, false)
    }
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        self.check_shift(ctx)?;
        let w = self.witnesses(ctx, x)?;
        let rescale = w
            .iter()
            .map(|w| RescaleWitness::compute(w.acc, self.shift, ctx.range_bits))
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
        self.shift
    }
    fn describe(&self) -> String {
        let (lo, hi) = self
            .segments
            .iter()
            .fold((u32::MAX, 0), |(lo, hi), s| (lo.min(s.1), hi.max(s.1)));
        format!(
            "{}: table tag {}, {} segments of 2^{lo}..2^{hi}",
            self.name,
            self.tag,
            self.segments.len(),
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
        let acc = chip.interpolate(layouter, &xs, self.tag, w.func()?)?;
        let out = chips
            .rescale
            .rescale(layouter, &acc, self.shift, true, w.rescale()?)?;
        Ok(out.into_iter().map(|r| r.y).collect())
    }
}

/// A table's identity: shift and segments.
type TableKey = (u32, Vec<(i64, u32, i64, i64)>);

/// Gives every distinct table a tag (from 1); nodes with equal tables share it.
pub fn assign_tags(g: &mut Graph<QuantOp>) {
    let mut seen: Vec<TableKey> = Vec::new();
    for n in &mut g.nodes {
        if let QuantOp::Func(f) = &mut n.op {
            let key = (f.shift, f.segments.clone());
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
                Some((_, other)) if other.shift != f.shift || other.segments != f.segments => {
                    return Err(format!(
                        "node `{}` shares table tag {} with another node but not its table",
                        n.name, f.tag
                    ));
                }
                Some(_) => {}
                None if f.tag == 0 => return Err(format!("node `{}` has no table tag", n.name)),
                None => {
                    let sorted = f.segments.windows(2).all(|w| w[0].0 < w[1].0);
                    zkinfer_circuits::func::check_segments(&f.table(), f.shift)
                        .and_then(|()| sorted.then_some(()).ok_or("segments out of order".into()))
                        .map_err(|e| format!("node `{}`: {e}", n.name))?;
                    seen.push((f.tag, f));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Max error of `f` over a dense grid of `[lo, hi]` for (a) a plain `(x, f(x))` table of
    /// `rows` entries (inputs rounded to the table's step) and (b) this op's piecewise-linear
    /// table of at most `rows` segments (inputs at scale 18), both with outputs at scale 14.
    fn plain_vs_piecewise(name: &str, dom: (f64, f64), rows: usize) -> (f64, f64, usize) {
        let (plain, pw, n, _) = errors(name, dom, rows, rows);
        (plain, pw, n)
    }

    /// `(plain error, piecewise error, segments, input rounding bound)` with a table budget of
    /// `budget` rows (the plain table has `rows`).
    fn errors(
        name: &str,
        (lo, hi): (f64, f64),
        rows: usize,
        budget: usize,
    ) -> (f64, f64, usize, f64) {
        let op = Func {
            name: name.into(),
            params: vec![],
            len: 1,
        };
        let (s_in, t, big_r) = (18u32, 14u32, 11u32);
        let ctx = QuantCtx {
            name: "f",
            in_scales: vec![s_in],
            out_scale: t,
            table_bits: big_r,
            bounded: true,
            output_bits: 32,
            // the domain is the calibrated range pushed out by the headroom: undo it
            in_range: Some(vec![(lo / HEADROOM, hi / HEADROOM)]),
            func_budget: budget,
        };
        let Ok(QuantOp::Func(q)) = op.quantize(&ctx) else {
            panic!("{name}: quantize")
        };
        let f = |x: f64| op.value(x);
        let out = |v: f64| (v * 2f64.powi(t as i32)).round() / 2f64.powi(t as i32);
        let step = (hi - lo) / rows as f64;
        let (mut plain, mut pw, mut input_err) = (0f64, 0f64, 0f64);
        for i in 0..=20_000 {
            let x = lo + (hi - lo) * f64::from(i) / 20_000.0;
            // plain: the nearest table input, its rounded value
            let xt = lo + ((x - lo) / step).round() * step;
            plain = plain.max((out(f(xt)) - f(x)).abs());
            // piecewise: the chip's interpolation and the rescale's rounding
            let xq = (x * 2f64.powi(s_in as i32)).round() as i64;
            let (start, r, f0, slope) = q
                .segment_of(xq)
                .unwrap_or_else(|| panic!("{name}({x}) is not in the table"));
            let l = (xq - start) << (big_r - r);
            let acc = (f0 << big_r) + slope * l;
            let y = (acc + (1 << (big_r - 1))).div_euclid(1 << big_r);
            pw = pw.max((y as f64 / 2f64.powi(t as i32) - f(x)).abs());
            input_err = input_err.max((f(xq as f64 / 2f64.powi(s_in as i32)) - f(x)).abs());
        }
        (plain, pw, q.segments.len(), input_err)
    }

    #[test]
    fn a_tight_row_budget_grows_the_table_not_the_error() {
        // 256 rows cannot hold 1/x on [0.01, 5] within a few output units: the table grows
        // (and k with it) instead of falling back to the widest segments (inputs at scale 18
        // stay below 8 in 22 bits)
        for (name, dom) in [
            ("reciprocal", (0.01, 5.0)),
            ("log", (0.001, 4.0)),
            ("tan", (-1.5, 1.5)),
        ] {
            let (_, pw, n, input_err) = errors(name, dom, 256, 256);
            let bound = input_err + (MAX_TOLERANCE + 1.0) / 2f64.powi(14);
            assert!(n > 256, "{name}: {n} segments");
            assert!(
                pw <= bound,
                "{name}: error {pw} above {bound} ({n} segments)"
            );
        }
    }

    #[test]
    fn piecewise_linear_beats_a_plain_table_of_the_same_size() {
        // the DESIGN record: at 2,048 rows the plain table's error is its input step times
        // the slope; the piecewise table's is the output rounding
        for (name, dom) in [
            ("sigmoid", (-6.0, 6.0)),
            ("tanh", (-6.0, 6.0)),
            ("gelu", (-6.0, 6.0)),
            ("exp", (-8.0, 0.0)),
            ("rsqrt", (0.01, 4.0)),
        ] {
            let (plain, pw, n) = plain_vs_piecewise(name, dom, 2048);
            assert!(n <= 2048, "{name}: {n} segments");
            println!(
                "{name} on [{}, {}], 2048 rows: plain table max error {plain:.2e}, piecewise {pw:.2e} ({n} segments)",
                dom.0, dom.1
            );
            assert!(pw * 5.0 < plain, "{name}: piecewise {pw} vs plain {plain}");
            // two output roundings (table value and result) are 6.1e-5; rsqrt near 0.01 adds
            // its input rounding (2^-19 at scale 18) times |f'| = 500
            let floor = if name == "rsqrt" { 1e-3 } else { 1e-4 };
            assert!(pw < floor, "{name}: piecewise {pw}");
        }
    }
}
