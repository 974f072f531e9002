//! # Dense layer checked Freivalds-style (fixed or private weights)
//!
//! Relation, for a group of `n` outputs reading inputs `x_0 … x_{m−1}` with weights
//! `W` (`n × m`) and bias `b`: `y_i = b_i + Σ_j W_ij · x_j` for every `i`. Instead of one
//! advice cell per multiply-accumulate (the dense chip), the chip checks one random linear
//! combination of the `n` equations:
//!
//! `D(ρ) = Σ_i ρ^i · (b_i + Σ_j W_ij·x_j − y_i) = 0`
//!
//! for a challenge `ρ` drawn (Fiat–Shamir) after every first-phase advice column, which holds
//! the `x` and `y` cells, is committed.
//!
//! Layout: `K` fixed weight columns, the first-phase column `x` (equality; it holds the copied
//! inputs and the outputs `y`) and a second-phase accumulator `acc`. With
//! `h = Σ_k ρ^k·w_k` over a row's fixed cells, the outputs form blocks of `K` (`i = bK + k`),
//! taken from the last block down (Horner in `ρ^K`); a block is `1 + m + (its outputs)` rows:
//!
//! | row            | `x`      | `w_k` (fixed)      | `acc`                        | selector    |
//! |----------------|----------|--------------------|------------------------------|-------------|
//! | bias           | –        | `b_{bK+k}`         | `h` (first block)            | `q_first`   |
//! |                |          |                    | `acc(prev)·ρ^K + h` (others) | `q_block`   |
//! | input `j`      | `x_j`    | `W_{bK+k, j}`      | `acc(prev) + x·h`            | `q_mac`     |
//! | output `bK+k`  | `y_bK+k` | `−1` at `k`, else 0 | `acc(prev) + x·h`           | `q_mac`     |
//!
//! and `q_end` on the group's last row: `acc = 0`. The gates (degree 3; `ρ` is a challenge,
//! of degree 0) make the last `acc` equal `D(ρ)` whatever the prover assigns.
//!
//! Soundness: `W` and `b` are fixed columns (the verifying key pins them) or, with private
//! weights, first-phase advice columns (`w = fixed + private·advice`, as the dense chip's:
//! the output rows' `−1` stays fixed; or, in the advice-only layout new private builds take,
//! `w = advice − 2^62` with the output rows' `−ρ^k` from a second-phase power column pinned by
//! its own gates, [`FreivaldsConfig`]'s `PowerOutputs`) bound by the weight commitment;
//! `x` cells are copies of
//! their producers' cells; and `x`, `y` and any private weights are committed before `ρ` is
//! drawn. If some
//! `y_i ≠ b_i + Σ_j W_ij·x_j` (in the field) then `D` is a nonzero polynomial of degree
//! `< n` fixed before `ρ`, so `D(ρ) = 0` with probability at most `(n − 1)/|F|` (Schwartz–
//! Zippel), about `2^−244` for a layer of 1,000 outputs; over the groups of a model the errors
//! add. The `y` cells are otherwise unconstrained here: the caller bounds them (the rescale
//! chip), as it bounds the dense chip's accumulators.
//!
//! **Packed outputs** ([`Packing`]): with fixed weights, a weight column can carry `P` outputs
//! at once. A block is then `K·P` outputs; output `p·K + k` of the block sits in column `k`
//! weighted `T^p` (`T = 2^t`): the cell of input `j` holds `Σ_p T^p·W_{pK+k, j}`, the bias row
//! `Σ_p T^p·b_{pK+k}`, and output `pK + k`'s row `−T^p` at `k`. The gates are unchanged, so the
//! last `acc` is `Σ_{b,k} ρ^{bK+k}·E_{b,k}` with `E_{b,k} = Σ_p T^p·e_{b,pK+k}`, `e_i` being
//! output `i`'s error `b_i + Σ_j W_ij·x_j − y_i`. It vanishes for a random `ρ` only if every
//! `E_{b,k} = 0` (as above, error `≤ n/|F|`), and `E = 0` forces every `e = 0` when the caller
//! guarantees, for some `s ≥ 0`, that every `2^s·e` is an integer of absolute value below
//! `T/2`, and `P·t ≤ 253`: then `2^s·E = Σ_p T^p·(2^s·e_p)` has absolute value below
//! `T^P/2 ≤ 2^252 < p`, so it is 0 over the integers, and a balanced base-`T` representation is
//! unique (`2^s·e_0 ≡ 0 mod T` with `|2^s·e_0| < T/2` gives `e_0 = 0`, and so on up). The `2^s`
//! matters: an accumulator the rescale chip checks with remainder limbs scaled by `2^(d−R)` is
//! only a multiple of `2^−s` (`s = limbs·R − d`) unless something else makes it an integer, and
//! unpacked that something is this very check. zkinfer meets the bound with the range checks
//! around the chip (`QuantLinear::packing`): every `x` is a bounded activation or a
//! range-checked input, so `|b_i + Σ_j W_ij·x_j| < 2^61` (the compiler's accumulator bound,
//! checked again when a build is read), and every `y_i` is rescaled by the rescale chip into
//! bounded limbs (`|y_i| < 2^(bits − 1 + d) + 2^d` for outputs of `bits` signed bits at shift
//! `d`), so `t = s + max(61, bits + d) + 2`; public-output layers, whose unpublished elements
//! would be free, do not pack. Without such bounds packing is unsound: `y_{k} + T` and
//! `y_{K+k} − 1` cancel (a test shows the chip alone accepting that pair). Fewer fixed columns
//! for the same rows: each fixed column is re-extended by every proof and opened in it.
//!
//! `configure` enables equality on `x`.

use crate::{fixed::to_field, matmul::WeightColumns, Wire};
use halo2_proofs::{
    circuit::{Layouter, Region, Value},
    halo2curves::ff::PrimeField,
    plonk::{
        Advice, Challenge, Column, ConstraintSystem, Error, Expression, FirstPhase, SecondPhase,
        Selector, VirtualCells,
    },
    poly::Rotation,
};

/// How many outputs one weight cell carries ([`Packing::factor`], `P`) and the bits `t` that
/// separate them (module doc: the caller keeps every output's error, times a common `2^s`, an
/// integer below `2^(t−1)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packing {
    /// `P ≥ 1`: outputs per weight column of a block.
    pub factor: usize,
    /// `t`: output `pK + k` is weighted `2^(p·t)` in column `k`.
    pub bits: u32,
}

impl Packing {
    /// One output per weight cell.
    pub const NONE: Packing = Packing { factor: 1, bits: 0 };

    /// `P·t` may not exceed this: the packed sum of errors then stays below `2^252 < p`.
    pub const MAX_TOTAL_BITS: u32 = 253;

    /// The most outputs per cell, up to `factor`, that `bits`-bit separations allow.
    pub fn at_most(factor: usize, bits: u32) -> Self {
        let fit = (Self::MAX_TOTAL_BITS / bits.max(1)) as usize;
        let factor = factor.min(fit).max(1);
        if factor == 1 {
            Self::NONE
        } else {
            Self { factor, bits }
        }
    }

    /// Whether `P·t ≤ 253` (or `P = 1`).
    pub fn is_valid(&self) -> bool {
        self.factor == 1
            || (self.factor > 1
                && self.bits >= 1
                && (self.factor as u64) * u64::from(self.bits) <= u64::from(Self::MAX_TOTAL_BITS))
    }

    /// `T^p = 2^(p·t)`.
    fn weight<F: PrimeField>(&self, p: usize) -> F {
        F::from(2).pow_vartime([p as u64 * u64::from(self.bits)])
    }
}

/// Columns, challenge and selectors of the Freivalds chip.
#[derive(Clone, Debug)]
pub struct FreivaldsConfig {
    /// Inputs and outputs (first phase, equality).
    pub x: Column<Advice>,
    /// The running combination (second phase).
    pub acc: Column<Advice>,
    /// `K` weight columns (fixed, or fixed + private advice).
    pub w: WeightColumns,
    /// `ρ`, drawn after the first phase.
    pub rho: Challenge,
    q_first: Selector,
    q_block: Selector,
    q_mac: Selector,
    q_end: Selector,
    /// With advice-only weights ([`WeightColumns::Advice`]), how output rows take `−ρ^k`.
    outputs: Option<PowerOutputs>,
}

/// Output rows without fixed `−1` cells (advice-only weights): a second-phase column `pw`
/// holds `ρ^k` on the block's `k`-th output row, and the row subtracts `y·pw`:
///
/// | row               | `x`      | `pw`       | `acc`              | selector      |
/// |-------------------|----------|------------|--------------------|---------------|
/// | output `bK`       | `y_bK`   | `1`        | `acc(prev) − y·pw` | `q_out_first` |
/// | output `bK + k`   | `y_bK+k` | `pw'·ρ`    | `acc(prev) − y·pw` | `q_out_rest`  |
///
/// The same contribution as the fixed layout's `x·h` with `−1` at `k` (`h = −ρ^k`), so the
/// soundness argument is unchanged; `pw` is pinned on every output row (1 on a block's
/// first, `ρ` times the row above on the others, whose row is the same block's previous
/// output).
#[derive(Clone, Debug)]
struct PowerOutputs {
    pw: Column<Advice>,
    q_first: Selector,
    q_rest: Selector,
}

impl FreivaldsConfig {
    /// Configures the chip with `k_width` (`K ≥ 1`) weight columns (for advice-only weights,
    /// [`FreivaldsColumns::configure_advice`] then [`FreivaldsColumns::finish`]). Side effects: a
    /// first-phase advice column with equality, `K` fixed columns (and, when
    /// `private_weights`, `K` first-phase advice columns and a fixed row-kind column), a
    /// second-phase advice column (created last), one challenge, four selectors, four gates.
    /// The same as [`FreivaldsColumns::configure`] then [`FreivaldsColumns::finish`].
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        k_width: usize,
        private_weights: bool,
    ) -> Self {
        FreivaldsColumns::configure(meta, k_width, private_weights).finish(meta)
    }
}

/// The first-phase columns of a Freivalds chip (`x` and the weights), before its second-phase
/// accumulator and gates: several banks with private weights create every bank's first-phase
/// columns before any accumulator, so that every weight column's index is below every
/// second-phase column's (where the weight link finds their commitments in a proof).
#[derive(Clone, Debug)]
pub struct FreivaldsColumns {
    x: Column<Advice>,
    w: WeightColumns,
}

impl FreivaldsColumns {
    /// `x` (first phase, equality) and `K ≥ 1` weight columns: fixed, or with
    /// `private_weights` fixed + first-phase advice + a fixed row-kind column.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        k_width: usize,
        private_weights: bool,
    ) -> Self {
        assert!(
            k_width >= 1,
            "the Freivalds chip needs at least one weight column"
        );
        let x = meta.advice_column_in(FirstPhase);
        meta.enable_equality(x);
        let w = if private_weights {
            WeightColumns::Private {
                fixed: (0..k_width).map(|_| meta.fixed_column()).collect(),
                advice: (0..k_width)
                    .map(|_| meta.advice_column_in(FirstPhase))
                    .collect(),
                private: meta.fixed_column(),
                offset: false,
            }
        } else {
            WeightColumns::Fixed((0..k_width).map(|_| meta.fixed_column()).collect())
        };
        Self { x, w }
    }

    /// `x` (first phase, equality) and `K ≥ 1` advice-only weight columns
    /// ([`WeightColumns::Advice`]: private weights, every cell offset by `2^62`); `finish`
    /// then adds the output rows' power column ([`FreivaldsConfig`]'s `PowerOutputs`).
    pub fn configure_advice<F: PrimeField>(meta: &mut ConstraintSystem<F>, k_width: usize) -> Self {
        assert!(
            k_width >= 1,
            "the Freivalds chip needs at least one weight column"
        );
        let x = meta.advice_column_in(FirstPhase);
        meta.enable_equality(x);
        let w = WeightColumns::Advice(
            (0..k_width)
                .map(|_| meta.advice_column_in(FirstPhase))
                .collect(),
        );
        Self { x, w }
    }

    /// The second-phase accumulator, the challenge, the selectors and the gates (with
    /// advice-only weights also the power column, created after the accumulator, two
    /// selectors and three gates).
    pub fn finish<F: PrimeField>(self, meta: &mut ConstraintSystem<F>) -> FreivaldsConfig {
        let Self { x, w } = self;
        let acc = meta.advice_column_in(SecondPhase);
        let rho = meta.challenge_usable_after(FirstPhase);
        let [q_first, q_block, q_mac, q_end] = [(); 4].map(|_| meta.selector());
        // h = Σ_k ρ^k·w_k by Horner over the row's weights
        let h = |m: &mut VirtualCells<'_, F>, w: &WeightColumns, rho: Expression<F>| {
            (0..w.width())
                .rev()
                .fold(Expression::Constant(F::ZERO), |acc, k| {
                    acc * rho.clone() + w.query(m, k)
                })
        };
        let rho_pow =
            |rho: Expression<F>, e: usize| (1..e).fold(rho.clone(), |acc, _| acc * rho.clone());
        let wc = w.clone();
        meta.create_gate("freivalds first: acc = h", |m| {
            let q = m.query_selector(q_first);
            let r = m.query_challenge(rho);
            let cur = m.query_advice(acc, Rotation::cur());
            vec![q * (cur - h(m, &wc, r))]
        });
        let wc = w.clone();
        meta.create_gate("freivalds block: acc = acc'·ρ^K + h", |m| {
            let q = m.query_selector(q_block);
            let r = m.query_challenge(rho);
            let cur = m.query_advice(acc, Rotation::cur());
            let prev = m.query_advice(acc, Rotation::prev());
            let h = h(m, &wc, r.clone());
            vec![q * (cur - prev * rho_pow(r, wc.width()) - h)]
        });
        let wc = w.clone();
        meta.create_gate("freivalds mac: acc = acc' + x·h", |m| {
            let q = m.query_selector(q_mac);
            let r = m.query_challenge(rho);
            let cur = m.query_advice(acc, Rotation::cur());
            let prev = m.query_advice(acc, Rotation::prev());
            let xv = m.query_advice(x, Rotation::cur());
            vec![q * (cur - prev - xv * h(m, &wc, r))]
        });
        meta.create_gate("freivalds end: acc = 0", |m| {
            let q = m.query_selector(q_end);
            vec![q * m.query_advice(acc, Rotation::cur())]
        });
        let outputs = matches!(w, WeightColumns::Advice(_)).then(|| {
            let pw = meta.advice_column_in(SecondPhase);
            let [q_first, q_rest] = [(); 2].map(|_| meta.selector());
            meta.create_gate("freivalds output: acc = acc' − y·pw", |m| {
                let (qf, qr) = (m.query_selector(q_first), m.query_selector(q_rest));
                let cur = m.query_advice(acc, Rotation::cur());
                let prev = m.query_advice(acc, Rotation::prev());
                let y = m.query_advice(x, Rotation::cur());
                let p = m.query_advice(pw, Rotation::cur());
                let e = cur - prev + y * p;
                vec![qf * e.clone(), qr * e]
            });
            meta.create_gate("freivalds output power: pw = 1", |m| {
                let q = m.query_selector(q_first);
                vec![q * (m.query_advice(pw, Rotation::cur()) - Expression::Constant(F::ONE))]
            });
            meta.create_gate("freivalds output power: pw = pw'·ρ", |m| {
                let q = m.query_selector(q_rest);
                let r = m.query_challenge(rho);
                let cur = m.query_advice(pw, Rotation::cur());
                let prev = m.query_advice(pw, Rotation::prev());
                vec![q * (cur - prev * r)]
            });
            PowerOutputs {
                pw,
                q_first,
                q_rest,
            }
        });
        FreivaldsConfig {
            x,
            acc,
            w,
            rho,
            q_first,
            q_block,
            q_mac,
            q_end,
            outputs,
        }
    }
}

impl FreivaldsConfig {
    /// `K`.
    pub fn width(&self) -> usize {
        self.w.width()
    }

    /// Rows a group of `n_out` outputs reading `n_in` inputs takes at width `k_width`
    /// (`K·P` with packed outputs).
    pub fn rows(n_in: usize, n_out: usize, k_width: usize) -> usize {
        n_out.div_ceil(k_width.max(1)) * (n_in + 1) + n_out
    }
}

/// What a row adds: the fixed cells and the `x` value it multiplies (`None` on bias rows).
#[derive(Clone, Debug)]
struct RowPlan<F> {
    row: usize,
    kind: RowKind,
    x: Option<Value<F>>,
    w: Vec<F>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    First,
    Block,
    Mac,
    /// An output row with a power column ([`PowerOutputs`]): the block's first, or another.
    OutFirst,
    OutRest,
}

fn assign_weights<F: PrimeField>(
    region: &mut Region<'_, F>,
    columns: &WeightColumns,
    row: usize,
    w: &[F],
    parameter: bool,
) -> Result<(), Error> {
    for k in 0..columns.width() {
        let v = w.get(k).copied().unwrap_or(F::ZERO);
        columns.assign(region, k, row, v, parameter)?;
    }
    Ok(())
}

/// A block's cells of one row: `cells[k] = Σ_p T^p·value(ids[p·K + k])` (`tp[p] = T^p`).
fn packed<F: PrimeField>(
    ids: &[usize],
    kw: usize,
    tp: &[F],
    value: impl Fn(usize) -> i64,
) -> Vec<F> {
    let mut cells = vec![F::ZERO; kw.min(ids.len())];
    for (q, &i) in ids.iter().enumerate() {
        let v = to_field::<F>(value(i));
        cells[q % kw] += if q < kw { v } else { v * tp[q / kw] };
    }
    cells
}

/// A group laid out in the first phase whose accumulator waits for `ρ`.
#[derive(Clone, Debug)]
struct Pending<F> {
    rows: Vec<RowPlan<F>>,
    /// Replaces the last row's accumulator (tests use it to forge a zero).
    last_offset: Option<F>,
}

/// The Freivalds chip: lays out groups in the first phase ([`Self::check`]) and their
/// accumulators once `ρ` is known ([`Self::finish`], after `Layouter::next_phase`).
#[derive(Clone, Debug)]
pub struct FreivaldsChip<F: PrimeField> {
    config: FreivaldsConfig,
    next_row: usize,
    pending: Vec<Pending<F>>,
}

impl<F: PrimeField> FreivaldsChip<F> {
    /// Wraps a configuration; groups are laid out from row `first_row` down (absolute rows,
    /// as the other chips keep theirs).
    pub fn construct(config: FreivaldsConfig, first_row: usize) -> Self {
        Self {
            config,
            next_row: first_row,
            pending: vec![],
        }
    }

    /// The next free row.
    pub fn next_row(&self) -> usize {
        self.next_row
    }

    /// Lays out the check of `y = W·x + b` (`weights` `[n_out][n_in]`) in the first phase
    /// and returns the `y` cells, assigned from `y` (the claimed outputs, `None` at keygen).
    /// With `pack` (fixed weights only) the caller must keep every output's error, times a
    /// common `2^s`, an integer below `2^(t−1)` (module doc).
    pub fn check(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        y: Option<&[i64]>,
        pack: Packing,
    ) -> Result<Vec<Wire<F>>, Error> {
        let n_out = bias.len();
        let n_in = x.len();
        let private = !matches!(self.config.w, WeightColumns::Fixed(_));
        if weights.len() != n_out
            || weights.iter().any(|r| r.len() != n_in)
            || y.is_some_and(|y| y.len() != n_out)
            || n_out == 0
            || !pack.is_valid()
            || (private && pack.factor > 1)
        {
            return Err(Error::Synthesis);
        }
        let c = self.config.clone();
        let kw = c.width();
        // outputs per block
        let bw = kw * pack.factor;
        let tp: Vec<F> = (0..pack.factor).map(|p| pack.weight::<F>(p)).collect();
        let blocks = n_out.div_ceil(bw);
        let start = self.next_row;
        self.next_row += FreivaldsConfig::rows(n_in, n_out, bw);
        let mut plan: Vec<RowPlan<F>> = Vec::with_capacity(self.next_row - start);
        let outputs = layouter.assign_region(
            || "freivalds group",
            |mut region| {
                let mut row = start;
                let mut ys: Vec<Option<Wire<F>>> = vec![None; n_out];
                for b in (0..blocks).rev() {
                    let ids: Vec<usize> = (b * bw..((b + 1) * bw).min(n_out)).collect();
                    // bias
                    let w: Vec<F> = packed(&ids, kw, &tp, |i| bias[i]);
                    assign_weights(&mut region, &c.w, row, &w, true)?;
                    let kind = if b + 1 == blocks {
                        RowKind::First
                    } else {
                        RowKind::Block
                    };
                    plan.push(RowPlan {
                        row,
                        kind,
                        x: None,
                        w,
                    });
                    row += 1;
                    // inputs
                    for (j, xj) in x.iter().enumerate() {
                        let w: Vec<F> = packed(&ids, kw, &tp, |i| weights[i][j]);
                        assign_weights(&mut region, &c.w, row, &w, true)?;
                        xj.copy_to(&mut region, c.x, row);
                        plan.push(RowPlan {
                            row,
                            kind: RowKind::Mac,
                            x: Some(xj.value),
                            w,
                        });
                        row += 1;
                    }
                    // outputs
                    for (q, &i) in ids.iter().enumerate() {
                        let (kind, w) = if c.outputs.is_some() {
                            // (no weight cells: the power column weighs the output)
                            let kind = if q == 0 {
                                RowKind::OutFirst
                            } else {
                                RowKind::OutRest
                            };
                            (kind, vec![])
                        } else {
                            let mut w = vec![F::ZERO; kw.min(ids.len())];
                            w[q % kw] = -tp[q / kw];
                            assign_weights(&mut region, &c.w, row, &w, false)?;
                            (RowKind::Mac, w)
                        };
                        let v = match y {
                            Some(y) => Value::known(to_field::<F>(y[i])),
                            None => Value::unknown(),
                        };
                        let cell = Wire::assign(&mut region, c.x, row, v);
                        ys[i] = Some(cell);
                        plan.push(RowPlan {
                            row,
                            kind,
                            x: Some(v),
                            w,
                        });
                        row += 1;
                    }
                }
                for p in &plan {
                    match p.kind {
                        RowKind::First => c.q_first.enable(&mut region, p.row)?,
                        RowKind::Block => c.q_block.enable(&mut region, p.row)?,
                        RowKind::Mac => c.q_mac.enable(&mut region, p.row)?,
                        RowKind::OutFirst | RowKind::OutRest => {
                            let o = c.outputs.as_ref().ok_or(Error::Synthesis)?;
                            let q = if p.kind == RowKind::OutFirst {
                                o.q_first
                            } else {
                                o.q_rest
                            };
                            q.enable(&mut region, p.row)?
                        }
                    }
                }
                c.q_end.enable(&mut region, row - 1)?;
                ys.into_iter()
                    .collect::<Option<Vec<_>>>()
                    .ok_or(Error::Synthesis)
            },
        )?;
        self.pending.push(Pending {
            rows: plan,
            last_offset: None,
        });
        Ok(outputs)
    }

    /// Assigns `v` as the last accumulator of the most recent group instead of the
    /// combination (tests: a prover who claims a zero the combination does not reach).
    #[cfg(any(test, feature = "testing"))]
    pub fn forge_last(&mut self, v: F) {
        if let Some(p) = self.pending.last_mut() {
            p.last_offset = Some(v);
        }
    }

    /// Assigns every group's accumulator from `ρ` (unknown before the second phase, as at
    /// keygen). Call once, after `Layouter::next_phase`.
    pub fn finish(&mut self, layouter: &mut impl Layouter<F>) -> Result<(), Error> {
        let c = self.config.clone();
        let rho = layouter.get_challenge(c.rho);
        let kw = c.width();
        let pending = std::mem::take(&mut self.pending);
        for group in pending {
            layouter.assign_region(
                || "freivalds accumulator",
                |mut region| {
                    let mut acc: Value<F> = Value::known(F::ZERO);
                    let mut pw: Value<F> = Value::known(F::ONE);
                    let n = group.rows.len();
                    for (idx, p) in group.rows.iter().enumerate() {
                        let h = rho.map(|r| p.w.iter().rev().fold(F::ZERO, |a, &w| a * r + w));
                        let x = p.x.unwrap_or(Value::unknown());
                        acc = match p.kind {
                            RowKind::First => h,
                            RowKind::Block => acc * rho.map(|r| r.pow_vartime([kw as u64])) + h,
                            RowKind::Mac => acc + x * h,
                            RowKind::OutFirst | RowKind::OutRest => {
                                pw = if p.kind == RowKind::OutFirst {
                                    Value::known(F::ONE)
                                } else {
                                    pw * rho
                                };
                                let o = c.outputs.as_ref().ok_or(Error::Synthesis)?;
                                region.assign_advice(o.pw, p.row, pw);
                                acc - x * pw
                            }
                        };
                        let mut v = acc;
                        if idx + 1 == n {
                            if let Some(o) = group.last_offset {
                                v = Value::known(o);
                            }
                        }
                        region.assign_advice(c.acc, p.row, v);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Packing;
    use crate::testing::{FreivaldsCircuit, MockRun};
    use halo2_proofs::halo2curves::bn256::Fr;

    /// A deterministic `n_out × n_in` layer with weights in [−50, 50].
    fn layer(n_in: usize, n_out: usize, width: usize) -> FreivaldsCircuit {
        let w = (0..n_out)
            .map(|i| {
                (0..n_in)
                    .map(|j| ((i * 31 + j * 17 + 5) % 101) as i64 - 50)
                    .collect()
            })
            .collect();
        let b = (0..n_out).map(|i| (i as i64 * 7919) % 1000 - 500).collect();
        let x = (0..n_in)
            .map(|j| (j as i64 * 104_729) % 4001 - 2000)
            .collect();
        FreivaldsCircuit::honest(width, w, b, x)
    }

    /// Fixed weight columns, then advice-only ones ([`advice_layer`]).
    fn both_layouts(n_in: usize, n_out: usize, width: usize) -> [FreivaldsCircuit; 2] {
        [layer(n_in, n_out, width), advice_layer(n_in, n_out, width)]
    }

    #[test]
    fn honest_layers_of_every_block_shape_pass() {
        // fewer outputs than K, exactly K, several blocks with a partial last one, no inputs
        for (n_in, n_out, width) in [(5, 3, 4), (6, 4, 4), (7, 11, 4), (0, 3, 2), (9, 1, 1)] {
            for c in both_layouts(n_in, n_out, width) {
                MockRun::new().k(7).run(&c);
            }
        }
    }

    #[test]
    fn a_wrong_output_is_caught_in_every_position() {
        for honest in both_layouts(7, 11, 4) {
            for i in 0..11 {
                for delta in [1, -1, 1 << 20] {
                    let mut c = honest.clone();
                    c.y.as_mut().expect("y")[i] += delta;
                    MockRun::new().k(7).expect_failure("freivalds end").run(&c);
                }
            }
        }
    }

    #[test]
    fn a_wrong_output_with_a_forged_zero_is_caught() {
        // the prover commits a wrong y in the first phase, then makes the last accumulator
        // zero: the last row's gate refuses it
        let mut c = layer(7, 11, 4);
        c.y.as_mut().expect("y")[3] += 1;
        c.forge = Some(Fr::from(0));
        MockRun::new().k(7).expect_failure("freivalds mac").run(&c);
        // and with the honest combination the last row is not zero
        let mut c = layer(7, 11, 4);
        c.y.as_mut().expect("y")[3] += 1;
        MockRun::new().k(7).expect_failure("freivalds end").run(&c);
    }

    #[test]
    fn outputs_of_another_input_are_caught() {
        // the public input differs from the one the claimed outputs were computed from
        let honest = layer(7, 11, 4);
        let mut c = honest.clone();
        c.input[2] += 1;
        MockRun::new().k(7).expect_failure("freivalds end").run(&c);
    }

    /// Every advice cell of a Freivalds-checked layer (inputs and outputs copied in, the
    /// challenge-phase accumulators), changed alone, is caught: the phase-2 cells too; with
    /// packed outputs as well.
    #[test]
    fn under_constraint_search_finds_no_free_cell() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        for (n_in, n_out, width, pack) in [
            (3, 2, 2, Packing::NONE),
            (4, 5, 2, Packing::NONE),
            (4, 7, 2, Packing::at_most(4, 63)),
        ] {
            let mut c = layer(n_in, n_out, width);
            c.pack = pack;
            let r = Search::new(7, c.instances())
                .run(&c, |_, _| true)
                .printed(&format!(
                    "freivalds {n_out}×{n_in}, K = {width}, P = {}",
                    pack.factor
                ));
            assert!(r.survivors.is_empty(), "{}", r.describe());
            assert!(r.searched >= n_in + n_out);
        }
    }

    /// [`layer`] with advice-only weight columns and a power column on the output rows.
    fn advice_layer(n_in: usize, n_out: usize, width: usize) -> FreivaldsCircuit {
        let mut c = layer(n_in, n_out, width);
        c.advice_weights = true;
        c
    }

    #[test]
    fn advice_weights_catch_a_forged_zero_and_a_changed_weight() {
        let honest = advice_layer(7, 11, 4);
        // a forged zero on the last row (an output row) breaks that row's gate
        let mut c = honest.clone();
        c.y.as_mut().expect("y")[3] += 1;
        c.forge = Some(Fr::from(0));
        MockRun::new()
            .k(7)
            .expect_failure("freivalds output: acc = acc' − y·pw")
            .run(&c);
        // and a weight that is not the one the outputs were computed with
        let mut c = honest.clone();
        c.weights[4][2] += 1;
        MockRun::new().k(7).expect_failure("freivalds end").run(&c);
    }

    /// Every cell of the advice-weight layout, changed alone, is caught: the weights (the
    /// outputs are public), the power column on every output row, the accumulators.
    #[test]
    fn advice_weights_under_constraint_search_finds_no_free_cell() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        for (n_in, n_out, width) in [(3, 2, 2), (4, 5, 2), (2, 7, 3)] {
            let c = advice_layer(n_in, n_out, width);
            let r = Search::new(7, c.instances())
                .run(&c, |_, _| true)
                .printed(&format!(
                    "freivalds {n_out}×{n_in}, K = {width}, advice weights"
                ));
            assert!(r.survivors.is_empty(), "{}", r.describe());
            // inputs, outputs, weights, powers and accumulators
            let blocks = n_out.div_ceil(width);
            assert!(r.searched >= n_in + n_out + blocks * (n_in + 1) * width + n_out);
        }
    }

    #[test]
    fn advice_weights_refuse_packing() {
        let mut c = advice_layer(4, 8, 2);
        c.pack = Packing {
            factor: 2,
            bits: 63,
        };
        let err = halo2_proofs::dev::MockProver::run(7, &c, vec![vec![]])
            .expect_err("a packed check with advice weights is refused");
        assert!(format!("{err:?}").contains("Synthesis"), "{err:?}");
    }

    fn packed(
        n_in: usize,
        n_out: usize,
        width: usize,
        factor: usize,
        bits: u32,
    ) -> FreivaldsCircuit {
        let mut c = layer(n_in, n_out, width);
        c.pack = Packing { factor, bits };
        assert!(c.pack.is_valid());
        c
    }

    #[test]
    fn honest_packed_layers_of_every_block_shape_pass() {
        // one partial block, exactly K·P, several blocks with a partial last one (and a
        // partial last column), fewer outputs than K, no inputs
        for (n_in, n_out, width, factor, bits) in [
            (5, 3, 1, 4, 63),
            (6, 8, 2, 4, 63),
            (7, 11, 2, 3, 63),
            (9, 13, 4, 2, 100),
            (4, 3, 4, 4, 63),
            (0, 5, 2, 2, 20),
        ] {
            MockRun::new()
                .k(7)
                .run(&packed(n_in, n_out, width, factor, bits));
        }
    }

    #[test]
    fn a_wrong_packed_output_is_caught_in_every_position() {
        let honest = packed(7, 11, 2, 4, 63);
        for i in 0..11 {
            for delta in [1, -1, 1 << 20, 1 << 40, -(1 << 61)] {
                let mut c = honest.clone();
                c.y.as_mut().expect("y")[i] += delta;
                MockRun::new().k(7).expect_failure("freivalds end").run(&c);
            }
        }
    }

    /// Packing is sound only with the outputs' errors below `T/2`: two outputs of one column
    /// whose errors carry (`+T` on the one weighted 1, `−1` on the one weighted `T`) pass the
    /// chip alone. zkinfer's callers bound every output (the rescale chip) and choose `t`
    /// above those bounds; a pair that does not carry exactly is still caught.
    #[test]
    fn a_carry_between_packed_outputs_passes_the_chip_alone() {
        let (width, bits) = (2, 20);
        let honest = packed(5, 6, width, 3, bits);
        let mut carry = honest.clone();
        let y = carry.y.as_mut().expect("y");
        y[1] += 1 << bits; // column 1, weighted 1
        y[1 + width] -= 1; // column 1, weighted T
        MockRun::new().k(7).run(&carry);
        let mut off = honest.clone();
        let y = off.y.as_mut().expect("y");
        y[1] += (1 << bits) - 1;
        y[1 + width] -= 1;
        MockRun::new()
            .k(7)
            .expect_failure("freivalds end")
            .run(&off);
    }

    #[test]
    fn packing_stays_within_the_field() {
        assert_eq!(
            Packing::at_most(4, 63),
            Packing {
                factor: 4,
                bits: 63
            }
        );
        assert_eq!(Packing::at_most(4, 64).factor, 3);
        assert_eq!(Packing::at_most(4, 127), Packing::NONE);
        assert_eq!(Packing::at_most(1, 10), Packing::NONE);
        assert!(!Packing {
            factor: 5,
            bits: 63
        }
        .is_valid());
        assert!(!Packing { factor: 2, bits: 0 }.is_valid());
        assert!(Packing::NONE.is_valid());
    }

    #[test]
    fn the_chip_refuses_a_packing_beyond_the_field() {
        let mut c = layer(3, 4, 1);
        c.pack = Packing {
            factor: 4,
            bits: 64,
        };
        let r =
            halo2_proofs::dev::MockProver::run(7, &c, crate::testing::HasInstances::instances(&c));
        assert!(r.is_err(), "synthesis must refuse P·t > 253");
    }
}
