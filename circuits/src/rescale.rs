//! # Rescale with round-half-up, fused with a range-decomposed ReLU
//!
//! For each element: given an accumulator `z` (scale `s_x + s_w`), produce `y` (scale `s_y`,
//! `d = s_x + s_w − s_y`) and `a = ReLU(y)`:
//!
//! - gate `"z + 2^(d-1) = y·2^d + r"`: `q·(z + half − y·two_d − u·inv_shift − v·v_coef) = 0`, the
//!   fixed columns holding `half = 2^(d−1)` (0 when `d = 0`) and `two_d = 2^d`. The remainder
//!   `r ∈ [0, 2^d)` is checked in one or two limbs of `R` bits (`remainder_limbs`, so `d ≤ R` or
//!   `d ≤ 2R`):
//!   - `d = 0`: no remainder (`inv_shift = v_coef = 0`): `y = z` exactly, whatever `z` is; the
//!     gate `"no shift: remainder limbs are 0"`, `q·(two_d − 2·half)·(u + v) = 0`, pins the
//!     limbs no term reads (`two_d − 2·half` is 1 for `d = 0`, 0 for every other shift);
//!   - `0 < d ≤ R`: `r = u·2^(d−R)` (`inv_shift = 2^(d−R)`): `u = r·2^(R−d)`; with two limbs
//!     `v_coef = 2^(d−2R)`, so `N·2^(2R−d) = u·2^R + v` over the integers and the unused `v`
//!     must be 0 (`2^R` divides the left side);
//!   - `d = R + e`, `0 < e ≤ R`: `r = u·2^(e−R) + v·2^e` (`inv_shift = 2^(e−R)`,
//!     `v_coef = 2^e`): the short low limb `r mod 2^e` is scaled up into the table as `u`, the
//!     high limb `v = r >> e` is looked up as is;
//! - lookups `"rescale remainder"` (and `"rescale remainder high limb"`): `u, v ∈ [0, 2^R)`
//!   (the [`RangeTable`]);
//! - gate `"y = hi·2^R + lo"` with lookup `"activation low limb"`: `lo ∈ [0, 2^R)`;
//! - lookup `"relu sign table"`: `(bound·hi, bound·neg) ∈ {(x, [x < 0]) : x ∈ [−2^(B−1), 2^(B−1))}`
//!   (the [`ReluTable`]), `bound` being a fixed column, 1 on *bounded* rows;
//! - gate `"a = (1 - neg)·y"`: `q·(a − (1 − neg)·y) = 0`.
//!
//! On bounded rows `y = hi·2^R + lo ∈ [−2^(B+R−1), 2^(B+R−1))`: activations get `B + R` signed
//! bits from two tables of `2^B` and `2^R` rows. `y` has the sign of `hi` (`lo < 2^R`), so
//! `a = [hi ≥ 0]·y = ReLU(y)`.
//!
//! Rows with `bound = 0` skip the sign table: `hi`, `neg` and `a` are then free cells, so `y`
//! must be bounded by someone else and `a` must not be used. zkinfer uses such rows only for
//! the model's final layer when it has no ReLU: its `y` cells are the public output, and their
//! soundness rests on two things outside this chip: the verifier checks every public output
//! against the committed `output_bits` before accepting, and the compiler bounds every
//! accumulator `z` to `ACCUMULATOR_BITS` signed bits over in-range inputs (so the quotient
//! argument below holds for them too).
//!
//! Soundness of the quotient: `y` is bounded (limbs, or the verifier) and `z` is a small integer
//! (a bounded dot product), so `N = z + 2^(d−1) − y·2^d` is a small integer. One limb:
//! `u = N·2^(R−d) ∈ [0, 2^R)` forces `0 ≤ N < 2^d`. Two limbs: `N·2^(R−e) = u + v·2^R` holds
//! over the integers (both sides are far below the field size), so `2^(R−e)` divides `u` and
//! `N = u/2^(R−e) + v·2^e ∈ [0, 2^(e+R)) = [0, 2^d)`. Two limbs with `0 < d ≤ R`:
//! `N·2^(2R−d) = u·2^R + v` over the integers, so `0 ≤ N < 2^d` and `v = 0`. With `d = 0` the
//! gate has no remainder term (`y = z`) and the "no shift" gate zeroes the limbs. Either way
//! `0 ≤ N < 2^d`, and the integers
//! `y·2^d + N` over that box are distinct, so `y` is exactly `floor((z + 2^(d−1)) / 2^d)`.
//! (The short limb must be the scaled one: scaling the high limb instead would let a
//! non-multiple `u` be cancelled by the `2^R` it is multiplied with.) Requires
//! `d ≤ remainder_limbs·R` and `B + 3R + 2 < 253` (always true for `i64` data and tables of
//! at most 2^26 rows).
//!
//! | `z` (eq) | `y` (eq) | `u` | `v`¹ | `hi` | `lo` | `neg` | `a` (eq) | `half` | `two_d` | `inv_shift` | `v_coef`¹ | `bound` | `q` |
//! |----------|----------|-----|------|------|------|-------|----------|--------|---------|-------------|-----------|---------|-----|
//!
//! ¹ only with two remainder limbs.
//!
//! Degree: gates 3, lookups 4 and 5 (the same extended domain as degree 4). The range lookups
//! carry no selector: unused rows hold zeros, and `0` is in the range table.
//! `configure` enables equality on `z`, `y` and `a`.
//!
//! **Tall layout** ([`RescaleConfig::configure_with`], `tall`): an element takes two rows
//! (three with two limbs) and its range-checked limbs share the `u` column: `u` on its first
//! row, `lo` on the next, `v` on the one after; the gates read them there (`Rotation(1)`,
//! `Rotation(2)`), and the one ungated range lookup on `u` checks all three. The relations
//! and the argument above are unchanged: every limb is still in `[0, 2^R)` and read by the same
//! terms. The rows below an element's first belong to it (one row cursor), hold no selector
//! and `bound = 0`, so nothing else reads their cells. Two lookups fewer (each commits three
//! polynomials and opens five evaluations) and one or two advice columns fewer, for twice or
//! three times the rows: the plan takes it where the rows keep `k`.
//!
//! | row | `z` | `y` | `u` (limbs) | `hi` | `neg` | `a` | fixed, `q` |
//! |-----|-----|-----|-------------|------|-------|-----|------------|
//! | 0   | `z` | `y` | `u`         | `hi` | `neg` | `a` | as above   |
//! | 1   |     |     | `lo`        |      |       |     | 0          |
//! | 2¹  |     |     | `v`         |      |       |     | 0          |

use crate::{
    fixed::{pow2, relu, rescale, rounding_term, to_field},
    known_if,
    range::RangeTable,
    relu::ReluTable,
    Wire,
};
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector},
    poly::Rotation,
};
use std::marker::PhantomData;

/// Columns, selector and tables of the rescale chip.
#[derive(Clone, Debug)]
pub struct RescaleConfig {
    /// Input accumulator (also usable as a plain copy column where `q` is off).
    pub z: Column<Advice>,
    /// Rescaled value.
    pub y: Column<Advice>,
    /// Scaled (low) remainder limb.
    pub u: Column<Advice>,
    /// High remainder limb (two-limb configurations only; `u`'s column, two rows down, when
    /// tall).
    pub v: Option<Column<Advice>>,
    /// High limb of `y`.
    pub hi: Column<Advice>,
    /// Low limb of `y` (`u`'s column, one row down, when tall).
    pub lo: Column<Advice>,
    /// Whether the chip is tall: `lo` (and `v`) in `u`'s column on the element's next rows.
    pub tall: bool,
    /// `[hi < 0]`.
    pub neg: Column<Advice>,
    /// `ReLU(y)`.
    pub a: Column<Advice>,
    half: Column<Fixed>,
    two_d: Column<Fixed>,
    inv_shift: Column<Fixed>,
    v_coef: Option<Column<Fixed>>,
    bound: Column<Fixed>,
    q: Selector,
    /// The remainder and low-limb table.
    pub range: RangeTable,
    /// The sign table of high limbs.
    pub relu: ReluTable,
}

impl RescaleConfig {
    /// Configures the chip over existing tables, checking remainders in `remainder_limbs`
    /// (1 or 2) limbs of `R` bits. Side effects: 7 advice columns (equality on `z`, `y`, `a`),
    /// 4 fixed columns, one selector, four gates, three lookups; one more advice column, fixed
    /// column and lookup with two limbs.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        range: RangeTable,
        relu: ReluTable,
        remainder_limbs: u32,
    ) -> Self {
        Self::configure_with(meta, range, relu, remainder_limbs, false)
    }

    /// [`RescaleConfig::configure`]; with `tall`, every element takes two rows (three with two
    /// limbs) and its range-checked limbs share one column: `u` on its first row, `lo` on the
    /// next, `v` on the one after. Side effects when tall: 6 advice columns, one range lookup
    /// (`u`'s, ungated, checks every limb), the sign lookup; one more fixed column with two
    /// limbs. Fewer committed polynomials (a lookup commits three) for twice the rows.
    pub fn configure_with<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        range: RangeTable,
        relu: ReluTable,
        remainder_limbs: u32,
        tall: bool,
    ) -> Self {
        let [z, y, u, hi] = [(); 4].map(|_| meta.advice_column());
        let lo = if tall { u } else { meta.advice_column() };
        let [neg, a] = [(); 2].map(|_| meta.advice_column());
        for c in [z, y, a] {
            meta.enable_equality(c);
        }
        let [half, two_d, inv_shift, bound] = [(); 4].map(|_| meta.fixed_column());
        let (v, v_coef) = if remainder_limbs >= 2 {
            (
                Some(if tall { u } else { meta.advice_column() }),
                Some(meta.fixed_column()),
            )
        } else {
            (None, None)
        };
        // the rows `lo` and `v` sit on, relative to the element's first row
        let (lo_at, v_at) = if tall {
            (Rotation(1), Rotation(2))
        } else {
            (Rotation::cur(), Rotation::cur())
        };
        let q = meta.selector();
        let two_r = pow2::<F>(range.bits);
        meta.create_gate("z + 2^(d-1) = y·2^d + r", |m| {
            let q = m.query_selector(q);
            let [z, y, u] = [z, y, u].map(|c| m.query_advice(c, Rotation::cur()));
            let [half, two_d, inv_shift] =
                [half, two_d, inv_shift].map(|c| m.query_fixed(c, Rotation::cur()));
            let mut r = u * inv_shift;
            if let (Some(v), Some(v_coef)) = (v, v_coef) {
                r = r + m.query_advice(v, v_at) * m.query_fixed(v_coef, Rotation::cur());
            }
            vec![q * (z + half - y * two_d - r)]
        });
        // `2^d − 2·2^(d−1)` is 1 for d = 0 and 0 otherwise: with no shift the remainder limbs,
        // which the gate above then multiplies by 0, must be 0 (limbs in [0, 2^R) sum to 0 only
        // when both are)
        meta.create_gate("no shift: remainder limbs are 0", |m| {
            let q = m.query_selector(q);
            let [half, two_d] = [half, two_d].map(|c| m.query_fixed(c, Rotation::cur()));
            let mut limbs = m.query_advice(u, Rotation::cur());
            if let Some(v) = v {
                limbs = limbs + m.query_advice(v, v_at);
            }
            vec![q * (two_d - half * halo2_proofs::plonk::Expression::Constant(F::from(2))) * limbs]
        });
        meta.create_gate("y = hi·2^R + lo", |m| {
            let q = m.query_selector(q);
            let [y, hi] = [y, hi].map(|c| m.query_advice(c, Rotation::cur()));
            let lo = m.query_advice(lo, lo_at);
            vec![q * (y - hi * halo2_proofs::plonk::Expression::Constant(two_r) - lo)]
        });
        meta.create_gate("a = (1 - neg)·y", |m| {
            let q = m.query_selector(q);
            let [y, neg, a] = [y, neg, a].map(|c| m.query_advice(c, Rotation::cur()));
            vec![q * (a - (halo2_proofs::plonk::Expression::Constant(F::ONE) - neg) * y)]
        });
        if tall {
            // one ungated lookup on the limb column checks `u`, `lo` and `v` on their rows
            meta.lookup(
                "rescale remainder and activation low limb (one column) in [0, 2^R)",
                |m| vec![(m.query_advice(u, Rotation::cur()), range.values)],
            );
        } else {
            meta.lookup("rescale remainder (scaled low limb) in [0, 2^R)", |m| {
                vec![(m.query_advice(u, Rotation::cur()), range.values)]
            });
            if let Some(v) = v {
                meta.lookup("rescale remainder high limb in [0, 2^R)", |m| {
                    vec![(m.query_advice(v, Rotation::cur()), range.values)]
                });
            }
            meta.lookup("activation low limb in [0, 2^R)", |m| {
                vec![(m.query_advice(lo, Rotation::cur()), range.values)]
            });
        }
        meta.lookup("relu sign table: high limb bounded, neg = [hi < 0]", |m| {
            let bound = m.query_fixed(bound, Rotation::cur());
            vec![
                (
                    bound.clone() * m.query_advice(hi, Rotation::cur()),
                    relu.input,
                ),
                (bound * m.query_advice(neg, Rotation::cur()), relu.output),
            ]
        });
        Self {
            z,
            y,
            u,
            v,
            hi,
            lo,
            tall,
            neg,
            a,
            half,
            two_d,
            inv_shift,
            v_coef,
            bound,
            q,
            range,
            relu,
        }
    }
}

impl RescaleConfig {
    /// The fixed columns only this chip's selector-gated gates read (`2^(d−1)`, `2^d` and the
    /// remainder scale; not `bound`, which gates the sign lookup itself): another chip may use
    /// them on rows where this one is off.
    pub fn gated_fixed(&self) -> [Column<Fixed>; 3] {
        [self.half, self.two_d, self.inv_shift]
    }

    /// Rows one element takes: 1, or when tall 2 (3 with two remainder limbs).
    pub fn rows_per_element(&self) -> usize {
        Self::rows_per_element_of(self.tall, if self.v.is_some() { 2 } else { 1 })
    }

    /// [`RescaleConfig::rows_per_element`] of a configuration not yet made.
    pub fn rows_per_element_of(tall: bool, remainder_limbs: u32) -> usize {
        if tall {
            1 + remainder_limbs as usize
        } else {
            1
        }
    }

    /// The row offsets of `lo` and `v` from an element's first row.
    fn limb_rows(&self) -> (usize, usize) {
        if self.tall {
            (1, 2)
        } else {
            (0, 0)
        }
    }
}

/// The values one rescaled element assigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RescaleWitness {
    /// Quotient `floor((z + 2^(d−1)) / 2^d)`.
    pub y: i64,
    /// Scaled low remainder limb: `r·2^(R−d)` when `d ≤ R`, else `(r mod 2^e)·2^(R−e)`
    /// with `e = d − R`.
    pub u: i64,
    /// High remainder limb: 0 when `d ≤ R`, else `r >> e`.
    pub v: i64,
    /// `floor(y / 2^R)`.
    pub hi: i64,
    /// `y mod 2^R`.
    pub lo: i64,
    /// `[hi < 0]`.
    pub neg: i64,
    /// `ReLU(y)`.
    pub a: i64,
}

impl RescaleWitness {
    /// The honest witness for `z` rescaled by `2^d` against a `range_bits`-bit range table
    /// (`d ≤ 2·range_bits`; larger shifts give a witness the chip refuses).
    pub fn compute(z: i64, d: u32, range_bits: u32) -> Self {
        let (y, r) = rescale(z, d);
        let (hi, lo) = (y.div_euclid(1 << range_bits), y.rem_euclid(1 << range_bits));
        let (u, v) = match d.checked_sub(range_bits) {
            None | Some(0) => (r << (range_bits - d), 0),
            Some(e) => ((r & ((1 << e) - 1)) << range_bits.saturating_sub(e), r >> e),
        };
        Self {
            y,
            u,
            v,
            hi,
            lo,
            neg: i64::from(hi < 0),
            a: relu(y),
        }
    }
}

/// One rescaled element: the quotient `y` and `ReLU(y)`.
#[derive(Clone, Copy, Debug)]
pub struct Rescaled<F: PrimeField> {
    /// `y = floor((z + 2^(d−1)) / 2^d)`.
    pub y: Wire<F>,
    /// `max(y, 0)`; `None` on unbounded rows, where the sign table is off and the cell is
    /// unconstrained.
    pub relu: Option<Wire<F>>,
}

/// Operations the rescale chip provides.
pub trait RescaleInstructions<F: PrimeField> {
    /// Rescales every `z` by `2^d`; returns `y` and `ReLU(y)` per element. With `bounded =
    /// false` the sign table is off for these rows: the caller must bound `y` (see the module
    /// doc) and must not use `ReLU(y)`.
    fn rescale(
        &mut self,
        layouter: &mut impl Layouter<F>,
        z: &[Wire<F>],
        d: u32,
        bounded: bool,
        witness: Option<&[RescaleWitness]>,
    ) -> Result<Vec<Rescaled<F>>, Error>;
}

/// The rescale chip.
#[derive(Clone, Debug)]
pub struct RescaleChip<F: PrimeField> {
    config: RescaleConfig,
    rows: crate::Rows,
    _f: PhantomData<F>,
}

impl<F: PrimeField> RescaleChip<F> {
    /// Wraps a configuration; rows are used from `first_row` down (region offsets are absolute
    /// rows under halo2-axiom's `SimpleFloorPlanner`, so the chip keeps its own cursor).
    pub fn construct(config: RescaleConfig, first_row: usize) -> Self {
        Self::construct_on(config, crate::Rows::new(first_row))
    }

    /// Wraps a configuration taking its rows from `rows` (a cursor other chips laid out in the
    /// same columns share).
    pub fn construct_on(config: RescaleConfig, rows: crate::Rows) -> Self {
        Self {
            config,
            rows,
            _f: PhantomData,
        }
    }

    /// The chip's row cursor.
    pub fn rows(&self) -> crate::Rows {
        self.rows.clone()
    }

    /// The next free row.
    pub fn next_row(&self) -> usize {
        self.rows.next()
    }
}

/// Where the rescaled elements' `z` come from: cells copied in, or values assigned fresh (whose
/// constraint the caller lays out on the element rows, like the product chip beside this one).
enum Zs<'a, F: PrimeField> {
    Copied(&'a [Wire<F>]),
    Fresh(&'a [Value<F>]),
}

impl<F: PrimeField> Zs<'_, F> {
    fn len(&self) -> usize {
        match self {
            Zs::Copied(z) => z.len(),
            Zs::Fresh(z) => z.len(),
        }
    }
}

impl<F: PrimeField> RescaleChip<F> {
    /// Rows one element takes ([`RescaleConfig::rows_per_element`]).
    pub fn rows_per_element(&self) -> usize {
        self.config.rows_per_element()
    }

    /// The chip's columns.
    pub fn config(&self) -> &RescaleConfig {
        &self.config
    }

    /// [`RescaleInstructions::rescale`] of values assigned here, not copied in: element `i`'s
    /// `z` is a fresh cell on row `start + i·rows_per_element()` (`start` returned beside the
    /// results), bound by nothing in this chip, so the caller must constrain it on that row
    /// (the product chip beside this one does: `z = 2^e·a·b`).
    pub(crate) fn rescale_fresh(
        &mut self,
        layouter: &mut impl Layouter<F>,
        z: &[Value<F>],
        d: u32,
        bounded: bool,
        witness: Option<&[RescaleWitness]>,
    ) -> Result<(Vec<Rescaled<F>>, usize), Error> {
        self.lay_out(layouter, Zs::Fresh(z), d, bounded, witness)
    }

    fn lay_out(
        &mut self,
        layouter: &mut impl Layouter<F>,
        z: Zs<'_, F>,
        d: u32,
        bounded: bool,
        witness: Option<&[RescaleWitness]>,
    ) -> Result<(Vec<Rescaled<F>>, usize), Error> {
        let c = &self.config;
        let h = c.rows_per_element();
        let (lo_at, v_at) = c.limb_rows();
        let big_r = c.range.bits;
        let limbs = if c.v.is_some() { 2 } else { 1 };
        if d > limbs * big_r || witness.is_some_and(|w| w.len() != z.len()) {
            return Err(Error::Synthesis);
        }
        let start = self.rows.take(z.len() * h);
        // r = u·2^(d−R) (one limb) or u·2^(e−R) + v·2^e with e = d − R (two limbs)
        let (inv_shift, v_coef) = match d.checked_sub(big_r) {
            // shift 0: no remainder at all, so `y = z` exactly (a remainder term would let a
            // fractional `z` from an unbounded row become an integer `y` off by one)
            None if d == 0 => (F::ZERO, F::ZERO),
            // two limbs with d ≤ R: v·2^(d−2R) pins the unused high limb to 0 (N·2^(2R−d) =
            // u·2^R + v over the integers, and 2^R divides the left side)
            None | Some(0) => (
                pow2::<F>(big_r - d).invert().unwrap_or(F::ZERO),
                pow2::<F>(2 * big_r - d).invert().unwrap_or(F::ZERO),
            ),
            Some(e) => (
                pow2::<F>(big_r - e).invert().unwrap_or(F::ZERO),
                pow2::<F>(e),
            ),
        };
        layouter
            .assign_region(
                || format!("rescale by 2^{d} + relu"),
                |mut region| {
                    let mut out = Vec::with_capacity(z.len());
                    for i in 0..z.len() {
                        let row = start + i * h;
                        let w = witness.map(|w| w[i]);
                        c.q.enable(&mut region, row)?;
                        match &z {
                            Zs::Copied(z) => {
                                z[i].copy_to(&mut region, c.z, row);
                            }
                            Zs::Fresh(z) => {
                                Wire::assign(&mut region, c.z, row, z[i]);
                            }
                        }
                        region.assign_fixed(c.half, row, to_field::<F>(rounding_term(d)));
                        region.assign_fixed(c.two_d, row, pow2::<F>(d));
                        region.assign_fixed(c.inv_shift, row, inv_shift);
                        if let (Some(col), Some(v)) = (c.v_coef, c.v) {
                            region.assign_fixed(col, row, v_coef);
                            Wire::assign(
                                &mut region,
                                v,
                                row + v_at,
                                known_if(w, |w| to_field(w.v)),
                            );
                        }
                        region.assign_fixed(c.bound, row, F::from(u64::from(bounded)));
                        if h > 1 {
                            // a fixed cell on the element's last row: keygen refuses an element
                            // whose limb rows run past the usable rows (advice assignments are not
                            // checked there, and the blinding rows are not range-checked)
                            region.assign_fixed(c.bound, row + h - 1, F::ZERO);
                        }
                        let y = Wire::assign(&mut region, c.y, row, known_if(w, |w| to_field(w.y)));
                        for (col, at, v) in [
                            (c.u, row, w.map(|w| w.u)),
                            (c.hi, row, w.map(|w| w.hi)),
                            (c.lo, row + lo_at, w.map(|w| w.lo)),
                            (c.neg, row, w.map(|w| w.neg)),
                        ] {
                            Wire::assign(&mut region, col, at, known_if(v, to_field));
                        }
                        let a = Wire::assign(&mut region, c.a, row, known_if(w, |w| to_field(w.a)));
                        out.push(Rescaled {
                            y,
                            relu: bounded.then_some(a),
                        });
                    }
                    Ok(out)
                },
            )
            .map(|out| (out, start))
    }
}

impl<F: PrimeField> RescaleInstructions<F> for RescaleChip<F> {
    fn rescale(
        &mut self,
        layouter: &mut impl Layouter<F>,
        z: &[Wire<F>],
        d: u32,
        bounded: bool,
        witness: Option<&[RescaleWitness]>,
    ) -> Result<Vec<Rescaled<F>>, Error> {
        self.lay_out(layouter, Zs::Copied(z), d, bounded, witness)
            .map(|(out, _)| out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{LayerCircuit, LayerShape, MockRun};

    /// Identity weights so each accumulator is the input itself: z = input.
    fn rescaling_with(shape: LayerShape, input: Vec<i64>, d: u32) -> LayerCircuit {
        let n = input.len();
        let w = (0..n)
            .map(|j| (0..n).map(|i| i64::from(i == j)).collect())
            .collect();
        LayerCircuit::honest(shape, w, vec![0; n], d, input)
    }

    fn rescaling(input: Vec<i64>, d: u32) -> LayerCircuit {
        rescaling_with(LayerShape::default(), input, d)
    }

    /// For every shift up to the chip's limbs: the honest witness matches the reference, its
    /// limbs are in range, and MockProver accepts it with `y` and with `ReLU(y)` as output.
    fn check_every_shift(shape: LayerShape, all: &[i64]) {
        let big_r = shape.range_bits;
        let bits = shape.relu_bits + shape.range_bits;
        for d in 0..=shape.remainder_limbs * big_r {
            // only quotients inside the ReLU table are provable (see the out-of-domain test)
            let zs: Vec<i64> = all
                .iter()
                .copied()
                .filter(|&z| crate::fixed::fits_signed(rescale(z, d).0, bits))
                .collect();
            let c = rescaling_with(shape, zs.clone(), d);
            for (z, w) in zs.iter().zip(&c.rescale) {
                assert_eq!(w.y, rescale(*z, d).0, "z = {z}, d = {d}");
                assert_eq!(w.a, w.y.max(0));
                assert!((0..1 << big_r).contains(&w.u) && (0..1 << big_r).contains(&w.v));
            }
            MockRun::new().k(9).run(&c);
            let mut relu = c.clone();
            relu.relu_out = true;
            MockRun::new().k(9).run(&relu);
        }
    }

    #[test]
    fn rescale_matches_reference_for_every_shift() {
        check_every_shift(
            LayerShape::default(),
            &[-200, -65, -64, -33, -1, 0, 1, 31, 32, 33, 127, 250],
        );
    }

    #[test]
    fn quotient_too_large_with_negative_remainder_is_caught() {
        // z + 2^(d-1) = (y+1)·2^d + (r − 2^d): the gate holds, the remainder is negative.
        let d = 3;
        let mut c = rescaling(vec![37, -20], d);
        let r = c.rescale[0].u >> (c.shape.range_bits - d);
        c.rescale[0].y += 1;
        c.rescale[0].a = c.rescale[0].y.max(0);
        c.rescale[0].u = (r - (1 << d)) << (c.shape.range_bits - d);
        MockRun::new()
            .k(9)
            .expect_failure("rescale remainder")
            .run(&c);
    }

    #[test]
    fn quotient_too_small_with_remainder_past_2_pow_d_is_caught() {
        // r + 2^d < 2^R fits the table but not [0, 2^d): the scaling by 2^(R-d) must catch it.
        let d = 2;
        let mut c = rescaling(vec![37, -20], d);
        assert!(d < c.shape.range_bits);
        let r = c.rescale[1].u >> (c.shape.range_bits - d);
        assert!(r + (1 << d) < 1 << c.shape.range_bits);
        c.rescale[1].y -= 1;
        c.rescale[1].a = c.rescale[1].y.max(0);
        c.rescale[1].u = (r + (1 << d)) << (c.shape.range_bits - d);
        MockRun::new()
            .k(9)
            .expect_failure("rescale remainder")
            .run(&c);
    }

    #[test]
    fn quotient_alone_changed_breaks_the_gate() {
        let mut c = rescaling(vec![37, -20], 3);
        c.rescale[0].y += 1;
        c.rescale[0].a = c.rescale[0].y.max(0);
        MockRun::new()
            .k(9)
            .expect_failure("z + 2^(d-1) = y·2^d + r")
            .run(&c);
    }

    #[test]
    fn quotient_outside_relu_domain_is_caught() {
        // y = 2^(B+R-1) is one past the limbs' range; with d = 0 the gate is satisfiable (z = y).
        let shape = LayerShape::default();
        let big = 1i64 << (shape.relu_bits + shape.range_bits - 1);
        let mut c = rescaling(vec![big - 1], 0);
        MockRun::new().k(9).run(&c);
        c = rescaling(vec![big], 0);
        MockRun::new()
            .k(9)
            .expect_failure("relu sign table")
            .run(&c);
        c = rescaling(vec![-big - 1], 0);
        MockRun::new()
            .k(9)
            .expect_failure("relu sign table")
            .run(&c);
    }

    #[test]
    fn tampered_limbs_are_caught() {
        // in their own columns, and tall (the low limb on the limb column's next row)
        for shape in [LayerShape::default(), tall(1)] {
            let mut c = rescaling_with(shape, vec![1000, -999], 0);
            let two_r = 1i64 << c.shape.range_bits;
            c.rescale[0].hi += 1;
            c.rescale[0].lo -= two_r;
            MockRun::new()
                .k(9)
                .expect_failure("activation low limb")
                .run(&c);
            let mut c = rescaling_with(shape, vec![1000, -999], 0);
            c.rescale[1].lo += 1;
            MockRun::new()
                .k(9)
                .expect_failure("y = hi·2^R + lo")
                .run(&c);
        }
    }

    #[test]
    fn unbounded_rows_take_quotients_beyond_the_table() {
        let shape = LayerShape::default();
        let big = 1i64 << (shape.relu_bits + shape.range_bits);
        let mut c = rescaling(vec![big * 8 + 3, -big * 8], 2);
        c.bounded = false;
        MockRun::new().k(9).run(&c);
        c.bounded = true;
        MockRun::new()
            .k(9)
            .expect_failure("relu sign table")
            .run(&c);
    }

    #[test]
    fn unbounded_rows_still_pin_the_quotient_by_the_remainder() {
        let d = 2;
        for delta in [1i64, -1] {
            let mut c = rescaling(vec![1000, -999], d);
            c.bounded = false;
            let shift = c.shape.range_bits - d;
            let r = c.rescale[0].u >> shift;
            c.rescale[0].y += delta;
            c.rescale[0].u = (r - delta * (1 << d)) << shift;
            MockRun::new()
                .k(9)
                .expect_failure("rescale remainder")
                .run(&c);
        }
    }

    fn two_limbs() -> LayerShape {
        LayerShape {
            remainder_limbs: 2,
            ..LayerShape::default()
        }
    }

    /// Like [`rescaling`], with remainders checked in two limbs.
    fn rescaling2(input: Vec<i64>, d: u32) -> LayerCircuit {
        rescaling_with(two_limbs(), input, d)
    }

    #[test]
    fn two_limb_rescale_matches_reference_up_to_2r() {
        check_every_shift(
            two_limbs(),
            &[
                -300_000, -4097, -4096, -2049, -2048, -1, 0, 1, 2047, 2048, 4095, 4096, 99_999,
            ],
        );
    }

    #[test]
    fn two_limb_quotient_off_by_one_is_caught_by_the_high_limb() {
        // d = R + 2: a quotient one too small needs r + 2^d, whose high limb leaves [0, 2^R);
        // one too large needs r − 2^d < 0.
        let d = two_limbs().range_bits + 2;
        let e = d - two_limbs().range_bits;
        for delta in [-1i64, 1] {
            let mut c = rescaling2(vec![5000, -7000], d);
            let (_, r) = rescale(5000, d);
            let r2 = r - delta * (1 << d);
            c.rescale[0].y += delta;
            c.rescale[0].a = c.rescale[0].y.max(0);
            c.rescale[0].u = (r2 & ((1 << e) - 1)) << (c.shape.range_bits - e);
            c.rescale[0].v = r2 >> e;
            MockRun::new()
                .k(9)
                .expect_failure("rescale remainder high limb")
                .run(&c);
        }
    }

    #[test]
    fn two_limb_gate_admits_only_the_honest_limbs() {
        // Exhaustive at R = 6: for every d in R+1..=2R and a few z, the only (y, u, v) with
        // u, v ∈ [0, 2^R) satisfying the gate's field equation (y within ±3 of the honest
        // quotient) is the honest one: in particular no u that is not a multiple of 2^(R−e)
        // can be compensated in v.
        use halo2_proofs::halo2curves::{bn256::Fr, ff::Field};
        let big_r = 6u32;
        for d in big_r + 1..=2 * big_r {
            let e = d - big_r;
            let inv_shift = pow2::<Fr>(big_r - e).invert().unwrap();
            let v_coef = pow2::<Fr>(e);
            for z in [-5000i64, -1, 0, 1, 777, 4095, 123_456] {
                let honest = RescaleWitness::compute(z, d, big_r);
                let lhs0 = to_field::<Fr>(z) + to_field::<Fr>(rounding_term(d));
                let mut solutions = vec![];
                for y in honest.y - 3..=honest.y + 3 {
                    let n = lhs0 - to_field::<Fr>(y) * pow2::<Fr>(d);
                    for u in 0..1i64 << big_r {
                        for v in 0..1i64 << big_r {
                            let r = to_field::<Fr>(u) * inv_shift + to_field::<Fr>(v) * v_coef;
                            if (n - r).is_zero_vartime() {
                                solutions.push((y, u, v));
                            }
                        }
                    }
                }
                assert_eq!(
                    solutions,
                    vec![(honest.y, honest.u, honest.v)],
                    "z = {z}, d = {d}"
                );
            }
        }
    }

    #[test]
    fn two_limb_fractional_low_limb_breaks_the_gate() {
        let d = two_limbs().range_bits + 1;
        let mut c = rescaling2(vec![5001], d);
        c.rescale[0].u += 1;
        MockRun::new()
            .k(9)
            .expect_failure("z + 2^(d-1) = y·2^d + r")
            .run(&c);
    }

    /// Runs MockProver directly, returning its error instead of the harness's panic.
    fn mock(c: &LayerCircuit) -> Result<(), Error> {
        halo2_proofs::dev::MockProver::run(9, c, crate::testing::HasInstances::instances(c))
            .map(|_| ())
    }

    #[test]
    fn chips_refuse_shifts_past_their_limbs() {
        let big_r = LayerShape::default().range_bits;
        assert!(mock(&rescaling(vec![5001], big_r)).is_ok());
        assert!(matches!(
            mock(&rescaling(vec![5001], big_r + 1)),
            Err(Error::Synthesis)
        ));
        assert!(mock(&rescaling2(vec![5001], 2 * big_r)).is_ok());
        assert!(matches!(
            mock(&rescaling2(vec![5001], 2 * big_r + 1)),
            Err(Error::Synthesis)
        ));
    }

    /// The limbs a shift does not use are pinned to 0 (the under-constraint search found
    /// them free before): `u` (and `v`) for `d = 0`, `v` for `0 < d ≤ R` with two limbs.
    #[test]
    fn unused_remainder_limbs_are_pinned() {
        let mut c = rescaling(vec![37, -20], 0);
        c.rescale[0].u = 1;
        MockRun::new()
            .k(9)
            .expect_failure("no shift: remainder limbs are 0")
            .run(&c);
        let two = LayerShape {
            remainder_limbs: 2,
            ..LayerShape::default()
        };
        let mut c = rescaling_with(two, vec![37, -20], 0);
        c.rescale[1].v = 5;
        MockRun::new()
            .k(9)
            .expect_failure("no shift: remainder limbs are 0")
            .run(&c);
        for v in [1, 63] {
            let mut c = rescaling_with(two, vec![37, -20], 4);
            c.rescale[0].v = v;
            MockRun::new()
                .k(9)
                .expect_failure("z + 2^(d-1) = y·2^d + r")
                .run(&c);
        }
    }

    /// Every advice cell of a dense + rescale + ReLU instance, changed alone over a
    /// neighbourhood (limbs, signs and small values over their whole range), is caught: with
    /// one and two remainder limbs at every kind of shift (0, ≤ R, > R), ReLU or `y` as output,
    /// fixed or private weights. (It found the limbs a shift does not use, `u` for `d = 0` and
    /// `v` for `d ≤ R` with two limbs, free before the "no shift" gate and `v_coef = 2^(d−2R)`
    /// pinned them.)
    #[test]
    fn under_constraint_search_finds_no_free_cell() {
        let two_limbs = LayerShape {
            remainder_limbs: 2,
            ..LayerShape::default()
        };
        let private = LayerShape {
            private_weights: true,
            ..LayerShape::default()
        };
        let offset = LayerShape {
            weight_offset: true,
            ..private
        };
        for (shape, d, relu_out) in [
            (LayerShape::default(), 3, false),
            (LayerShape::default(), 3, true),
            (LayerShape::default(), 6, true),
            (two_limbs, 8, true),
            (two_limbs, 12, false),
            (private, 2, true),
            (offset, 2, true),
            (LayerShape::default(), 0, false),
            (two_limbs, 0, true),
            (two_limbs, 4, true),
        ] {
            search_dense_rescale(shape, d, relu_out, "dense + rescale");
        }
    }

    /// The under-constraint search over a small dense + rescale instance (`d`, ReLU or `y` as
    /// output): no changed advice cell is accepted.
    fn search_dense_rescale(shape: LayerShape, d: u32, relu_out: bool, what: &str) {
        use crate::search::Search;
        use crate::testing::HasInstances;
        let mut c = LayerCircuit::honest(
            shape,
            vec![vec![3, -2, 5], vec![-1, 4, 2]],
            vec![7, -3],
            d,
            vec![5, -6, 2],
        );
        c.relu_out = relu_out;
        let r = Search::new(9, c.instances())
            .run(&c, |_, _| true)
            .printed(&format!("{what}, d = {d}, {shape:?}"));
        assert!(r.survivors.is_empty(), "{}", r.describe());
        assert!(r.searched >= 20);
    }

    fn tall(remainder_limbs: u32) -> LayerShape {
        LayerShape {
            remainder_limbs,
            tall_rescale: true,
            ..LayerShape::default()
        }
    }

    #[test]
    fn tall_rescale_matches_reference_for_every_shift() {
        check_every_shift(
            tall(1),
            &[-200, -65, -64, -33, -1, 0, 1, 31, 32, 33, 127, 250],
        );
        check_every_shift(
            tall(2),
            &[-300_000, -4097, -4096, -2049, -1, 0, 1, 2047, 4096, 99_999],
        );
    }

    #[test]
    fn tall_rescale_takes_its_rows_and_drops_a_column_and_lookup_per_limb() {
        use halo2_proofs::halo2curves::bn256::Fr;
        use halo2_proofs::plonk::Circuit;
        for limbs in [1, 2] {
            let cs = |tall_rescale: bool| {
                let mut cs = ConstraintSystem::<Fr>::default();
                LayerCircuit::configure_with_params(
                    &mut cs,
                    LayerShape {
                        remainder_limbs: limbs,
                        tall_rescale,
                        ..LayerShape::default()
                    },
                );
                cs
            };
            let (wide, narrow) = (cs(false), cs(true));
            let extra = limbs as usize; // lo, and v with two limbs
            assert_eq!(
                wide.num_advice_columns(),
                narrow.num_advice_columns() + extra
            );
            assert_eq!(wide.lookups().len(), narrow.lookups().len() + extra);
            assert_eq!(RescaleConfig::rows_per_element_of(true, limbs), 1 + extra);
        }
    }

    /// Each remainder limb of a tall element is in the limb column's own row: tampering with
    /// any is caught by the one range lookup or the gate that reads it from that row.
    #[test]
    fn tall_limbs_tampered_are_caught() {
        let one = tall(1);
        // (the low limb: `tampered_limbs_are_caught`) a quotient one too large, the remainder negative
        let d = 3;
        let mut c = rescaling_with(one, vec![37, -20], d);
        let r = c.rescale[0].u >> (one.range_bits - d);
        c.rescale[0].y += 1;
        c.rescale[0].a = c.rescale[0].y.max(0);
        c.rescale[0].u = (r - (1 << d)) << (one.range_bits - d);
        MockRun::new()
            .k(9)
            .expect_failure("rescale remainder")
            .run(&c);
        // two limbs: the high limb, two rows down, out of range or off the gate
        let d = one.range_bits + 2;
        let e = d - one.range_bits;
        for delta in [-1i64, 1] {
            let mut c = rescaling_with(tall(2), vec![5000, -7000], d);
            let (_, r) = rescale(5000, d);
            let r2 = r - delta * (1 << d);
            c.rescale[0].y += delta;
            c.rescale[0].a = c.rescale[0].y.max(0);
            c.rescale[0].u = (r2 & ((1 << e) - 1)) << (one.range_bits - e);
            c.rescale[0].v = r2 >> e;
            MockRun::new()
                .k(9)
                .expect_failure("rescale remainder")
                .run(&c);
        }
        for v in [1, 63] {
            let mut c = rescaling_with(tall(2), vec![37, -20], 4);
            c.rescale[0].v = v;
            MockRun::new()
                .k(9)
                .expect_failure("z + 2^(d-1) = y·2^d + r")
                .run(&c);
        }
        let mut c = rescaling_with(tall(2), vec![37, -20], 0);
        c.rescale[1].v = 5;
        MockRun::new()
            .k(9)
            .expect_failure("no shift: remainder limbs are 0")
            .run(&c);
    }

    /// The under-constraint search over tall chips: one and two limbs at every kind of shift
    /// (0, ≤ R, > R).
    #[test]
    fn tall_under_constraint_search_finds_no_free_cell() {
        for (shape, d, relu_out) in [
            (tall(1), 3, true),
            (tall(1), 0, false),
            (tall(2), 8, true),
            (tall(2), 4, false),
        ] {
            search_dense_rescale(shape, d, relu_out, "dense + tall rescale");
        }
    }

    /// Rows without the sign table: `hi`, `neg` and `a` lose their range (the module doc's
    /// free cells: `neg` and `a` can change together, `hi` is unbounded), but no single cell can
    /// change alone: `y`, its low limb and the remainder stay pinned.
    #[test]
    fn unbounded_rows_pin_every_single_cell() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        for shape in [LayerShape::default(), tall(1), tall(2)] {
            let mut c = rescaling_with(shape, vec![37, -20], 3);
            c.bounded = false;
            let r = Search::new(9, c.instances())
                .run(&c, |_, _| true)
                .printed(&format!("rescale without the sign table, {shape:?}"));
            assert!(r.survivors.is_empty(), "{}", r.describe());
        }
    }
}
