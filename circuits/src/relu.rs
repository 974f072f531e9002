//! # ReLU sign table
//!
//! Two fixed lookup columns holding the pairs `(x, [x < 0])` for every
//! `x ∈ [−2^(bits−1), 2^(bits−1))`. A lookup of `(hi, neg)` into it proves that the high limb
//! `hi` of an activation is range-bounded to `bits` signed bits and that `neg` is its sign bit,
//! from which [`crate::rescale`] derives `ReLU(y) = (1 − neg)·y`. The pair `(0, 0)` is in the
//! table, so rows that look up zeros (unused rows, rows with `bound = 0`) pass.
//!
//! | column   | kind  | row `i` (`x = i − 2^(bits−1)`) |
//! |----------|-------|--------------------------------|
//! | `input`  | table | `x`                            |
//! | `output` | table | `[x < 0]`                      |

use crate::fixed::to_field;
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{ConstraintSystem, Error, TableColumn},
};

/// The sign table over `bits`-bit signed inputs.
#[derive(Clone, Copy, Debug)]
pub struct ReluTable {
    /// Table column of inputs `x`.
    pub input: TableColumn,
    /// Table column of outputs `[x < 0]`.
    pub output: TableColumn,
    /// Signed bit width of the domain.
    pub bits: u32,
}

impl ReluTable {
    /// Allocates the two table columns. Side effects: two lookup table columns.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>, bits: u32) -> Self {
        Self {
            input: meta.lookup_table_column(),
            output: meta.lookup_table_column(),
            bits,
        }
    }

    /// Fills the table.
    pub fn load<F: PrimeField>(&self, layouter: &mut impl Layouter<F>) -> Result<(), Error> {
        let half = 1i64 << (self.bits - 1);
        layouter.assign_table(
            || {
                format!(
                    "relu sign table (x, [x < 0]) for x in [-2^{b}, 2^{b})",
                    b = self.bits - 1
                )
            },
            |mut table| {
                for (row, x) in (-half..half).enumerate() {
                    table.assign_cell(
                        || "x",
                        self.input,
                        row,
                        || Value::known(to_field::<F>(x)),
                    )?;
                    table.assign_cell(
                        || "x < 0",
                        self.output,
                        row,
                        || Value::known(to_field::<F>(i64::from(x < 0))),
                    )?;
                }
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{LayerCircuit, LayerShape, MockRun};

    fn relu_layer() -> LayerCircuit {
        // two neurons: one positive, one negative pre-activation
        let mut c = LayerCircuit::honest(
            LayerShape::default(),
            vec![vec![2, 1], vec![-3, 1]],
            vec![1, -2],
            1,
            vec![5, 3],
        );
        c.relu_out = true;
        c
    }

    #[test]
    fn relu_outputs_match_reference() {
        let c = relu_layer();
        assert!(c.rescale[0].y > 0 && c.rescale[1].y < 0);
        assert_eq!(c.rescale[0].a, c.rescale[0].y);
        assert_eq!(c.rescale[1].a, 0);
        MockRun::new().k(9).run(&c);
    }

    #[test]
    fn wrong_relu_output_is_caught() {
        for (idx, a) in [(0usize, None), (1, Some(1)), (1, None)] {
            let mut c = relu_layer();
            // neuron 0: a = y + 1; neuron 1 (negative y): a = 1, or a = y (passing the negative through)
            c.rescale[idx].a = a.unwrap_or(c.rescale[idx].y + i64::from(idx == 0));
            MockRun::new()
                .k(9)
                .expect_failure("a = (1 - neg)·y")
                .run(&c);
        }
    }

    #[test]
    fn lying_about_the_sign_is_caught() {
        // flip the sign bit and keep a consistent with it: only the table can object
        for idx in [0usize, 1] {
            let mut c = relu_layer();
            let w = &mut c.rescale[idx];
            w.neg = 1 - w.neg;
            w.a = (1 - w.neg) * w.y;
            MockRun::new()
                .k(9)
                .expect_failure("relu sign table")
                .run(&c);
        }
    }
}
