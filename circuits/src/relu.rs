//! # ReLU table
//!
//! Two fixed lookup columns holding the pairs `(x, max(x, 0))` for every
//! `x ∈ [−2^(bits−1), 2^(bits−1))`. A lookup of `(y, a)` into it proves both that `y` is
//! range-bounded to `bits` signed bits and that `a = ReLU(y)`: the table doubles as the range
//! check on every rescaled activation (see [`crate::rescale`]). `(0, 0)` is in the table, so
//! unused rows (zero) satisfy the lookup without a selector.
//!
//! | column   | kind  | row `i` (`x = i − 2^(bits−1)`) |
//! |----------|-------|--------------------------------|
//! | `input`  | table | `x`                            |
//! | `output` | table | `max(x, 0)`                    |

use crate::fixed::{relu, to_field};
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::ff::PrimeField,
    plonk::{ConstraintSystem, Error, TableColumn},
};

/// The ReLU table over `bits`-bit signed inputs.
#[derive(Clone, Copy, Debug)]
pub struct ReluTable {
    /// Table column of inputs `x`.
    pub input: TableColumn,
    /// Table column of outputs `max(x, 0)`.
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
                    "relu table (x, max(x,0)) for x in [-2^{b}, 2^{b})",
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
                        || "relu(x)",
                        self.output,
                        row,
                        || Value::known(to_field::<F>(relu(x))),
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
            MockRun::new().k(9).expect_failure("relu table").run(&c);
        }
    }
}
