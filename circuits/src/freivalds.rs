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
//! the output rows' `−1` stays fixed) bound by the weight commitment; `x` cells are copies of
//! their producers' cells; and `x`, `y` and any private weights are committed before `ρ` is
//! drawn. If some
//! `y_i ≠ b_i + Σ_j W_ij·x_j` (in the field) then `D` is a nonzero polynomial of degree
//! `< n` fixed before `ρ`, so `D(ρ) = 0` with probability at most `(n − 1)/|F|` (Schwartz–
//! Zippel), about `2^−244` for a layer of 1,000 outputs; over the groups of a model the errors
//! add. The `y` cells are otherwise unconstrained here: the caller bounds them (the rescale
//! chip), as it bounds the dense chip's accumulators.
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
}

impl FreivaldsConfig {
    /// Configures the chip with `k_width` (`K ≥ 1`) weight columns. Side effects: a
    /// first-phase advice column with equality, `K` fixed columns (and, when
    /// `private_weights`, `K` first-phase advice columns and a fixed row-kind column), a
    /// second-phase advice column (created last), one challenge, four selectors, four gates.
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
            }
        } else {
            WeightColumns::Fixed((0..k_width).map(|_| meta.fixed_column()).collect())
        };
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
        Self {
            x,
            acc,
            w,
            rho,
            q_first,
            q_block,
            q_mac,
            q_end,
        }
    }

    /// `K`.
    pub fn width(&self) -> usize {
        self.w.width()
    }

    /// Rows a group of `n_out` outputs reading `n_in` inputs takes at width `k_width`.
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
    w: Vec<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    First,
    Block,
    Mac,
}

fn assign_weights<F: PrimeField>(
    region: &mut Region<'_, F>,
    columns: &WeightColumns,
    row: usize,
    w: &[i64],
    parameter: bool,
) {
    for k in 0..columns.width() {
        let v = to_field::<F>(w.get(k).copied().unwrap_or(0));
        columns.assign(region, k, row, v, parameter);
    }
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
    pub fn check(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        y: Option<&[i64]>,
    ) -> Result<Vec<Wire<F>>, Error> {
        let n_out = bias.len();
        let n_in = x.len();
        if weights.len() != n_out
            || weights.iter().any(|r| r.len() != n_in)
            || y.is_some_and(|y| y.len() != n_out)
            || n_out == 0
        {
            return Err(Error::Synthesis);
        }
        let c = self.config.clone();
        let kw = c.width();
        let blocks = n_out.div_ceil(kw);
        let start = self.next_row;
        self.next_row += FreivaldsConfig::rows(n_in, n_out, kw);
        let mut plan: Vec<RowPlan<F>> = Vec::with_capacity(self.next_row - start);
        let outputs = layouter.assign_region(
            || "freivalds group",
            |mut region| {
                let mut row = start;
                let mut ys: Vec<Option<Wire<F>>> = vec![None; n_out];
                for b in (0..blocks).rev() {
                    let ids: Vec<usize> = (b * kw..((b + 1) * kw).min(n_out)).collect();
                    // bias
                    let w: Vec<i64> = ids.iter().map(|&i| bias[i]).collect();
                    assign_weights(&mut region, &c.w, row, &w, true);
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
                        let w: Vec<i64> = ids.iter().map(|&i| weights[i][j]).collect();
                        assign_weights(&mut region, &c.w, row, &w, true);
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
                    for (k, &i) in ids.iter().enumerate() {
                        let mut w = vec![0; ids.len()];
                        w[k] = -1;
                        assign_weights(&mut region, &c.w, row, &w, false);
                        let v = match y {
                            Some(y) => Value::known(to_field::<F>(y[i])),
                            None => Value::unknown(),
                        };
                        let cell = Wire::assign(&mut region, c.x, row, v);
                        ys[i] = Some(cell);
                        plan.push(RowPlan {
                            row,
                            kind: RowKind::Mac,
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
                    let n = group.rows.len();
                    for (idx, p) in group.rows.iter().enumerate() {
                        let h = rho.map(|r| {
                            p.w.iter()
                                .rev()
                                .fold(F::ZERO, |a, &w| a * r + to_field::<F>(w))
                        });
                        acc = match p.kind {
                            RowKind::First => h,
                            RowKind::Block => acc * rho.map(|r| r.pow_vartime([kw as u64])) + h,
                            RowKind::Mac => acc + p.x.unwrap_or(Value::unknown()) * h,
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

    #[test]
    fn honest_layers_of_every_block_shape_pass() {
        // fewer outputs than K, exactly K, several blocks with a partial last one, no inputs
        for (n_in, n_out, width) in [(5, 3, 4), (6, 4, 4), (7, 11, 4), (0, 3, 2), (9, 1, 1)] {
            MockRun::new().k(7).run(&layer(n_in, n_out, width));
        }
    }

    #[test]
    fn a_wrong_output_is_caught_in_every_position() {
        let honest = layer(7, 11, 4);
        for i in 0..11 {
            for delta in [1, -1, 1 << 20] {
                let mut c = honest.clone();
                c.y.as_mut().expect("y")[i] += delta;
                MockRun::new().k(7).expect_failure("freivalds end").run(&c);
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
    /// challenge-phase accumulators), changed alone, is caught: the phase-2 cells too.
    #[test]
    fn under_constraint_search_finds_no_free_cell() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        for (n_in, n_out, width) in [(3, 2, 2), (4, 5, 2)] {
            let c = layer(n_in, n_out, width);
            let r = Search::new(7, c.instances())
                .run(&c, |_, _| true)
                .printed(&format!("freivalds {n_out}×{n_in}, K = {width}"));
            assert!(r.survivors.is_empty(), "{}", r.describe());
            assert!(r.searched >= n_in + n_out);
        }
    }
}
