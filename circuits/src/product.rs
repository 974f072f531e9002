//! # Element-wise product of two advice values
//!
//! Relation, per row: `c = k · a · b`, with `a` and `b` copied in (equality constraints) from
//! wherever they were computed and `k` a constant in a fixed column (a power of two that
//! aligns the product's scale; usually 1). Callers bound `a` and `b` before (every activation is
//! range-checked by its producer) and rescale `c` after; the product of two `2B`-bit values is
//! far below the field size, so `c` is the integer product.
//!
//! | `a` (eq) | `b` (eq) | `c` (eq) | `k` (fixed) | `q` |
//! |----------|----------|----------|-------------|-----|
//!
//! Gate `"c = k·a·b"` (degree 4 with the selector: `q·(c − k·a·b)`). `configure` enables equality
//! on `a`, `b` and `c`.
//!
//! Beside the rescale chip ([`ProductConfig::configure_beside_rescale`]), for products that are
//! rescaled at once (every `Mul`): `a` and `b` are columns of their own on the rescale chip's
//! rows and `c` *is* its input column `z`, so one row holds the factors, the product and its
//! rescale. The product needs no column, rows or copy of its own: the rescale chip assigns `z`
//! fresh ([`crate::rescale::RescaleChip::rescale_fresh`]) and this gate, on the element's first
//! row, is what binds it (`z = k·a·b` with `a`, `b` copied in, exactly what the copy of a
//! separate `c` into `z` bound before). The chip then offers only
//! [`ProductChip::products_rescaled`]; free cells and unrescaled products need a `c` column.

use crate::{
    fixed::to_field,
    known_if,
    rescale::{RescaleChip, RescaleInstructions, RescaleWitness, Rescaled},
    Wire,
};
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector},
    poly::Rotation,
};
use std::marker::PhantomData;

/// Columns of the product chip.
#[derive(Clone, Debug)]
pub struct ProductConfig {
    /// First factor.
    pub a: Column<Advice>,
    /// Second factor.
    pub b: Column<Advice>,
    /// The product.
    pub c: Column<Advice>,
    k: Column<Fixed>,
    q: Selector,
    /// Beside the rescale chip: `c` is its `z`, on rows this many apart (its rows per element).
    beside: Option<usize>,
}

impl ProductConfig {
    /// Configures the chip. Side effects: 3 advice columns with equality, one fixed column, one
    /// selector, one gate.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>) -> Self {
        let [a, b, c] = [(); 3].map(|_| meta.advice_column());
        for col in [a, b, c] {
            meta.enable_equality(col);
        }
        let k = meta.fixed_column();
        Self::gate(meta, [a, b, c], k)
    }

    /// Configures the chip in the rescale chip's columns, on rows where that chip is off
    /// (callers give both chips one row cursor): `a → z`, `b → y`, `c → a` (all
    /// equality-enabled, read by the rescale chip's gates only where its selector is on), `k`
    /// in its gated fixed column `half`. The rescale chip's ungated range lookups see its
    /// limb columns `u`, `lo` (and `v`) at 0 on these rows, which the range table holds.
    /// Side effects: one selector, one gate (no columns).
    pub fn configure_in_rescale<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        rescale: &crate::rescale::RescaleConfig,
    ) -> Self {
        let r = rescale;
        Self::gate(meta, [r.z, r.y, r.a], r.gated_fixed()[0])
    }

    /// Configures the chip beside the rescale chip, for products rescaled at once: `a`, `b` and
    /// `k` columns of its own on the rescale chip's rows, `c` its `z` (see the module doc).
    /// Side effects: 2 advice columns with equality, one fixed column, one selector, one gate.
    pub fn configure_beside_rescale<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        rescale: &crate::rescale::RescaleConfig,
    ) -> Self {
        let [a, b] = [(); 2].map(|_| meta.advice_column());
        for col in [a, b] {
            meta.enable_equality(col);
        }
        let k = meta.fixed_column();
        Self {
            beside: Some(rescale.rows_per_element()),
            ..Self::gate(meta, [a, b, rescale.z], k)
        }
    }

    fn gate<F: PrimeField>(
        meta: &mut ConstraintSystem<F>,
        [a, b, c]: [Column<Advice>; 3],
        k: Column<Fixed>,
    ) -> Self {
        let q = meta.selector();
        meta.create_gate("c = k·a·b", |m| {
            let q = m.query_selector(q);
            let [a, b, c] = [a, b, c].map(|col| m.query_advice(col, Rotation::cur()));
            let k = m.query_fixed(k, Rotation::cur());
            vec![q * (c - k * a * b)]
        });
        Self {
            a,
            b,
            c,
            k,
            q,
            beside: None,
        }
    }
}

/// Operations the product chip provides.
pub trait ProductInstructions<F: PrimeField> {
    /// Assigns `n` free witness cells (selector off: no gate binds them here; the caller must
    /// constrain them, e.g. by copying them into products).
    fn free_cells(
        &mut self,
        layouter: &mut impl Layouter<F>,
        n: usize,
        witness: Option<&[i64]>,
    ) -> Result<Vec<Wire<F>>, Error>;
    /// Lays out `c_i = 2^e · a_i · b_i` for every pair and returns the `c` wires. `witness`
    /// holds the claimed products (tests tamper them).
    fn products(
        &mut self,
        layouter: &mut impl Layouter<F>,
        pairs: &[(Wire<F>, Wire<F>)],
        e: u32,
        witness: Option<&[i64]>,
    ) -> Result<Vec<Wire<F>>, Error>;
}

/// The product chip (keeps its own row cursor: region offsets are absolute rows under
/// halo2-axiom's `SimpleFloorPlanner`).
#[derive(Clone, Debug)]
pub struct ProductChip<F: PrimeField> {
    config: ProductConfig,
    rows: crate::Rows,
    _f: PhantomData<F>,
}

impl<F: PrimeField> ProductChip<F> {
    /// Wraps a configuration; rows are used from `first_row` down.
    pub fn construct(config: ProductConfig, first_row: usize) -> Self {
        Self::construct_on(config, crate::Rows::new(first_row))
    }

    /// Wraps a configuration taking its rows from `rows` (a cursor other chips laid out in the
    /// same columns share).
    pub fn construct_on(config: ProductConfig, rows: crate::Rows) -> Self {
        Self {
            config,
            rows,
            _f: PhantomData,
        }
    }
}

impl<F: PrimeField> ProductChip<F> {
    /// Lays out `c_i = 2^e·a_i·b_i` for every pair and rescales each `c_i` by `2^d` on
    /// `rescale` ([`RescaleInstructions::rescale`]); returns the rescaled elements. Beside the
    /// rescale chip the products are its `z` cells, on its rows; otherwise they take rows of
    /// their own and are copied in. `witness` holds the claimed products, `rescaled` their
    /// rescale witnesses (tests tamper either).
    pub fn products_rescaled(
        &mut self,
        layouter: &mut impl Layouter<F>,
        rescale: &mut RescaleChip<F>,
        pairs: &[(Wire<F>, Wire<F>)],
        (e, d, bounded): (u32, u32, bool),
        witness: Option<&[i64]>,
        rescaled: Option<&[RescaleWitness]>,
    ) -> Result<Vec<Rescaled<F>>, Error> {
        let Some(stride) = self.config.beside else {
            let c = self.products(layouter, pairs, e, witness)?;
            return rescale.rescale(layouter, &c, d, bounded, rescaled);
        };
        if e >= 63
            || witness.is_some_and(|w| w.len() != pairs.len())
            || stride != rescale.rows_per_element()
            || self.config.c != rescale.config().z
        {
            return Err(Error::Synthesis);
        }
        let z: Vec<Value<F>> = (0..pairs.len())
            .map(|i| known_if(witness.map(|w| w[i]), to_field))
            .collect();
        let (out, start) = rescale.rescale_fresh(layouter, &z, d, bounded, rescaled)?;
        let c = &self.config;
        layouter.assign_region(
            || format!("products z = 2^{e}·a·b beside their rescale"),
            |mut region| {
                for (i, (a, b)) in pairs.iter().enumerate() {
                    let row = start + i * stride;
                    c.q.enable(&mut region, row)?;
                    region.assign_fixed(c.k, row, to_field::<F>(1i64 << e));
                    a.copy_to(&mut region, c.a, row);
                    b.copy_to(&mut region, c.b, row);
                }
                Ok(())
            },
        )?;
        Ok(out)
    }
}

/// The honest products `2^e·a·b` (`None` on `i64` overflow).
pub fn products(pairs: &[(i64, i64)], e: u32) -> Option<Vec<i64>> {
    pairs
        .iter()
        .map(|&(a, b)| a.checked_mul(b)?.checked_mul(1i64.checked_shl(e)?))
        .collect()
}

impl<F: PrimeField> ProductInstructions<F> for ProductChip<F> {
    fn free_cells(
        &mut self,
        layouter: &mut impl Layouter<F>,
        n: usize,
        witness: Option<&[i64]>,
    ) -> Result<Vec<Wire<F>>, Error> {
        if witness.is_some_and(|w| w.len() != n) || self.config.beside.is_some() {
            return Err(Error::Synthesis);
        }
        let start = self.rows.take(n);
        let col = self.config.c;
        layouter.assign_region(
            || "free witness cells",
            |mut region| {
                Ok((0..n)
                    .map(|i| {
                        let v = known_if(witness.map(|w| w[i]), to_field);
                        Wire::assign(&mut region, col, start + i, v)
                    })
                    .collect())
            },
        )
    }

    fn products(
        &mut self,
        layouter: &mut impl Layouter<F>,
        pairs: &[(Wire<F>, Wire<F>)],
        e: u32,
        witness: Option<&[i64]>,
    ) -> Result<Vec<Wire<F>>, Error> {
        if e >= 63
            || witness.is_some_and(|w| w.len() != pairs.len())
            || self.config.beside.is_some()
        {
            return Err(Error::Synthesis);
        }
        let start = self.rows.take(pairs.len());
        let c = &self.config;
        layouter.assign_region(
            || format!("products c = 2^{e}·a·b"),
            |mut region| {
                pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (a, b))| {
                        let row = start + i;
                        c.q.enable(&mut region, row)?;
                        region.assign_fixed(c.k, row, to_field::<F>(1i64 << e));
                        a.copy_to(&mut region, c.a, row);
                        b.copy_to(&mut region, c.b, row);
                        let v = known_if(witness.map(|w| w[i]), to_field);
                        Ok(Wire::assign(&mut region, c.c, row, v))
                    })
                    .collect()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{MockRun, ProductCircuit};

    #[test]
    fn products_match_reference_at_any_alignment() {
        for shared in [false, true] {
            for e in [0, 3] {
                let c = ProductCircuit::honest(vec![3, -7, 0, 2047], vec![-5, -9, 11, 2047], e)
                    .in_rescale(shared);
                assert_eq!(c.c[0], -15 << e);
                MockRun::new().k(5).run(&c);
            }
        }
    }

    #[test]
    fn a_wrong_product_is_caught() {
        for shared in [false, true] {
            for delta in [1, -1] {
                let mut c = ProductCircuit::honest(vec![3, -7], vec![-5, -9], 1).in_rescale(shared);
                c.c[1] += delta;
                MockRun::new().k(5).expect_failure("c = k·a·b").run(&c);
            }
        }
    }

    /// Products rescaled at once: factors, `e` and `d` the tests below share (activations of 6
    /// signed bits after the rescale).
    fn rescaled_cases() -> Vec<crate::testing::ProductRescaleCircuit> {
        use crate::testing::ProductRescaleCircuit as P;
        vec![
            P::honest(vec![3, -7, 0, 5], vec![-5, -4, 11, 6], 0, 0),
            P::honest(vec![3, -7, 0, 31], vec![-5, -9, 11, 31], 0, 5),
            P::honest(vec![3, -7, 0, 31], vec![-5, -9, 11, 31], 1, 6),
        ]
    }

    /// Every layout: product in its own columns or beside the rescale chip, which is one row or
    /// tall.
    const LAYOUTS: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

    #[test]
    fn products_rescaled_match_reference_in_every_layout() {
        for c in rescaled_cases() {
            for (beside, tall) in LAYOUTS {
                let c = c.clone().layout(beside, tall);
                let want: Vec<i64> =
                    c.a.iter()
                        .zip(&c.b)
                        .map(|(a, b)| crate::fixed::rescale((a * b) << c.e, c.d).0)
                        .collect();
                assert_eq!(c.rescale.iter().map(|r| r.y).collect::<Vec<_>>(), want);
                MockRun::new().k(6).run(&c);
            }
        }
    }

    /// A wrong product, rescaled honestly (so the rescale chip sees a consistent row), is
    /// caught by the product gate, beside the rescale chip (where the product is its `z`) as in
    /// columns of its own.
    #[test]
    fn a_wrong_product_rescaled_honestly_is_caught() {
        use crate::rescale::RescaleWitness;
        use crate::testing::ProductRescaleCircuit as P;
        for c in rescaled_cases() {
            for (beside, tall) in LAYOUTS {
                for (i, delta) in [(0, 1), (1, -1), (3, 1 << c.d)] {
                    let mut c = c.clone().layout(beside, tall);
                    c.c[i] += delta;
                    c.rescale[i] = RescaleWitness::compute(c.c[i], c.d, P::BITS);
                    MockRun::new().k(6).expect_failure("c = k·a·b").run(&c);
                }
            }
        }
    }

    /// Beside the rescale chip the product takes no column of its own for `c` (one advice
    /// column and one permutation column fewer) and no rows: every row it uses is a rescale
    /// row.
    #[test]
    fn beside_the_rescale_chip_the_product_is_its_input_column() {
        use crate::testing::ProductRescaleCircuit as P;
        use halo2_proofs::{halo2curves::bn256::Fr, plonk::Circuit, plonk::ConstraintSystem};
        let counts = |beside| {
            let mut cs = ConstraintSystem::<Fr>::default();
            let (p, r, _, _) = P::configure_with_params(&mut cs, (beside, false));
            (
                cs.num_advice_columns(),
                cs.permutation().get_columns().len(),
                p.c == r.z,
            )
        };
        let (own, own_perm, own_z) = counts(false);
        let (beside, beside_perm, beside_z) = counts(true);
        assert_eq!((beside, beside_perm), (own - 1, own_perm - 1));
        assert!(beside_z && !own_z);
    }

    /// Every advice cell of products rescaled beside the rescale chip (factors, the product in
    /// `z`, its limbs and sign) changed alone is caught, one row and tall.
    #[test]
    fn under_constraint_search_beside_the_rescale_chip_finds_no_free_cell() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        for c in rescaled_cases() {
            for tall in [false, true] {
                let c = c.clone().layout(true, tall);
                let r = Search::new(6, c.instances())
                    .full_range_bits(3)
                    .run(&c, |_, _| true)
                    .printed(&format!(
                        "product beside rescale, e = {}, d = {}, tall: {tall}",
                        c.e, c.d
                    ));
                assert!(r.survivors.is_empty(), "{}", r.describe());
                assert!(r.searched >= 20);
            }
        }
    }

    /// Every advice cell (factors copied in, the product) changed alone over a neighbourhood
    /// and small values over their whole range is caught, in the chip's own columns and in a
    /// rescale chip's (where its limb columns hold 0 on these rows).
    #[test]
    fn under_constraint_search_finds_no_free_cell() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        for shared in [false, true] {
            for e in [0, 3] {
                let c = ProductCircuit::honest(vec![3, -7, 0, 200], vec![-5, -9, 11, 3], e)
                    .in_rescale(shared);
                let r = Search::new(5, c.instances())
                    .run(&c, |_, _| true)
                    .printed(&format!("product, e = {e}, in rescale columns: {shared}"));
                assert!(r.survivors.is_empty(), "{}", r.describe());
                assert!(r.searched >= 12);
            }
        }
    }
}
