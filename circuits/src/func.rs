//! # Univariate functions by piecewise-linear lookup
//!
//! For an input `x` (an activation, already bounded to `2B` bits by its producer) the chip
//! splits `x = hi·2^r + lo` with `lo ∈ [0, 2^r)` (`r ≤ R`, the segment width chosen per function
//! variant), looks up the segment `(tag, hi) ↦ (f0, slope)` of a function table, and computes
//! the interpolation `acc = f0·2^r + slope·lo` — the value of the segment's line at `x`, at `2^r`
//! times the table's scale. The caller rescales `acc` (rescale chip) to the output scale.
//!
//! | `x` (eq) | `hi` | `lo` | `f0` | `slope` | `acc` (eq) | `tag`, `two_r`, `lo_scale` (fixed) | `q` |
//! |----------|------|------|------|---------|------------|------------------------------------|-----|
//!
//! - gate `"x = hi·2^r + lo"`: `q·(x − hi·two_r − lo) = 0` (`two_r = 2^r`);
//! - gate `"acc = f0·2^r + slope·lo"`: `q·(acc − f0·two_r − slope·lo) = 0` (degree 3);
//! - lookup `"func lo in [0, 2^r)"`: `lo·lo_scale` into the range table `[0, 2^R)`
//!   (`lo_scale = 2^(R−r)`; unused rows hold 0);
//! - lookup `"func table (tag, hi) -> (f0, slope)"`: `(q·tag, q·hi, q·f0, q·slope)` into the
//!   [`FuncTable`]. Tags start at 1 and the table holds one all-zero row, so unused rows
//!   (`q = 0`) pass and no used row can take the zero row.
//!
//! Soundness: `hi` is a small integer (it is in the table) and `x` an integer, so
//! `lo = x − hi·2^r` is an integer, and `lo·2^(R−r) ∈ [0, 2^R)` forces `lo ∈ [0, 2^r)`: the
//! equation `x = hi·2^r + lo` holds over the integers and `(hi, lo)` is the unique
//! decomposition of `x`;
//! each `(tag, hi)` key occurs once in the table, so `f0` and `slope` are the committed
//! segment's; `acc` is then exactly the interpolation. An `x` whose `hi` is outside the table's
//! domain cannot be proved at all (the witness stage reports it before proving).
//!
//! `configure` enables equality on `x` and `acc`.

use crate::{fixed::to_field, known_if, range::RangeTable, Wire};
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector, TableColumn},
    poly::Rotation,
};
use std::marker::PhantomData;

/// One row of a function table: segment `hi` of variant `tag` starts at `f0` with `slope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Variant (function and scales), from 1.
    pub tag: u64,
    /// High limb of the input.
    pub hi: i64,
    /// `f(hi·2^R)` at the table scale.
    pub f0: i64,
    /// `f((hi+1)·2^R) − f(hi·2^R)` at the table scale.
    pub slope: i64,
}

/// The function table's columns.
#[derive(Clone, Copy, Debug)]
pub struct FuncTable {
    tag: TableColumn,
    hi: TableColumn,
    f0: TableColumn,
    slope: TableColumn,
}

impl FuncTable {
    /// Allocates four table columns.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>) -> Self {
        Self {
            tag: meta.lookup_table_column(),
            hi: meta.lookup_table_column(),
            f0: meta.lookup_table_column(),
            slope: meta.lookup_table_column(),
        }
    }

    /// Fills the table with `segments` plus the all-zero row. Keys `(tag, hi)` must be unique
    /// and tags nonzero (else `Error::Synthesis`).
    pub fn load<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        segments: &[Segment],
    ) -> Result<(), Error> {
        let mut keys: Vec<(u64, i64)> = segments.iter().map(|s| (s.tag, s.hi)).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() != segments.len() || segments.iter().any(|s| s.tag == 0) {
            return Err(Error::Synthesis);
        }
        layouter.assign_table(
            || "func table (tag, hi) -> (f0, slope)",
            |mut table| {
                let zero = Segment {
                    tag: 0,
                    hi: 0,
                    f0: 0,
                    slope: 0,
                };
                for (row, s) in std::iter::once(&zero).chain(segments).enumerate() {
                    for (col, v) in [
                        (self.tag, F::from(s.tag)),
                        (self.hi, to_field(s.hi)),
                        (self.f0, to_field(s.f0)),
                        (self.slope, to_field(s.slope)),
                    ] {
                        table.assign_cell(|| "func", col, row, || Value::known(v))?;
                    }
                }
                Ok(())
            },
        )
    }
}

/// Columns of the function chip.
#[derive(Clone, Debug)]
pub struct FuncConfig {
    /// The input (copied in).
    pub x: Column<Advice>,
    hi: Column<Advice>,
    lo: Column<Advice>,
    f0: Column<Advice>,
    slope: Column<Advice>,
    /// The interpolation `f0·2^R + slope·lo`.
    pub acc: Column<Advice>,
    tag: Column<Fixed>,
    two_r: Column<Fixed>,
    lo_scale: Column<Fixed>,
    q: Selector,
    /// The function table.
    pub table: FuncTable,
    /// The range table `lo` is checked in.
    pub range: RangeTable,
}

impl FuncConfig {
    /// Configures the chip over the range table (`R` bits) and a function table. Side effects:
    /// 6 advice columns (equality on `x`, `acc`), three fixed columns (`tag`, `two_r`,
    /// `lo_scale`), one complex selector, two gates, two lookups.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        range: RangeTable,
        table: FuncTable,
    ) -> Self {
        let [x, hi, lo, f0, slope, acc] = [(); 6].map(|_| meta.advice_column());
        meta.enable_equality(x);
        meta.enable_equality(acc);
        let [tag, two_r, lo_scale] = [(); 3].map(|_| meta.fixed_column());
        let q = meta.complex_selector();
        meta.create_gate("x = hi·2^r + lo", |m| {
            let q = m.query_selector(q);
            let [x, hi, lo] = [x, hi, lo].map(|c| m.query_advice(c, Rotation::cur()));
            let two_r = m.query_fixed(two_r, Rotation::cur());
            vec![q * (x - hi * two_r - lo)]
        });
        meta.create_gate("acc = f0·2^r + slope·lo", |m| {
            let q = m.query_selector(q);
            let [f0, slope, lo, acc] =
                [f0, slope, lo, acc].map(|c| m.query_advice(c, Rotation::cur()));
            let two_r = m.query_fixed(two_r, Rotation::cur());
            vec![q * (acc - f0 * two_r - slope * lo)]
        });
        meta.lookup("func lo in [0, 2^r)", |m| {
            let scale = m.query_fixed(lo_scale, Rotation::cur());
            vec![(m.query_advice(lo, Rotation::cur()) * scale, range.values)]
        });
        meta.lookup("func table (tag, hi) -> (f0, slope)", |m| {
            let q = m.query_selector(q);
            let tag_v = m.query_fixed(tag, Rotation::cur());
            let [hi, f0, slope] = [hi, f0, slope].map(|c| m.query_advice(c, Rotation::cur()));
            vec![
                (q.clone() * tag_v, table.tag),
                (q.clone() * hi, table.hi),
                (q.clone() * f0, table.f0),
                (q * slope, table.slope),
            ]
        });
        Self {
            x,
            hi,
            lo,
            f0,
            slope,
            acc,
            tag,
            two_r,
            lo_scale,
            q,
            table,
            range,
        }
    }
}

/// The values one element assigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncWitness {
    /// `floor(x / 2^r)`.
    pub hi: i64,
    /// `x mod 2^r`.
    pub lo: i64,
    /// The segment's start value.
    pub f0: i64,
    /// The segment's slope.
    pub slope: i64,
    /// `f0·2^r + slope·lo`.
    pub acc: i64,
}

impl FuncWitness {
    /// The honest witness of `x` against segments of `2^r` found by `segment(hi)` (`None`
    /// when `hi` is outside the table or the interpolation overflows).
    pub fn compute(x: i64, r: u32, segment: impl Fn(i64) -> Option<(i64, i64)>) -> Option<Self> {
        let (hi, lo) = (x.div_euclid(1 << r), x.rem_euclid(1 << r));
        let (f0, slope) = segment(hi)?;
        let acc = f0
            .checked_mul(1 << r)?
            .checked_add(slope.checked_mul(lo)?)?;
        Some(Self {
            hi,
            lo,
            f0,
            slope,
            acc,
        })
    }
}

/// Operations the function chip provides.
pub trait FuncInstructions<F: PrimeField> {
    /// Interpolates variant `tag` (segments of `2^r`) at every `x`; returns the `acc` wires.
    fn interpolate(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        tag: u64,
        r: u32,
        witness: Option<&[FuncWitness]>,
    ) -> Result<Vec<Wire<F>>, Error>;
}

/// The function chip (keeps its own row cursor, like the other chips).
#[derive(Clone, Debug)]
pub struct FuncChip<F: PrimeField> {
    config: FuncConfig,
    next_row: usize,
    _f: PhantomData<F>,
}

impl<F: PrimeField> FuncChip<F> {
    /// Wraps a configuration; rows are used from `first_row` down.
    pub fn construct(config: FuncConfig, first_row: usize) -> Self {
        Self {
            config,
            next_row: first_row,
            _f: PhantomData,
        }
    }
}

impl<F: PrimeField> FuncInstructions<F> for FuncChip<F> {
    fn interpolate(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        tag: u64,
        r: u32,
        witness: Option<&[FuncWitness]>,
    ) -> Result<Vec<Wire<F>>, Error> {
        let big_r = self.config.range.bits;
        if tag == 0 || r > big_r || witness.is_some_and(|w| w.len() != x.len()) {
            return Err(Error::Synthesis);
        }
        let start = self.next_row;
        self.next_row += x.len();
        let c = &self.config;
        layouter.assign_region(
            || format!("func tag {tag}: acc = f0·2^R + slope·lo"),
            |mut region| {
                x.iter()
                    .enumerate()
                    .map(|(i, xi)| {
                        let row = start + i;
                        let w = witness.map(|w| w[i]);
                        c.q.enable(&mut region, row)?;
                        region.assign_fixed(c.tag, row, F::from(tag));
                        region.assign_fixed(c.two_r, row, crate::fixed::pow2::<F>(r));
                        region.assign_fixed(c.lo_scale, row, crate::fixed::pow2::<F>(big_r - r));
                        xi.copy_to(&mut region, c.x, row);
                        for (col, v) in [
                            (c.hi, w.map(|w| w.hi)),
                            (c.lo, w.map(|w| w.lo)),
                            (c.f0, w.map(|w| w.f0)),
                            (c.slope, w.map(|w| w.slope)),
                        ] {
                            Wire::assign(&mut region, col, row, known_if(v, to_field));
                        }
                        Ok(Wire::assign(
                            &mut region,
                            c.acc,
                            row,
                            known_if(w, |w| to_field(w.acc)),
                        ))
                    })
                    .collect()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FuncCircuit, MockRun};

    /// A table for f(x) = x² / 16 over hi ∈ [-4, 4) with r = R = 4 (tag 1), and an identity-like
    /// second variant (tag 2) sharing the table.
    fn table() -> Vec<Segment> {
        let f = |x: i64| x * x / 16;
        let mut t: Vec<Segment> = (-4..4)
            .map(|hi| Segment {
                tag: 1,
                hi,
                f0: f(hi * 16),
                slope: f((hi + 1) * 16) - f(hi * 16),
            })
            .collect();
        t.extend((-4..4).map(|hi| Segment {
            tag: 2,
            hi,
            f0: hi * 16,
            slope: 16,
        }));
        t
    }

    #[test]
    fn interpolation_matches_reference_and_is_exact_on_lines() {
        let xs = vec![-64, -17, -1, 0, 5, 16, 33, 63];
        let c = FuncCircuit::honest(4, 4, table(), 1, xs.clone());
        for (x, w) in xs.iter().zip(&c.witness) {
            assert_eq!(w.hi * 16 + w.lo, *x);
            // exact at segment starts, linear in between
            assert_eq!(w.acc, w.f0 * 16 + w.slope * w.lo);
        }
        MockRun::new().k(6).run(&c);
        // on a line the interpolation is exact: acc = 16·x
        let id = FuncCircuit::honest(4, 4, table(), 2, xs.clone());
        for (x, w) in xs.iter().zip(&id.witness) {
            assert_eq!(w.acc, 16 * x);
        }
        MockRun::new().k(6).run(&id);
    }

    #[test]
    fn a_wrong_segment_value_is_caught_by_the_table() {
        let mut c = FuncCircuit::honest(4, 4, table(), 1, vec![5, 33]);
        c.witness[1].f0 += 1;
        c.witness[1].acc += 16;
        MockRun::new().k(6).expect_failure("func table").run(&c);
        // another variant's segment for the same hi
        let mut c = FuncCircuit::honest(4, 4, table(), 1, vec![5, 33]);
        let other = FuncCircuit::honest(4, 4, table(), 2, vec![33]).witness[0];
        c.witness[1] = other;
        MockRun::new().k(6).expect_failure("func table").run(&c);
    }

    #[test]
    fn a_shifted_decomposition_is_caught() {
        // hi + 1 with lo − 2^R satisfies x = hi·2^R + lo but lo leaves [0, 2^R)
        let mut c = FuncCircuit::honest(4, 4, table(), 1, vec![33]);
        let w = &mut c.witness[0];
        w.hi -= 1;
        w.lo += 16;
        let (f0, slope) = table()
            .iter()
            .find(|s| s.tag == 1 && s.hi == w.hi)
            .map(|s| (s.f0, s.slope))
            .expect("segment");
        w.f0 = f0;
        w.slope = slope;
        w.acc = f0 * 16 + slope * w.lo;
        MockRun::new().k(6).expect_failure("func lo in").run(&c);
    }

    #[test]
    fn a_wrong_interpolation_breaks_the_gate() {
        let mut c = FuncCircuit::honest(4, 4, table(), 1, vec![-17, 5]);
        c.witness[0].acc += 1;
        MockRun::new()
            .k(6)
            .expect_failure("acc = f0·2^r + slope·lo")
            .run(&c);
    }

    #[test]
    fn an_input_outside_the_table_cannot_be_proved() {
        // x = 64 → hi = 4, not in the table: no honest witness; a forged in-table hi fails
        assert!(FuncWitness::compute(64, 4, |hi| table()
            .iter()
            .find(|s| s.tag == 1 && s.hi == hi)
            .map(|s| (s.f0, s.slope)))
        .is_none());
        let mut c = FuncCircuit::honest(4, 4, table(), 1, vec![63]);
        c.x = vec![64];
        MockRun::new()
            .k(6)
            .expect_failure("x = hi·2^r + lo")
            .run(&c);
    }
}

#[cfg(test)]
mod narrow_tests {
    use super::*;
    use crate::testing::{FuncCircuit, MockRun};

    /// Segments of 2^2 under a range table of 2^4: f(x) = 3x over hi ∈ [-8, 8).
    fn table() -> Vec<Segment> {
        (-8..8)
            .map(|hi| Segment {
                tag: 1,
                hi,
                f0: 3 * hi * 4,
                slope: 3 * 4,
            })
            .collect()
    }

    #[test]
    fn narrow_segments_interpolate_exactly_and_bind_lo() {
        let xs = vec![-32, -5, 0, 3, 31];
        let c = FuncCircuit::honest(4, 2, table(), 1, xs.clone());
        for (x, w) in xs.iter().zip(&c.witness) {
            assert_eq!(w.acc, 3 * x * 4);
            assert!((0..4).contains(&w.lo));
        }
        MockRun::new().k(6).run(&c);
        // lo = 4 + 1 with hi − 1: fits the 2^R table unscaled, but not 2^r once scaled
        let mut t = FuncCircuit::honest(4, 2, table(), 1, vec![5]);
        let w = &mut t.witness[0];
        w.hi -= 1;
        w.lo += 4;
        w.f0 = 3 * w.hi * 4;
        w.acc = w.f0 * 4 + w.slope * w.lo;
        MockRun::new().k(6).expect_failure("func lo in").run(&t);
    }
}
