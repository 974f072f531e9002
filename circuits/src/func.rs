//! # Univariate functions by piecewise-linear lookup over segments of varying width
//!
//! A function variant (`tag`) is a table of disjoint segments `[start, start + 2^r)` of the
//! integer input, each with its own width (`r ≤ R`, the range table's bits): narrow where the
//! function bends, wide where it is nearly straight. For an input `x` (an activation, already
//! bounded to `2B` bits by its producer) the chip looks up the segment
//! `(tag, start, lo_scale = 2^(R−r), f0, slope)` holding `x`, puts the position in it on the
//! common scale `ℓ = (x − start)·2^(R−r) ∈ [0, 2^R)`, and computes the interpolation
//! `acc = f0·2^R + slope·ℓ` — the value of the segment's line at `x` at `2^R` times the table's
//! scale, for every segment alike. The caller rescales `acc` (rescale chip, shift `R`).
//!
//! | `x` (eq) | `start` | `lo_scale` | `ℓ` | `f0` | `slope` | `acc` (eq) | `tag` (fixed) | `q` |
//! |----------|---------|------------|-----|------|---------|------------|---------------|-----|
//!
//! - gate `"ℓ = (x − start)·lo_scale"`: `q·((x − start)·lo_scale − ℓ) = 0` (degree 3);
//! - gate `"acc = f0·2^R + slope·ℓ"`: `q·(acc − f0·2^R − slope·ℓ) = 0` (degree 3);
//! - lookup `"func ℓ in [0, 2^R)"`: `ℓ` into the range table (unused rows hold 0);
//! - lookup `"func table (tag, start, lo_scale, f0, slope)"`: `q·` each of them into the
//!   [`FuncTable`]. Tags start at 1 and the table holds one all-zero row, so unused rows
//!   (`q = 0`) pass and no used row can take the zero row.
//!
//! Soundness: `(start, lo_scale, f0, slope)` is a committed row of the fixed `tag` (the table
//! is fixed: the verifying key pins it). `x` is an integer with `|x| < 2^(2B)` and `start` a
//! table integer of the same size, so `d = x − start` is a small integer and `d·2^(R−r)` an
//! integer far below the field size; `ℓ ∈ [0, 2^R)` by the range lookup, so the field equation
//! `d·2^(R−r) = ℓ` holds over the integers and forces `0 ≤ d < 2^r`: `x` lies in that row's
//! segment. [`FuncTable::load`] refuses overlapping segments of one tag, so the segment, and
//! with it `f0` and `slope`, is the unique one holding `x`; `acc` is then exactly the
//! interpolation. An `x` in no segment cannot be proved at all (the witness stage reports it
//! before proving).
//!
//! `configure` enables equality on `x` and `acc`.
//!
//! [`FuncConfig::configure_in_rescale`] lays the same rows out in the rescale chip's columns
//! instead (`x → z`, `start → hi`, `lo_scale − 1 → lo`, `ℓ → u`, `f0 → neg`, `slope → a`,
//! `acc → y`, `tag` in its fixed `half`), on rows where that chip's selector and sign lookup are
//! off: `ℓ`'s range check is then the rescale chip's ungated lookup on `u` (the argument above
//! is unchanged), and `lo`'s, on `2^(R−r) − 1 ∈ [0, 2^R)`, holds for every table row.

use crate::{fixed::to_field, known_if, range::RangeTable, Wire};
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, TableColumn},
    poly::Rotation,
};
use std::marker::PhantomData;

/// One row of a function table: on `[start, start + 2^r)` variant `tag` runs from `f0` by
/// `slope` (both at the table's scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Variant (function and scales), from 1.
    pub tag: u64,
    /// First input of the segment.
    pub start: i64,
    /// Width bits: the segment holds `2^r` inputs (`r ≤ R`).
    pub r: u32,
    /// `f(start)`.
    pub f0: i64,
    /// `f(start + 2^r) − f(start)`.
    pub slope: i64,
}

impl Segment {
    /// Whether `x` is in the segment.
    pub fn contains(&self, x: i64) -> bool {
        x >= self.start && (x - self.start) >> self.r == 0
    }
}

/// Checks a table: nonzero tags, widths `r ≤ range_bits` and, within a tag, disjoint segments.
pub fn check_segments(segments: &[Segment], range_bits: u32) -> Result<(), String> {
    if let Some(s) = segments.iter().find(|s| s.tag == 0 || s.r > range_bits) {
        return Err(format!(
            "segment at {} of tag {}: tag 0 or width 2^{} above 2^{range_bits}",
            s.start, s.tag, s.r
        ));
    }
    let mut sorted: Vec<&Segment> = segments.iter().collect();
    sorted.sort_unstable_by_key(|s| (s.tag, s.start));
    for w in sorted.windows(2) {
        let end = w[0].start.checked_add(1 << w[0].r);
        if w[0].tag == w[1].tag && end.is_none_or(|e| e > w[1].start) {
            return Err(format!(
                "segments at {} and {} of tag {} overlap",
                w[0].start, w[1].start, w[0].tag
            ));
        }
    }
    Ok(())
}

/// The function table's columns.
#[derive(Clone, Copy, Debug)]
pub struct FuncTable {
    tag: TableColumn,
    start: TableColumn,
    lo_scale: TableColumn,
    f0: TableColumn,
    slope: TableColumn,
}

impl FuncTable {
    /// Allocates five table columns.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>) -> Self {
        Self {
            tag: meta.lookup_table_column(),
            start: meta.lookup_table_column(),
            lo_scale: meta.lookup_table_column(),
            f0: meta.lookup_table_column(),
            slope: meta.lookup_table_column(),
        }
    }

    /// Fills the table with `segments` plus the all-zero row (`lo_scale = 2^(range_bits − r)`).
    /// The segments must pass [`check_segments`] (else `Error::Synthesis`).
    pub fn load<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        segments: &[Segment],
        range_bits: u32,
    ) -> Result<(), Error> {
        check_segments(segments, range_bits).map_err(|_| Error::Synthesis)?;
        layouter.assign_table(
            || "func table (tag, start, lo_scale, f0, slope)",
            |mut table| {
                let zero = [F::ZERO; 5];
                let rows = segments.iter().map(|s| {
                    [
                        F::from(s.tag),
                        to_field(s.start),
                        crate::fixed::pow2::<F>(range_bits - s.r),
                        to_field(s.f0),
                        to_field(s.slope),
                    ]
                });
                for (row, vals) in std::iter::once(zero).chain(rows).enumerate() {
                    let cols = [self.tag, self.start, self.lo_scale, self.f0, self.slope];
                    for (col, v) in cols.into_iter().zip(vals) {
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
    start: Column<Advice>,
    lo_scale: Column<Advice>,
    l: Column<Advice>,
    f0: Column<Advice>,
    slope: Column<Advice>,
    /// The interpolation `f0·2^R + slope·ℓ`.
    pub acc: Column<Advice>,
    tag: Column<Fixed>,
    q: Selector,
    /// The function table.
    pub table: FuncTable,
    /// The range table `ℓ` is checked in (`R` bits).
    pub range: RangeTable,
    /// Whether the `lo_scale` cell holds `2^(R−r) − 1` (in the rescale chip's range-checked
    /// `lo` column, see [`FuncConfig::configure_in_rescale`]) instead of `2^(R−r)`.
    lo_scale_minus_one: bool,
    /// Row offset of the `lo_scale` cell from its element's row: 1 in a tall rescale chip's
    /// columns, where it sits in the limb column's next row (see
    /// [`crate::rescale::RescaleConfig::configure_with`]); else 0.
    lo_scale_at: usize,
}

impl FuncConfig {
    /// Configures the chip over the range table (`R` bits) and a function table. Side effects:
    /// 7 advice columns (equality on `x`, `acc`), one fixed column (`tag`), one complex
    /// selector, two gates, two lookups.
    pub fn configure<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        range: RangeTable,
        table: FuncTable,
    ) -> Self {
        let [x, start, lo_scale, l, f0, slope, acc] = [(); 7].map(|_| meta.advice_column());
        meta.enable_equality(x);
        meta.enable_equality(acc);
        let tag = meta.fixed_column();
        Self::gates(
            meta,
            [x, start, lo_scale, l, f0, slope, acc],
            tag,
            range,
            table,
            false,
            0,
        )
    }

    /// Configures the chip in the rescale chip's columns, on rows where that chip is off
    /// (callers give both chips one row cursor): `x → z`, `acc → y` (equality-enabled), `ℓ → u`
    /// and `2^(R−r) − 1 → lo` (both checked in `[0, 2^R)` on every row by the rescale chip's
    /// ungated range lookups: `ℓ`'s range check, and a true statement about the table's
    /// `lo_scale ∈ [1, 2^R]`), `start → hi`, `f0 → neg`, `slope → a` (read by the rescale
    /// chip's gates only where its selector is on, and by its sign lookup only where its
    /// fixed `bound` is 1, which it sets only on its own rows), `tag` in its gated fixed
    /// column `half`. A two-limb rescale's `v` (also range-checked) holds 0 on these rows.
    /// Side effects: one complex selector, two gates, one lookup (no columns, no range
    /// lookup of its own).
    pub fn configure_in_rescale<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        rescale: &crate::rescale::RescaleConfig,
        table: FuncTable,
    ) -> Self {
        let r = rescale;
        Self::gates(
            meta,
            [r.z, r.hi, r.lo, r.u, r.neg, r.a, r.y],
            r.gated_fixed()[0],
            r.range,
            table,
            true,
            usize::from(r.tall),
        )
    }

    /// Rows one element takes: 2 in a tall rescale chip's columns, else 1.
    pub fn rows_per_element(&self) -> usize {
        1 + self.lo_scale_at
    }

    /// The selector, the two gates, `ℓ`'s range lookup (in the chip's own columns) and the
    /// table lookup over the given columns (`[x, start, lo_scale, ℓ, f0, slope, acc]`).
    fn gates<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [x, start, lo_scale, l, f0, slope, acc]: [Column<Advice>; 7],
        tag: Column<Fixed>,
        range: RangeTable,
        table: FuncTable,
        lo_scale_minus_one: bool,
        lo_scale_at: usize,
    ) -> Self {
        let q = meta.complex_selector();
        let lo_scale_rot = Rotation(lo_scale_at as i32);
        let two_big_r = Expression::Constant(crate::fixed::pow2::<F>(range.bits));
        // the scale 2^(R−r) from its cell (which holds it less one in the rescale columns)
        let scale = |v: Expression<F>| {
            if lo_scale_minus_one {
                v + Expression::Constant(F::ONE)
            } else {
                v
            }
        };
        // (queries and lookups in the order of the chip's first version: the verifying key
        // pins the constraint system's description, so a circuit in the chip's own columns
        // keeps its key)
        meta.create_gate("ℓ = (x − start)·lo_scale", |m| {
            let q = m.query_selector(q);
            // (queried in the first version's order: x, start, lo_scale, ℓ)
            let [x, start] = [x, start].map(|c| m.query_advice(c, Rotation::cur()));
            let lo_scale = m.query_advice(lo_scale, lo_scale_rot);
            let l = m.query_advice(l, Rotation::cur());
            vec![q * ((x - start) * scale(lo_scale) - l)]
        });
        meta.create_gate("acc = f0·2^R + slope·ℓ", |m| {
            let q = m.query_selector(q);
            let [f0, slope, l, acc] =
                [f0, slope, l, acc].map(|c| m.query_advice(c, Rotation::cur()));
            vec![q * (acc - f0 * two_big_r.clone() - slope * l)]
        });
        if !lo_scale_minus_one {
            // in its own columns `ℓ` needs its own range lookup; in the rescale chip's, `u`'s
            // ungated one checks it
            meta.lookup("func ℓ in [0, 2^R)", |m| {
                vec![(m.query_advice(l, Rotation::cur()), range.values)]
            });
        }
        meta.lookup("func table (tag, start, lo_scale, f0, slope)", |m| {
            let q = m.query_selector(q);
            let tag_v = m.query_fixed(tag, Rotation::cur());
            let start = m.query_advice(start, Rotation::cur());
            let lo_scale = m.query_advice(lo_scale, lo_scale_rot);
            let [f0, slope] = [f0, slope].map(|c| m.query_advice(c, Rotation::cur()));
            vec![
                (q.clone() * tag_v, table.tag),
                (q.clone() * start, table.start),
                (q.clone() * scale(lo_scale), table.lo_scale),
                (q.clone() * f0, table.f0),
                (q * slope, table.slope),
            ]
        });
        Self {
            x,
            start,
            lo_scale,
            l,
            f0,
            slope,
            acc,
            tag,
            q,
            table,
            range,
            lo_scale_minus_one,
            lo_scale_at,
        }
    }

    /// The columns besides `x` and `acc` that only selector-gated gates and lookups read
    /// (`start`, `lo_scale`, `f0`, `slope`; not `ℓ`, whose range lookup is ungated): another
    /// chip may use them on rows where this one is off.
    pub fn gated_columns(&self) -> Vec<Column<Advice>> {
        if self.lo_scale_minus_one {
            // in the rescale chip's columns: `lo_scale` sits in its range-checked `lo`
            vec![self.start, self.f0, self.slope]
        } else {
            vec![self.start, self.lo_scale, self.f0, self.slope]
        }
    }

    /// Loads the function table (see [`FuncTable::load`]) for this chip's `R`.
    pub fn load_table<F: PrimeField>(
        &self,
        layouter: &mut impl Layouter<F>,
        segments: &[Segment],
    ) -> Result<(), Error> {
        self.table.load(layouter, segments, self.range.bits)
    }
}

/// The values one element assigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncWitness {
    /// The segment's first input.
    pub start: i64,
    /// `2^(R − r)`.
    pub lo_scale: i64,
    /// `(x − start)·2^(R − r)`.
    pub l: i64,
    /// The segment's start value.
    pub f0: i64,
    /// The segment's slope.
    pub slope: i64,
    /// `f0·2^R + slope·ℓ`.
    pub acc: i64,
}

impl FuncWitness {
    /// The honest witness of `x` in `segment` under a range table of `range_bits` (`None`
    /// when `x` is outside the segment, the width exceeds `2^R`, or the interpolation
    /// overflows).
    pub fn compute(x: i64, range_bits: u32, segment: &Segment) -> Option<Self> {
        if !segment.contains(x) || segment.r > range_bits || range_bits > 40 {
            return None;
        }
        let lo_scale = 1i64 << (range_bits - segment.r);
        let l = (x - segment.start) * lo_scale;
        let acc = segment
            .f0
            .checked_mul(1 << range_bits)?
            .checked_add(segment.slope.checked_mul(l)?)?;
        Some(Self {
            start: segment.start,
            lo_scale,
            l,
            f0: segment.f0,
            slope: segment.slope,
            acc,
        })
    }
}

/// Operations the function chip provides.
pub trait FuncInstructions<F: PrimeField> {
    /// Interpolates variant `tag` at every `x`; returns the `acc` wires (scale `2^R` times the
    /// table's).
    fn interpolate(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        tag: u64,
        witness: Option<&[FuncWitness]>,
    ) -> Result<Vec<Wire<F>>, Error>;
}

/// The function chip (keeps its own row cursor, like the other chips).
#[derive(Clone, Debug)]
pub struct FuncChip<F: PrimeField> {
    config: FuncConfig,
    rows: crate::Rows,
    _f: PhantomData<F>,
}

impl<F: PrimeField> FuncChip<F> {
    /// Wraps a configuration; rows are used from `first_row` down.
    pub fn construct(config: FuncConfig, first_row: usize) -> Self {
        Self::construct_on(config, crate::Rows::new(first_row))
    }

    /// Wraps a configuration taking its rows from `rows` (a cursor other chips laid out in the
    /// same columns share).
    pub fn construct_on(config: FuncConfig, rows: crate::Rows) -> Self {
        Self {
            config,
            rows,
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
        witness: Option<&[FuncWitness]>,
    ) -> Result<Vec<Wire<F>>, Error> {
        if tag == 0 || witness.is_some_and(|w| w.len() != x.len()) {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        let h = c.rows_per_element();
        let start = self.rows.take(x.len() * h);
        layouter.assign_region(
            || format!("func tag {tag}: acc = f0·2^R + slope·ℓ"),
            |mut region| {
                x.iter()
                    .enumerate()
                    .map(|(i, xi)| {
                        let row = start + i * h;
                        let w = witness.map(|w| w[i]);
                        c.q.enable(&mut region, row)?;
                        region.assign_fixed(c.tag, row, F::from(tag));
                        if h > 1 {
                            // (as the tall rescale chip: keygen refuses rows past the usable
                            // ones)
                            region.assign_fixed(c.tag, row + h - 1, F::ZERO);
                        }
                        xi.copy_to(&mut region, c.x, row);
                        for (col, at, v) in [
                            (c.start, row, w.map(|w| w.start)),
                            (
                                c.lo_scale,
                                row + c.lo_scale_at,
                                w.map(|w| w.lo_scale - i64::from(c.lo_scale_minus_one)),
                            ),
                            (c.l, row, w.map(|w| w.l)),
                            (c.f0, row, w.map(|w| w.f0)),
                            (c.slope, row, w.map(|w| w.slope)),
                        ] {
                            Wire::assign(&mut region, col, at, known_if(v, to_field));
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

    const R: u32 = 5;

    /// Tag 1: f(x) = x²/16 on [-64, 64) over segments that narrow towards 0 (widths 2^5 down
    /// to 2^2); tag 2: f(x) = x on [-64, 64) in segments of 2^4, sharing the table.
    fn table() -> Vec<Segment> {
        let f = |x: i64| x * x / 16;
        let bounds = [
            (-64, 5),
            (-32, 4),
            (-16, 3),
            (-8, 3),
            (0, 2),
            (4, 2),
            (8, 3),
            (16, 4),
            (32, 5),
        ];
        let mut t: Vec<Segment> = bounds
            .iter()
            .map(|&(start, r)| Segment {
                tag: 1,
                start,
                r,
                f0: f(start),
                slope: f(start + (1 << r)) - f(start),
            })
            .collect();
        t.extend((-4..4).map(|h| Segment {
            tag: 2,
            start: h * 16,
            r: 4,
            f0: h * 16,
            slope: 16,
        }));
        t
    }

    fn segment_of(tag: u64, x: i64) -> Segment {
        *table()
            .iter()
            .find(|s| s.tag == tag && s.contains(x))
            .expect("segment")
    }

    /// The chip in its own columns (0), in a (two-limb) rescale chip's (1), in a tall one's
    /// (2: `lo_scale − 1` on the limb column's next row).
    const PLACEMENTS: [u8; 3] = [0, 1, 2];

    fn honest(tag: u64, placement: u8, xs: Vec<i64>) -> FuncCircuit {
        let c = FuncCircuit::honest(R, table(), tag, xs);
        match placement {
            0 => c,
            1 => c.in_rescale(true),
            _ => c.in_tall_rescale(),
        }
    }

    /// The lookup that range-checks `ℓ`: the chip's own, or the rescale chip's on `u`.
    fn range_check(placement: u8) -> &'static str {
        if placement > 0 {
            "rescale remainder"
        } else {
            "func ℓ in"
        }
    }

    #[test]
    fn interpolation_matches_reference_and_is_exact_on_lines() {
        for shared in PLACEMENTS {
            let xs = vec![-64, -33, -17, -1, 0, 3, 5, 16, 33, 63];
            let c = honest(1, shared, xs.clone());
            for (x, w) in xs.iter().zip(&c.witness) {
                let s = segment_of(1, *x);
                assert_eq!(w.start, s.start);
                assert_eq!(w.l, (x - s.start) << (R - s.r));
                assert!((0..1 << R).contains(&w.l));
                assert_eq!(w.acc, w.f0 * 32 + w.slope * w.l);
                // the interpolation, exactly: f0 + slope·(x − start)/2^r at scale 2^R
                assert_eq!(
                    w.acc * (1 << s.r),
                    (s.f0 * (1 << s.r) + s.slope * (x - s.start)) << R
                );
            }
            MockRun::new().k(7).run(&c);
            // on a line the interpolation is exact: acc = 2^R·x
            let id = honest(2, shared, xs.clone());
            for (x, w) in xs.iter().zip(&id.witness) {
                assert_eq!(w.acc, 32 * x);
            }
            MockRun::new().k(7).run(&id);
        }
    }

    #[test]
    fn a_wrong_segment_value_is_caught_by_the_table() {
        for shared in PLACEMENTS {
            let mut c = honest(1, shared, vec![5, 33]);
            c.witness[1].f0 += 1;
            c.witness[1].acc += 32;
            MockRun::new().k(7).expect_failure("func table").run(&c);
            // another variant's segment holding the same x
            let mut c = honest(1, shared, vec![5, 33]);
            c.witness[1] = honest(2, shared, vec![33]).witness[0];
            MockRun::new().k(7).expect_failure("func table").run(&c);
        }
    }

    #[test]
    fn a_neighbouring_segment_is_caught_by_the_range_check() {
        for shared in PLACEMENTS {
            // x = 5 lies in [4, 8); claiming [0, 4) gives ℓ = 5·2^3 = 40 ≥ 2^R
            let mut c = honest(1, shared, vec![5]);
            let s = segment_of(1, 0);
            let w = &mut c.witness[0];
            *w = FuncWitness {
                start: s.start,
                lo_scale: 1 << (R - s.r),
                l: (5 - s.start) << (R - s.r),
                f0: s.f0,
                slope: s.slope,
                acc: 0,
            };
            w.acc = w.f0 * 32 + w.slope * w.l;
            MockRun::new()
                .k(7)
                .expect_failure(range_check(shared))
                .run(&c);
            // and below: x = 3 in [0, 4) claimed in [4, 8) gives a negative ℓ
            let mut c = honest(1, shared, vec![3]);
            let s = segment_of(1, 4);
            let w = &mut c.witness[0];
            w.start = s.start;
            w.f0 = s.f0;
            w.slope = s.slope;
            w.l = (3 - s.start) << (R - s.r);
            w.acc = w.f0 * 32 + w.slope * w.l;
            MockRun::new()
                .k(7)
                .expect_failure(range_check(shared))
                .run(&c);
        }
    }

    #[test]
    fn a_wider_segment_than_the_table_has_is_caught() {
        for shared in PLACEMENTS {
            // x = 7 in [4, 8) (lo_scale 8): claiming lo_scale 1 keeps ℓ = 3 in range, but no row
            // of the table has that (start, lo_scale)
            let mut c = honest(1, shared, vec![7]);
            let w = &mut c.witness[0];
            w.lo_scale = 1;
            w.l = 3;
            w.acc = w.f0 * 32 + w.slope * w.l;
            MockRun::new().k(7).expect_failure("func table").run(&c);
        }
    }

    #[test]
    fn a_wrong_position_or_interpolation_breaks_the_gates() {
        for shared in PLACEMENTS {
            let mut c = honest(1, shared, vec![-17, 5]);
            c.witness[0].acc += 1;
            MockRun::new()
                .k(7)
                .expect_failure("acc = f0·2^R + slope·ℓ")
                .run(&c);
            // ℓ that is not (x − start)·lo_scale, with acc consistent with it
            let mut c = honest(1, shared, vec![5]);
            let w = &mut c.witness[0];
            w.l += 1;
            w.acc = w.f0 * 32 + w.slope * w.l;
            MockRun::new()
                .k(7)
                .expect_failure("ℓ = (x − start)·lo_scale")
                .run(&c);
        }
    }

    #[test]
    fn an_input_outside_the_table_cannot_be_proved() {
        for shared in PLACEMENTS {
            // x = 64: in no segment, so no honest witness; the last segment's row fails the range
            assert!(!table().iter().any(|s| s.tag == 1 && s.contains(64)));
            let last = segment_of(1, 63);
            assert!(FuncWitness::compute(64, R, &last).is_none());
            let mut c = honest(1, shared, vec![63]);
            c.x = vec![64];
            c.witness[0].l = (64 - last.start) << (R - last.r);
            c.witness[0].acc = c.witness[0].f0 * 32 + c.witness[0].slope * c.witness[0].l;
            MockRun::new()
                .k(7)
                .expect_failure(range_check(shared))
                .run(&c);
        }
    }

    #[test]
    fn overlapping_or_too_wide_segments_are_refused() {
        for shared in PLACEMENTS {
            assert!(check_segments(&table(), R).is_ok());
            let mut t = table();
            t[4].r = 3; // [0, 8) overlaps [4, 8)
            assert!(check_segments(&t, R).unwrap_err().contains("overlap"));
            assert!(check_segments(&table(), 4).is_err()); // 2^5 > 2^4
            let mut t = table();
            t[0].tag = 0;
            assert!(check_segments(&t, R).is_err());
            let mut c = honest(1, shared, vec![5]);
            c.segments[4].r = 3;
            assert!(
                halo2_proofs::dev::MockProver::run(
                    7,
                    &c,
                    crate::testing::HasInstances::instances(&c)
                )
                .is_err(),
                "the table loader refuses overlapping segments"
            );
        }
    }

    /// Every advice cell of a function-table lookup (input, segment start, scaled offset,
    /// interpolation), changed alone over a neighbourhood and the offset limb over its whole
    /// range, is caught, for both tags of the shared table.
    #[test]
    fn under_constraint_search_finds_no_free_cell() {
        for shared in PLACEMENTS {
            use crate::search::Search;
            use crate::testing::HasInstances;
            for tag in [1, 2] {
                let c = honest(tag, shared, vec![-64, -17, 0, 5, 33, 63]);
                let r = Search::new(7, c.instances())
                    .full_range_bits(R)
                    .run(&c, |_, _| true)
                    .printed(&format!("func table, tag {tag}, placement {shared}"));
                assert!(r.survivors.is_empty(), "{}", r.describe());
                assert!(r.searched >= 18);
            }
        }
    }
}
