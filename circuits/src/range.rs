//! # Range table
//!
//! One fixed lookup column holding `0, 1, …, 2^bits − 1`. A lookup of an advice expression into
//! it proves `0 ≤ v < 2^bits`. Used by [`crate::rescale`] for remainders (scaled so that one table
//! serves every rescale amount `d ≤ bits`).
//!
//! | column      | kind  | rows            |
//! |-------------|-------|-----------------|
//! | `values`    | table | `0 .. 2^bits`   |

use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{ConstraintSystem, Error, TableColumn},
};

/// The range table `[0, 2^bits)`.
#[derive(Clone, Copy, Debug)]
pub struct RangeTable {
    /// The table column.
    pub values: TableColumn,
    /// `log2` of the table size.
    pub bits: u32,
}

impl RangeTable {
    /// Allocates the table column. Side effects: one lookup table column.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>, bits: u32) -> Self {
        Self {
            values: meta.lookup_table_column(),
            bits,
        }
    }

    /// Fills the table.
    pub fn load<F: PrimeField>(&self, layouter: &mut impl Layouter<F>) -> Result<(), Error> {
        layouter.assign_table(
            || format!("range table [0, 2^{})", self.bits),
            |mut table| {
                for v in 0..(1u64 << self.bits) {
                    table.assign_cell(
                        || "range",
                        self.values,
                        v as usize,
                        || Value::known(F::from(v)),
                    )?;
                }
                Ok(())
            },
        )
    }
}
