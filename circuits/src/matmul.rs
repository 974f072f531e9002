//! # Dense layer with fixed or private weights
//!
//! Relation, for every output neuron `j` of a layer: `acc_j = b_j + Σ_i W_ji · x_i`, where the
//! weights `W` and bias `b` are constants in fixed columns (so the verifying key itself commits
//! to them) or, for private weights, values in advice columns (the verifying key then depends
//! only on the layout; a separate commitment to those columns binds the values, see zkinfer's
//! `weights` module), and `x` are advice cells copied from the previous layer (or the input).
//!
//! Neurons are processed in blocks of `L` lanes. A block is one region of `n_in + 1` rows:
//! row 0 starts every lane at its bias, each further row adds one input times `L` weights.
//!
//! | row   | `x`         | `acc_l` (l < L)          | `w_l` (fixed)   | selector |
//! |-------|-------------|--------------------------|-----------------|----------|
//! | 0     | –           | `b_j`                    | `b_j`           | `q_bias` |
//! | i ≥ 1 | `x_{i−1}`   | `acc_l(prev) + w_l·x`    | `W_j,(i−1)`     | `q_mac`  |
//!
//! with `j = block·L + l` (lanes past `n_out` carry zero weights). Gates (degree 3):
//! `"acc = bias"`: `q_bias·(acc_l − w_l) = 0`; `"acc' = acc + w·x"`: `q_mac·(acc_l − acc_l(prev) − w_l·x) = 0`.
//! The accumulator in the last row of a block is the lane's output.
//!
//! `configure` enables equality on `x` and on every `acc_l`.

use crate::{fixed::to_field, known_if, Wire};
use halo2_proofs::{
    circuit::{Layouter, Region, Value},
    halo2curves::ff::PrimeField,
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells},
    poly::Rotation,
};
use std::marker::PhantomData;

/// Where the weights live.
#[derive(Clone, Debug)]
pub enum WeightColumns {
    /// Constants in fixed columns: the verifying key commits to them.
    Fixed(Vec<Column<Fixed>>),
    /// Private weights: the lane's weight on a row is `fixed + private·advice`. Parameter
    /// rows (`private = 1`) take their weight from the advice column (blinded like any witness,
    /// bound by a commitment outside halo2's; not equality-enabled, queried only at the
    /// current row); structural rows (`private = 0`: the constants of max, argmax) keep theirs
    /// in the fixed column, so the verifying key still pins them.
    ///
    /// With `offset`, a parameter row holds `w + 2^62` in the advice column and `−2^62` in
    /// the fixed one (the gate is the same: `w = fixed + 1·advice`). zkinfer's parameters are
    /// below `2^61` in absolute value (linear weights and biases by the accumulator bound,
    /// constants by the activation range, both checked when a build is read), so the advice
    /// cells are integers in `(0, 2^63)` (any value is still exact: the offset cancels in the
    /// field; only the speed assumes it): each proof commits to these columns, and a multi-scalar
    /// multiplication over 63-bit scalars costs about a fifth of one over the field elements
    /// `p − |w|` that negative weights are (measured: 32 columns of 4,096 signed weights,
    /// 0.88 s signed, 0.19 s offset). The offset is a constant of the layout, not of the
    /// weights.
    Private {
        /// Structural constants (and `−2^62` on parameter rows with `offset`).
        fixed: Vec<Column<Fixed>>,
        /// Private parameters.
        advice: Vec<Column<Advice>>,
        /// 1 on parameter rows, 0 on structural ones.
        private: Column<Fixed>,
        /// Whether parameter rows are offset by `2^62`.
        offset: bool,
    },
    /// Private parameters only, each cell holding `w + 2^62` (as [`Self::Private`] with
    /// `offset`), with no fixed column: the gate reads `advice − 2^62`. For a chip whose every
    /// weight cell is a parameter (the Freivalds chip, whose output rows then take their
    /// `−ρ^k` from a power column instead of fixed `−1` cells): `K + 1` fewer fixed columns,
    /// each of which every proof would extend and open. A structural constant cannot be
    /// assigned here ([`Self::assign`] refuses it).
    Advice(Vec<Column<Advice>>),
}

/// `log2` of the offset of private parameter cells ([`WeightColumns::Private`]).
pub const PRIVATE_WEIGHT_OFFSET_BITS: u32 = 62;

impl WeightColumns {
    pub(crate) fn query<F: PrimeField>(
        &self,
        m: &mut VirtualCells<'_, F>,
        lane: usize,
    ) -> Expression<F> {
        match self {
            Self::Fixed(c) => m.query_fixed(c[lane], Rotation::cur()),
            Self::Private {
                fixed,
                advice,
                private,
                ..
            } => {
                m.query_fixed(fixed[lane], Rotation::cur())
                    + m.query_fixed(*private, Rotation::cur())
                        * m.query_advice(advice[lane], Rotation::cur())
            }
            Self::Advice(advice) => {
                m.query_advice(advice[lane], Rotation::cur())
                    - Expression::Constant(F::from(1u64 << PRIVATE_WEIGHT_OFFSET_BITS))
            }
        }
    }

    pub(crate) fn assign<F: PrimeField>(
        &self,
        region: &mut Region<'_, F>,
        lane: usize,
        row: usize,
        v: F,
        parameter: bool,
    ) -> Result<(), Error> {
        match self {
            Self::Fixed(c) => {
                region.assign_fixed(c[lane], row, v);
            }
            Self::Advice(advice) => {
                if !parameter {
                    return Err(Error::Synthesis);
                }
                let b = F::from(1u64 << PRIVATE_WEIGHT_OFFSET_BITS);
                region.assign_advice(advice[lane], row, Value::known(v + b));
            }
            Self::Private {
                fixed,
                advice,
                private,
                offset,
            } => {
                let (f, a) = match (parameter, offset) {
                    (true, true) => {
                        let b = F::from(1u64 << PRIVATE_WEIGHT_OFFSET_BITS);
                        (-b, v + b)
                    }
                    (true, false) => (F::ZERO, v),
                    (false, _) => (v, F::ZERO),
                };
                region.assign_fixed(fixed[lane], row, f);
                region.assign_advice(advice[lane], row, Value::known(a));
                if lane == 0 {
                    region.assign_fixed(*private, row, F::from(u64::from(parameter)));
                }
            }
        }
        Ok(())
    }

    /// Parameter rows offset by `2^62` ([`WeightColumns::Private`]; nothing changes with
    /// fixed weights). Only the assignment changes, not the gates.
    pub fn with_offset(self, on: bool) -> Self {
        match self {
            Self::Private {
                fixed,
                advice,
                private,
                ..
            } => Self::Private {
                fixed,
                advice,
                private,
                offset: on,
            },
            fixed => fixed,
        }
    }

    /// Number of weight columns (lanes).
    pub fn width(&self) -> usize {
        match self {
            Self::Fixed(c) => c.len(),
            Self::Private { fixed, .. } => fixed.len(),
            Self::Advice(advice) => advice.len(),
        }
    }

    /// The advice columns holding private weights (empty for fixed weights).
    pub fn advice(&self) -> &[Column<Advice>] {
        match self {
            Self::Fixed(_) => &[],
            Self::Private { advice, .. } | Self::Advice(advice) => advice,
        }
    }
}

/// Columns and selectors of the dense chip.
#[derive(Clone, Debug)]
pub struct MatMulConfig {
    /// The input lane (one input per row).
    pub x: Column<Advice>,
    /// One accumulator column per lane.
    pub acc: Vec<Column<Advice>>,
    /// One weight column per lane.
    pub w: WeightColumns,
    q_bias: Selector,
    q_mac: Selector,
}

impl MatMulConfig {
    /// Configures `lanes` accumulator lanes. Side effects: `1 + lanes` advice columns with equality
    /// enabled, `lanes` fixed weight columns (and, when `private_weights`, `lanes` advice weight
    /// columns and one fixed row-kind column), two selectors, two gates.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        lanes: usize,
        private_weights: bool,
    ) -> Self {
        let x = meta.advice_column();
        meta.enable_equality(x);
        let acc: Vec<_> = (0..lanes).map(|_| meta.advice_column()).collect();
        for &c in &acc {
            meta.enable_equality(c);
        }
        let w = if private_weights {
            WeightColumns::Private {
                fixed: (0..lanes).map(|_| meta.fixed_column()).collect(),
                advice: (0..lanes).map(|_| meta.advice_column()).collect(),
                private: meta.fixed_column(),
                offset: false,
            }
        } else {
            WeightColumns::Fixed((0..lanes).map(|_| meta.fixed_column()).collect())
        };
        let q_bias = meta.selector();
        let q_mac = meta.selector();
        meta.create_gate("acc = bias", |m| {
            let q = m.query_selector(q_bias);
            (0..lanes)
                .map(|l| q.clone() * (m.query_advice(acc[l], Rotation::cur()) - w.query(m, l)))
                .collect::<Vec<_>>()
        });
        meta.create_gate("acc' = acc + w·x", |m| {
            let q = m.query_selector(q_mac);
            let xv = m.query_advice(x, Rotation::cur());
            (0..lanes)
                .map(|l| {
                    let cur = m.query_advice(acc[l], Rotation::cur());
                    let prev = m.query_advice(acc[l], Rotation::prev());
                    q.clone() * (cur - prev - w.query(m, l) * xv.clone())
                })
                .collect::<Vec<_>>()
        });
        Self {
            x,
            acc,
            w,
            q_bias,
            q_mac,
        }
    }

    /// Number of lanes.
    pub fn lanes(&self) -> usize {
        self.acc.len()
    }

    /// Rows a layer of `n_in → n_out` takes with `lanes` lanes.
    pub fn rows(n_in: usize, n_out: usize, lanes: usize) -> usize {
        n_out.div_ceil(lanes) * (n_in + 1)
    }
}

/// The running sums of one dense layer, laid out as the chip assigns them:
/// `acc[block][row][lane]`, row 0 being the bias row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenseWitness {
    /// Running accumulators.
    pub acc: Vec<Vec<Vec<i64>>>,
}

impl DenseWitness {
    /// Computes the running sums for `weights` (`[n_out][n_in]`), `bias` and input `x`.
    /// `None` on a shape mismatch or `i64` overflow.
    pub fn compute(lanes: usize, weights: &[Vec<i64>], bias: &[i64], x: &[i64]) -> Option<Self> {
        if lanes == 0 || weights.len() != bias.len() || weights.iter().any(|r| r.len() != x.len()) {
            return None;
        }
        let blocks = weights.len().div_ceil(lanes);
        let mut acc = Vec::with_capacity(blocks);
        for b in 0..blocks {
            let mut lane_sums: Vec<i64> = (0..lanes)
                .map(|l| bias.get(b * lanes + l).copied().unwrap_or(0))
                .collect();
            let mut rows = Vec::with_capacity(x.len() + 1);
            rows.push(lane_sums.clone());
            for (i, &xi) in x.iter().enumerate() {
                for (l, s) in lane_sums.iter_mut().enumerate() {
                    let w = weights.get(b * lanes + l).map_or(0, |r| r[i]);
                    *s = s.checked_add(w.checked_mul(xi)?)?;
                }
                rows.push(lane_sums.clone());
            }
            acc.push(rows);
        }
        Some(Self { acc })
    }

    /// The final accumulator of each of the first `n_out` neurons.
    pub fn outputs(&self, n_out: usize) -> Vec<i64> {
        self.acc
            .iter()
            .flat_map(|block| block.last().cloned().unwrap_or_default())
            .take(n_out)
            .collect()
    }
}

/// Operations the dense chip provides.
pub trait MatMulInstructions<F: PrimeField> {
    /// Lays out `acc = W·x + b` with `W`, `b` model parameters (private when the chip keeps
    /// private weights) and returns one wire per output neuron (`n_out = bias.len()`).
    fn dense(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        witness: Option<&DenseWitness>,
    ) -> Result<Vec<Wire<F>>, Error>;

    /// [`Self::dense`] with structural constants (a gadget's own coefficients): always fixed,
    /// so the verifying key pins them.
    fn dense_structural(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        witness: Option<&DenseWitness>,
    ) -> Result<Vec<Wire<F>>, Error>;
}

/// The dense chip.
#[derive(Clone, Debug)]
pub struct MatMulChip<F: PrimeField> {
    config: MatMulConfig,
    next_row: usize,
    _f: PhantomData<F>,
}

impl<F: PrimeField> MatMulChip<F> {
    /// Wraps a configuration; blocks are laid out from row `first_row` down.
    ///
    /// halo2-axiom's `SimpleFloorPlanner` starts every region at row 0, so region offsets are
    /// absolute rows: the chip keeps its own row cursor.
    pub fn construct(config: MatMulConfig, first_row: usize) -> Self {
        Self {
            config,
            next_row: first_row,
            _f: PhantomData,
        }
    }

    /// The next free row.
    pub fn next_row(&self) -> usize {
        self.next_row
    }

    #[allow(clippy::too_many_arguments)]
    fn assign_block(
        &self,
        region: &mut Region<'_, F>,
        start: usize,
        block: usize,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        witness: Option<&Vec<Vec<i64>>>,
        parameter: bool,
    ) -> Result<Vec<Wire<F>>, Error> {
        let c = &self.config;
        let lanes = c.lanes();
        let neuron = |l: usize| block * lanes + l;
        let acc_value = |row: usize, l: usize| {
            known_if(witness.and_then(|w| w.get(row)?.get(l)), |&v| to_field(v))
        };
        c.q_bias.enable(region, start)?;
        let mut last = Vec::with_capacity(lanes);
        for l in 0..lanes {
            let b = bias.get(neuron(l)).copied().unwrap_or(0);
            c.w.assign(region, l, start, to_field::<F>(b), parameter)?;
            last.push(Wire::assign(region, c.acc[l], start, acc_value(0, l)));
        }
        for (i, xi) in x.iter().enumerate() {
            let (row, at) = (i + 1, start + i + 1);
            c.q_mac.enable(region, at)?;
            xi.copy_to(region, c.x, at);
            for (l, lane_last) in last.iter_mut().enumerate() {
                let w = weights.get(neuron(l)).map_or(0, |r| r[i]);
                c.w.assign(region, l, at, to_field::<F>(w), parameter)?;
                *lane_last = Wire::assign(region, c.acc[l], at, acc_value(row, l));
            }
        }
        Ok(last)
    }
}

impl<F: PrimeField> MatMulInstructions<F> for MatMulChip<F> {
    fn dense(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        witness: Option<&DenseWitness>,
    ) -> Result<Vec<Wire<F>>, Error> {
        self.lay_out(layouter, x, weights, bias, witness, true)
    }

    fn dense_structural(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        witness: Option<&DenseWitness>,
    ) -> Result<Vec<Wire<F>>, Error> {
        self.lay_out(layouter, x, weights, bias, witness, false)
    }
}

impl<F: PrimeField> MatMulChip<F> {
    fn lay_out(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        weights: &[Vec<i64>],
        bias: &[i64],
        witness: Option<&DenseWitness>,
        parameter: bool,
    ) -> Result<Vec<Wire<F>>, Error> {
        let n_out = bias.len();
        if weights.len() != n_out || weights.iter().any(|r| r.len() != x.len()) {
            return Err(Error::Synthesis);
        }
        let lanes = self.config.lanes();
        let mut out = Vec::with_capacity(n_out);
        for block in 0..n_out.div_ceil(lanes) {
            let w = witness
                .map(|w| w.acc.get(block))
                .map(|b| b.ok_or(Error::Synthesis))
                .transpose()?;
            let start = self.next_row;
            let lanes_out = layouter.assign_region(
                || format!("dense block {block}: acc = b + Σ w·x"),
                |mut region| {
                    self.assign_block(&mut region, start, block, x, weights, bias, w, parameter)
                },
            )?;
            self.next_row += x.len() + 1;
            out.extend(lanes_out.into_iter().take(n_out - block * lanes));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::fixed::dot;
    use crate::testing::{LayerCircuit, LayerShape, MockRun};

    /// A 5 → 3 layer (3 neurons over 2 lanes: the second block is half empty).
    fn layer() -> LayerCircuit {
        let w = vec![
            vec![3, -1, 4, 1, -5],
            vec![-9, 2, 6, -5, 3],
            vec![5, 8, -9, 7, 9],
        ];
        LayerCircuit::honest(
            LayerShape::default(),
            w,
            vec![7, -3, 0],
            0,
            vec![2, -7, 1, 8, -2],
        )
    }

    #[test]
    fn dense_matches_reference() {
        let c = layer();
        let dense = c.dense.as_ref().expect("witness");
        for (j, z) in dense.outputs(3).into_iter().enumerate() {
            assert_eq!(Some(z), dot(&c.weights[j], &c.input, c.bias[j]));
        }
        MockRun::new().k(9).run(&c);
    }

    #[test]
    fn lanes_wider_than_layer_and_single_lane() {
        for lanes in [1, 3, 8] {
            let mut c = layer();
            c.shape.lanes = lanes;
            c = LayerCircuit::honest(c.shape, c.weights, c.bias, 0, c.input);
            MockRun::new().k(9).run(&c);
        }
    }

    #[test]
    fn tampered_running_sum_is_caught() {
        let mut c = layer();
        c.dense.as_mut().expect("witness").acc[0][2][1] += 1;
        MockRun::new()
            .k(9)
            .expect_failure("acc' = acc + w·x")
            .run(&c);
    }

    #[test]
    fn tampered_bias_row_is_caught() {
        let mut c = layer();
        c.dense.as_mut().expect("witness").acc[1][0][0] -= 1;
        MockRun::new().k(9).expect_failure("acc = bias").run(&c);
    }

    #[test]
    fn wrong_output_claimed_consistently_downstream_is_caught() {
        // The prover claims neuron 0's dot product is one more, and keeps rescale and the public
        // output consistent with that lie: only the dense gate can catch it.
        let mut c = layer();
        let dense = c.dense.as_mut().expect("witness");
        let last = dense.acc[0].len() - 1;
        dense.acc[0][last][0] += 1;
        let z = dense.acc[0][last][0];
        c.rescale[0] = RescaleWitness::compute(z, c.d, c.shape.range_bits);
        MockRun::new()
            .k(9)
            .expect_failure("acc' = acc + w·x")
            .run(&c);
    }

    use crate::rescale::RescaleWitness;
}
