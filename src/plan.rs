//! Plan stage: model → layout. Chooses the dense lane count and derives `k` from the rows the
//! layout needs and the table sizes — never guessed.
//!
//! Rows: the dense chip takes `ceil(n_out / L)·(n_in + 1)` rows per layer in its own columns; the
//! rescale chip takes one row per neuron plus the public input rows in its columns (the two run
//! side by side); the tables take `2^B` and `2^R` rows. `k` is the smallest with
//! `max(rows) + minimum_rows ≤ 2^k`. Among lane counts the plan picks the cheapest by
//! `(advice + permutation + lookup columns) · 2^k`.

use crate::circuit::{configure, CircuitShape};
use crate::quantize::QuantModel;
use halo2_proofs::{halo2curves::bn256::Fr, plonk::ConstraintSystem};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::matmul::MatMulConfig;

/// Largest `k` zkinfer plans for.
pub const MAX_K: u32 = 24;
/// Largest lane count tried.
pub const MAX_LANES: usize = 32;

/// Errors of the plan stage.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Does not fit.
    #[error("the model needs more than 2^{MAX_K} rows at {MAX_LANES} lanes")]
    TooLarge,
    /// A rescale shift beyond what two remainder limbs check.
    #[error("layer `{node}` rescales by 2^{shift}: at most 2^{max} is provable with {bits}-bit tables (two remainder limbs)")]
    ShiftTooLarge {
        /// The layer.
        node: String,
        /// Its shift.
        shift: u32,
        /// Largest provable shift.
        max: u32,
        /// Table bits.
        bits: u32,
    },
}

/// The layout of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Constraint-system shape.
    pub shape: CircuitShape,
    /// Circuit size `2^k`.
    pub k: u32,
    /// Rows of the dense columns.
    pub dense_rows: usize,
    /// Rows of the rescale columns (input + rescales).
    pub rescale_rows: usize,
    /// Rows the tables need.
    pub table_rows: usize,
    /// Rows halo2 reserves (blinding etc.).
    pub reserved_rows: usize,
    /// Advice columns.
    pub advice_columns: usize,
    /// Fixed columns (including table columns and selectors after compression, approximately).
    pub fixed_columns: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Constraint-system degree.
    pub degree: usize,
}

fn plan_with_lanes(model: &QuantModel, lanes: usize) -> Option<(Plan, u64)> {
    let shape = CircuitShape {
        lanes,
        range_bits: model.table_bits,
        relu_bits: model.table_bits,
        remainder_limbs: if model.layers.iter().any(|l| l.shift() > model.table_bits) {
            2
        } else {
            1
        },
    };
    let mut cs = ConstraintSystem::<Fr>::default();
    configure(&mut cs, shape);
    let dense_rows: usize = model
        .layers
        .iter()
        .map(|l| MatMulConfig::rows(l.n_in(), l.n_out(), lanes))
        .sum();
    let rescale_rows = model.input_len() + model.layers.iter().map(|l| l.n_out()).sum::<usize>();
    let table_rows = 1usize << model.table_bits.max(shape.range_bits);
    let reserved = cs.minimum_rows();
    let need = dense_rows.max(rescale_rows).max(table_rows) + reserved;
    let k = (need as u64).next_power_of_two().trailing_zeros().max(4);
    if k > MAX_K {
        return None;
    }
    let degree = cs.degree();
    let perm_cols = cs.permutation().get_columns().len();
    let perm_products = perm_cols.div_ceil(degree.saturating_sub(2).max(1));
    let committed = cs.num_advice_columns() + perm_products + 3 * cs.lookups().len();
    let cost = committed as u64 * (1u64 << k) * u64::from(k);
    let plan = Plan {
        shape,
        k,
        dense_rows,
        rescale_rows,
        table_rows,
        reserved_rows: reserved,
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns() + cs.num_selectors(),
        lookups: cs.lookups().len(),
        degree,
    };
    Some((plan, cost))
}

/// Plans the layout of `model`.
pub fn plan(model: &QuantModel) -> Result<Plan, PlanError> {
    let max = 2 * model.table_bits;
    if let Some(l) = model.layers.iter().find(|l| l.shift() > max) {
        return Err(PlanError::ShiftTooLarge {
            node: l.node.clone(),
            shift: l.shift(),
            max,
            bits: model.table_bits,
        });
    }
    (1..=MAX_LANES)
        .filter_map(|lanes| plan_with_lanes(model, lanes))
        .min_by_key(|(p, cost)| (*cost, p.shape.lanes))
        .map(|(p, _)| p)
        .ok_or(PlanError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::QuantLayer;

    fn model(n_in: usize, n_out: usize, bits: u32) -> QuantModel {
        QuantModel {
            input_shape: vec![1, n_in],
            input_scale: 4,
            table_bits: bits,
            output_bits: 32,
            layers: vec![QuantLayer {
                node: "d".into(),
                weights: vec![vec![1; n_in]; n_out],
                bias: vec![0; n_out],
                in_scale: 4,
                weight_scale: 4,
                out_scale: 4,
                relu: false,
            }],
        }
    }

    #[test]
    fn k_covers_rows_and_tables_and_is_minimal() {
        for (n_in, n_out, bits) in [(4, 2, 6), (64, 10, 8), (512, 512, 10), (64, 16, 12)] {
            let p = plan(&model(n_in, n_out, bits)).expect("plan");
            let need = p.dense_rows.max(p.rescale_rows).max(p.table_rows) + p.reserved_rows;
            assert!(
                need <= 1 << p.k,
                "{n_in}x{n_out}: {need} rows do not fit k = {}",
                p.k
            );
            assert!(
                need > 1 << (p.k - 1) || p.k == 4,
                "{n_in}x{n_out}: k = {} is larger than needed",
                p.k
            );
            assert_eq!(p.dense_rows, MatMulConfig::rows(n_in, n_out, p.shape.lanes));
        }
    }

    #[test]
    fn a_table_forces_k_at_least_bits_plus_one() {
        let p = plan(&model(4, 2, 12)).expect("plan");
        assert_eq!(p.k, 13);
        assert_eq!(p.shape.lanes, 1, "a tiny layer needs no extra lanes");
    }

    #[test]
    fn remainder_limbs_follow_the_largest_shift() {
        let mut m = model(4, 2, 6);
        assert_eq!(plan(&m).expect("plan").shape.remainder_limbs, 1);
        m.layers[0].weight_scale = 4 + 6; // d = 10 > R = 6
        let p = plan(&m).expect("plan");
        assert_eq!(p.shape.remainder_limbs, 2);
        m.layers[0].weight_scale = 4 + 12 + 1; // d = 17 > 2R
        assert!(matches!(
            plan(&m),
            Err(PlanError::ShiftTooLarge { shift: 17, .. })
        ));
    }

    #[test]
    fn wide_layers_get_more_lanes_rather_than_much_larger_k() {
        let p = plan(&model(512, 512, 10)).expect("plan");
        assert!(p.shape.lanes > 1);
        assert!(p.k <= 16, "k = {}", p.k);
    }
}
