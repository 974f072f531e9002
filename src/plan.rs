//! Plan stage: model → layout. Chooses the dense lane count and derives `k` from the rows the
//! layout needs and the table sizes — never guessed.
//!
//! Rows: every node reports its [`Cost`] (dense-chip rows, rescale-chip rows) for a lane count;
//! the two chips run side by side in their own columns, the rescale columns also holding the
//! public input rows; the tables take `2^B` and `2^R` rows. `k` is the smallest with
//! `max(rows) + minimum_rows ≤ 2^k`. Among lane counts the plan picks the cheapest by
//! `(advice + permutation + lookup columns) · 2^k`. The function and product chips go in the
//! rescale chip's columns (their rows added to its rows) wherever that keeps `k`, the dense
//! chip is left out when no node has dense rows, and the rescale chip is tall (its limbs in one
//! column and one lookup, two or three rows an element) wherever that keeps `k` too.

use crate::circuit::{configure, CircuitShape};
use crate::ops::Cost;
use crate::quantize::QuantModel;
use halo2_proofs::{halo2curves::bn256::Fr, plonk::ConstraintSystem};
use serde::{Deserialize, Serialize};

/// Largest `k` zkinfer plans for.
pub const MAX_K: u32 = 24;
/// Largest lane count tried.
pub const MAX_LANES: usize = 32;
/// A plan whose proving cost is within `1/PROOF_SLACK` of the cheapest may be taken for a
/// smaller proof: the cheapest of them whose estimated proof is within
/// [`PROOF_TARGET`], else the one with the smallest proof.
pub const PROOF_SLACK: u64 = 4;
/// When no plan within [`PROOF_SLACK`] of the cheapest has a proof within [`PROOF_TARGET`],
/// the cheapest that has one within `1/PROOF_SLACK_WIDE` of the cheapest is taken.
pub const PROOF_SLACK_WIDE: u64 = 2;
/// Either slack buys a smaller proof with at most this many seconds of estimated proving
/// (`cost · SECONDS_PER_COST`): a quarter or a half of a bundled model's time, but not 10 s of a
/// 10 M-parameter model's (mlp_10m took k = 17 for a 3.2 KB proof in 36 s over k = 16's
/// 4.2 KB in 26 s). The 4 KB target is the bundled models'; `--max-proof-bytes` still sets
/// any budget.
pub const PROOF_SLACK_MAX_SECONDS: f64 = 1.0;
/// Freivalds widths `K` (weight columns) tried (0: no Freivalds chip).
pub const FREIVALDS_WIDTHS: [usize; 10] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256];
/// Outputs per Freivalds weight cell with fixed weights (`P`; 1 with private weights): the
/// same rows as `P` times the columns, each of which every proof re-extends and opens. Four
/// fit the chip's 253-bit budget at the 63-bit separation the accumulator bound needs.
pub const FREIVALDS_PACK: usize = 4;
/// Freivalds bank counts tried (side-by-side chips).
pub const FREIVALDS_BANKS: [usize; 4] = [1, 2, 3, 4];
/// The proof size the plan aims for in fixed mode (estimated bytes; the performance issue's
/// 4 KB target, which is fixed mode's). Banks trade proof bytes (each bank's columns are
/// opened) for rows and are taken only while the proof stays within it (measured, they also
/// pay less than the estimate says once they push the proof past it: dw_separable at 4 banks
/// was no faster); among plans within [`PROOF_SLACK`] of the cheapest, the cheapest within it
/// is taken. Privacy modes, whose target is their cost over fixed mode, take banks whatever
/// the proof and keep only the [`PROOF_SLACK`] preference.
pub const PROOF_TARGET: u64 = 4096;
/// An upper bound of the rows halo2 reserves (`minimum_rows`: blinding factors and the
/// permutation's last rows) in any circuit zkinfer configures (`plan::tests` checks it).
const MAX_RESERVED_ROWS: usize = 8;

/// Errors of the plan stage.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Does not fit.
    #[error("the model needs more than 2^{MAX_K} rows at {MAX_LANES} lanes")]
    TooLarge,
    /// No layout's estimated proof fits `compile --max-proof-bytes`.
    #[error("no layout gives a proof of at most {budget} bytes (estimated; the smallest is {smallest} bytes)")]
    ProofBudget {
        /// The budget.
        budget: u64,
        /// The smallest estimated proof of any layout tried.
        smallest: u64,
    },
    /// A layout no plan chooses (a hand-edited settings.json).
    #[error(
        "settings.json describes a layout zkinfer does not make ({0}); run `zkinfer compile` again"
    )]
    NotAPlan(String),
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

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What the circuit keeps private (`compile --weights private`, `--input private|hashed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Privacy {
    /// Weights in advice columns, bound by a weight commitment.
    pub weights: bool,
    /// The input is a witness (range-checked in the circuit), not a public instance.
    pub input: bool,
    /// The input's salted hash is public (implies a private input).
    pub hashed_input: bool,
    /// The output's salted hash is public instead of the output.
    pub hashed_output: bool,
}

impl Privacy {
    /// The privacy a shape was planned for.
    pub fn of(shape: &CircuitShape) -> Self {
        Self {
            weights: shape.private_weights,
            input: shape.private_input,
            hashed_input: shape.hashed_input,
            hashed_output: shape.hashed_output,
        }
    }
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
    /// Rows of the product (and function-chip) columns (omitted from JSON when 0, so circuits
    /// without them keep their digests).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub product_rows: usize,
    /// Rows of the Freivalds chips' columns: with several banks, a bound on the fullest one
    /// (omitted from JSON when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub freivalds_rows: usize,
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

/// Which chips share the rescale chip's columns, and whether the dense chip is there
/// ([`CircuitShape::func_in_rescale`], [`CircuitShape::product_in_rescale`],
/// [`CircuitShape::dense`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sharing {
    func: bool,
    product: bool,
    dense: bool,
    tall: bool,
    /// The product chip beside the rescale chip, not in its columns
    /// ([`CircuitShape::product_beside_rescale`]).
    product_beside: bool,
}

impl Sharing {
    fn of(shape: &CircuitShape) -> Self {
        Self {
            func: shape.func_in_rescale,
            product: shape.product_in_rescale,
            dense: shape.dense,
            tall: shape.tall_rescale,
            product_beside: shape.product_beside_rescale,
        }
    }
}

/// The plan for these choices; `sharing: None` lets it decide which chips share the rescale
/// chip's columns (each where that does not raise `k`: fewer columns at the same size are
/// cheaper to prove and give a smaller proof) and leave the dense chip out when nothing uses
/// it.
fn plan_with_lanes(
    model: &QuantModel,
    lanes: usize,
    privacy: Privacy,
    shared_hash_columns: bool,
    (freivalds, pack, merge, advice_weights): (usize, usize, bool, bool),
    (banks, split, balance): (usize, bool, bool),
    sharing: Option<Sharing>,
) -> Option<(Plan, u64, u64, bool)> {
    let mut shape = CircuitShape {
        lanes,
        range_bits: model.table_bits,
        relu_bits: model.table_bits,
        remainder_limbs: if model.max_shift() > model.table_bits {
            2
        } else {
            1
        },
        products: model.graph.nodes.iter().any(|n| {
            matches!(
                n.op,
                crate::ops::QuantOp::Mul(_) | crate::ops::QuantOp::ArgMax(_)
            )
        }),
        funcs: model
            .graph
            .nodes
            .iter()
            .any(|n| matches!(n.op, crate::ops::QuantOp::Func(_))),
        private_weights: privacy.weights,
        private_input: privacy.input || privacy.hashed_input,
        hashed_input: privacy.hashed_input,
        hashed_output: privacy.hashed_output,
        shared_hash_columns,
        freivalds,
        freivalds_banks: banks,
        freivalds_pack: pack,
        freivalds_merge: merge && freivalds > 0,
        func_in_rescale: false,
        product_in_rescale: false,
        dense: true,
        tall_rescale: false,
        // (new private plans offset their parameter cells, and their Freivalds chips keep
        // no fixed weight columns)
        weight_offset: privacy.weights,
        freivalds_advice_weights: advice_weights && privacy.weights && freivalds > 0,
        freivalds_split: split && banks > 1,
        freivalds_balance: balance && split && banks > 1,
        // (decided with the other placements below; the rows are counted without it)
        product_beside_rescale: false,
    };
    // split and merged checks only where some layer splits or merges: other circuits keep
    // the layout (and the settings digest) they had before either existed
    let some_node =
        |shape: &CircuitShape,
         f: fn(&dyn crate::ops::QuantOpImpl, &crate::ops::NodeCtx) -> bool| {
            (0..model.graph.nodes.len())
                .any(|i| f(model.graph.nodes[i].op.imp(), &model.node_ctx_in(i, shape)))
        };
    if shape.freivalds_split && !some_node(&shape, |op, ctx| op.freivalds_splits(ctx)) {
        shape.freivalds_split = false;
        shape.freivalds_balance = false;
    }
    if shape.freivalds_merge && !some_node(&shape, |op, ctx| op.freivalds_merges(ctx)) {
        shape.freivalds_merge = false;
    }
    let mut cost = Cost::default();
    // the banks' rows, replaying synthesis: each check to the bank with the fewest rows, or
    // to the bank the balance gives it
    let mut checks = Vec::new();
    for i in 0..model.graph.nodes.len() {
        let ctx = model.node_ctx_in(i, &shape);
        let op = model.graph.nodes[i].op.imp();
        cost += op.cost(&ctx);
        checks.extend(op.freivalds_groups(&ctx));
    }
    let mut bank_rows = vec![0usize; banks.max(1)];
    let order = if shape.freivalds_balance {
        bank_order(&checks, banks)
    } else {
        greedy_order(&checks, banks)
    };
    for (rows, bank) in checks.iter().zip(order) {
        bank_rows[bank] += rows;
    }
    let dense_rows = cost.dense_rows;
    // the products a chip beside the rescale chip would lay out on their rescale rows: every
    // Mul's (ArgMax's are not rescaled, so a model with one keeps the chip's own columns)
    let beside_allowed = shape.products && !has_argmax(model);
    let freivalds_rows = if banks > 1 {
        bank_rows.iter().copied().max().unwrap_or(0)
    } else {
        cost.freivalds_rows
    };
    let func_table_rows = if shape.funcs {
        crate::ops::func::tables(&model.graph).len() + 1
    } else {
        0
    };
    // the input's rows; a private input is range-checked by a rescale row each as well, as a
    // hashed output is
    let checked_rows = cost.rescale_rows
        + if shape.private_input {
            model.input_len()
        } else {
            0
        }
        + if shape.hashed_output {
            model.output_len()
        } else {
            0
        };
    // rows one rescale (and one shared function row) takes
    let per_rescale = |tall: bool| {
        zkinfer_circuits::rescale::RescaleConfig::rows_per_element_of(tall, shape.remainder_limbs)
    };
    // a hashed input or output: the salts and values in the packing column, the sponges
    // beside it; in columns of their own, or above every other chip's rows in theirs
    let hash_rows = crate::circuit::hash_rows(&shape, model.input_len(), model.output_len());
    let table_rows = (1usize << model.table_bits.max(shape.range_bits)).max(func_table_rows);
    // rows of the rescale columns and of the product/function columns beside them
    let rows_of = |s: Sharing| {
        let mut rescale = model.input_len() + checked_rows * per_rescale(s.tall);
        let mut beside = 0;
        // a function row in a tall rescale chip's columns takes two (in its own, one)
        let func_rows = cost.func_rows * if s.tall && s.func { 2 } else { 1 };
        let product_rows = if s.product_beside {
            0
        } else {
            cost.product_rows
        };
        for (shared, rows) in [(s.func, func_rows), (s.product, product_rows)] {
            if shared {
                rescale += rows;
            } else {
                beside = beside.max(rows);
            }
        }
        (rescale, beside)
    };
    let need_of = |s: Sharing, reserved: usize| {
        let (rescale_rows, beside) = rows_of(s);
        let chip_rows = dense_rows.max(rescale_rows).max(beside);
        let others = if shared_hash_columns {
            (hash_rows + chip_rows).max(table_rows)
        } else {
            chip_rows.max(hash_rows).max(table_rows)
        };
        (others + reserved, others.max(freivalds_rows) + reserved)
    };
    let sharing = sharing.unwrap_or_else(|| {
        // (configuring is most of the plan's time: decide on a bound of the reserved rows,
        // configure once; `k` below comes from the real count)
        let k_of = |s: Sharing| need_of(s, MAX_RESERVED_ROWS).1.next_power_of_two();
        // (products beside the rescale chip take fewer columns and rows than in columns of
        // their own; in the rescale columns, none, where that keeps k)
        let mut s = Sharing {
            func: false,
            product: false,
            dense: dense_rows > 0,
            tall: false,
            product_beside: beside_allowed,
        };
        let k = k_of(s);
        if shape.funcs && k_of(Sharing { func: true, ..s }) == k {
            s.func = true;
        }
        let in_rescale = Sharing {
            product: true,
            product_beside: false,
            ..s
        };
        if shape.products && k_of(in_rescale) == k {
            s = in_rescale;
        }
        // (after the chips: a shared chip saves more columns and lookups than a tall rescale)
        if k_of(Sharing { tall: true, ..s }) == k {
            s.tall = true;
        }
        s
    });
    shape.func_in_rescale = sharing.func;
    shape.product_in_rescale = sharing.product;
    shape.dense = sharing.dense;
    shape.tall_rescale = sharing.tall;
    shape.product_beside_rescale = sharing.product_beside;
    if shape.product_beside_rescale && (!beside_allowed || shape.product_in_rescale) {
        return None;
    }
    let mut cs = ConstraintSystem::<Fr>::default();
    configure(&mut cs, shape);
    let reserved = cs.minimum_rows();
    let (rescale_rows, product_rows) = rows_of(sharing);
    let (_, need) = need_of(sharing, reserved);
    // whether the Freivalds rows alone set k (only then can banks lower it), judged with one
    // row per rescale: a tall rescale chip fills the rows the Freivalds rows set, and with
    // fewer of those it need not be tall
    let (others_one_row, _) = need_of(
        Sharing {
            tall: false,
            ..sharing
        },
        reserved,
    );
    let freivalds_bound = others_one_row.next_power_of_two() < need.next_power_of_two();
    let k = (need as u64).next_power_of_two().trailing_zeros().max(4);
    if k > MAX_K {
        return None;
    }
    let degree = cs.degree();
    // halo2-axiom keeps no extended cosets of fixed columns in the proving key: every proof
    // takes each fixed column to the extended domain again (its FFTs) and opens it, without
    // committing it (no MSM); measured, about half an advice column
    let committed = 2 * committed_polys(&cs) + cs.num_fixed_columns();
    let cost = committed as u64 * (1u64 << k) * u64::from(k);
    let proof = proof_bytes(&cs);
    let plan = Plan {
        shape,
        k,
        dense_rows,
        rescale_rows,
        product_rows,
        freivalds_rows,
        table_rows,
        reserved_rows: reserved,
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns() + cs.num_selectors(),
        lookups: cs.lookups().len(),
        degree,
    };
    Some((plan, cost, proof, freivalds_bound))
}

/// The plan of `model` for the choices already in `shape` (lanes, Freivalds width, where the
/// hash columns go, the privacy flags): everything else (bit widths, rows, `k`, columns) is
/// derived again. `setup` and `prove` compare it with settings.json instead of searching
/// every layout again (the search is `compile`'s; the circuit is the one settings.json
/// describes, bound by the commitment).
pub fn plan_of(model: &QuantModel, shape: &CircuitShape) -> Result<Plan, PlanError> {
    check_shifts(model)?;
    // choices compile could have made, checked before anything is allocated by them
    let hashing = shape.hashed_input || shape.hashed_output;
    let valid = (1..=MAX_LANES).contains(&shape.lanes)
        && FREIVALDS_WIDTHS.contains(&shape.freivalds)
        && FREIVALDS_BANKS.contains(&shape.freivalds_banks)
        && (shape.freivalds_pack == 1
            || shape.freivalds_pack == freivalds_pack(shape.freivalds, shape.private_weights))
        && (shape.freivalds_banks == 1 || banks_allowed(shape.freivalds))
        && (shape.freivalds > 0 || !shape.freivalds_merge)
        && (shape.private_weights || !shape.weight_offset)
        && ((shape.private_weights && shape.weight_offset && shape.freivalds > 0)
            || !shape.freivalds_advice_weights)
        && (shape.freivalds_banks > 1 || !shape.freivalds_split)
        && (shape.freivalds_split || !shape.freivalds_balance)
        && (hashing || !shape.shared_hash_columns)
        && (shape.funcs || !shape.func_in_rescale)
        && (shape.products || !shape.product_in_rescale)
        && ((shape.products && !shape.product_in_rescale && !has_argmax(model))
            || !shape.product_beside_rescale)
        && (shape.private_input || !shape.hashed_input);
    if !valid {
        return Err(PlanError::NotAPlan(format!(
            "lanes {}, Freivalds width {} × {}{}{}",
            shape.lanes,
            shape.freivalds,
            shape.freivalds_banks,
            if shape.private_weights {
                ", private weights"
            } else {
                ""
            },
            if shape.shared_hash_columns {
                ", shared hash columns"
            } else {
                ""
            }
        )));
    }
    replan(
        model,
        shape,
        (
            shape.freivalds_banks,
            shape.freivalds_split,
            shape.freivalds_balance,
        ),
        Some(Sharing::of(shape)),
    )
    .map(|(p, _, _, _)| p)
    .ok_or(PlanError::TooLarge)
    .and_then(|p| {
        // without the dense chip, no node may need it (synthesis would fail)
        if p.shape.dense || p.dense_rows == 0 {
            Ok(p)
        } else {
            Err(PlanError::NotAPlan(format!(
                "no dense chip, but {} dense rows",
                p.dense_rows
            )))
        }
    })
}

/// Whether `model` proves an ArgMax, whose products (not rescaled) need the product chip's own
/// `c` column ([`CircuitShape::product_beside_rescale`] is refused).
fn has_argmax(model: &QuantModel) -> bool {
    model
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, crate::ops::QuantOp::ArgMax(_)))
}

/// [`plan_with_lanes`] for the choices in `shape` (lanes, Freivalds width, hash placement,
/// privacy) with `banks` and `sharing`.
fn replan(
    model: &QuantModel,
    shape: &CircuitShape,
    banks: (usize, bool, bool),
    sharing: Option<Sharing>,
) -> Option<(Plan, u64, u64, bool)> {
    plan_with_lanes(
        model,
        shape.lanes,
        Privacy::of(shape),
        shape.shared_hash_columns,
        (
            shape.freivalds,
            shape.freivalds_pack,
            shape.freivalds_merge,
            shape.freivalds_advice_weights,
        ),
        banks,
        sharing,
    )
    .map(|(mut p, cost, proof, bound)| {
        // (the offset changes what a weight cell holds, not the rows or columns: a private
        // build from before it keeps its cells)
        p.shape.weight_offset = shape.weight_offset;
        (p, cost, proof, bound)
    })
}

/// The bank of each Freivalds check (`rows`, in synthesis order) among `banks`, balanced:
/// the checks largest first (the earlier on a tie), each to the bank with the fewest rows
/// so far (the first on a tie). Longest-processing-time first: the fullest bank ends at most
/// one check above the average, and at most 4/3 of the best assignment's fullest.
pub fn bank_order(rows: &[usize], banks: usize) -> Vec<usize> {
    let banks = banks.max(1);
    let mut by_size: Vec<usize> = (0..rows.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(rows[i]));
    let mut load = vec![0usize; banks];
    let mut bank = vec![0usize; rows.len()];
    for i in by_size {
        let fewest = (0..banks).min_by_key(|&b| load[b]).unwrap_or(0);
        load[fewest] += rows[i];
        bank[i] = fewest;
    }
    bank
}

/// The bank of each check the way synthesis assigns them without the balance: in order, each
/// to the bank with the fewest rows (the first on a tie).
fn greedy_order(rows: &[usize], banks: usize) -> Vec<usize> {
    let mut load = vec![0usize; banks.max(1)];
    rows.iter()
        .map(|&r| {
            let fewest = (0..load.len()).min_by_key(|&b| load[b]).unwrap_or(0);
            load[fewest] += r;
            fewest
        })
        .collect()
}

/// [`bank_order`] of every Freivalds check of `model` laid out as `shape` says.
pub fn bank_order_of(model: &QuantModel, shape: &crate::circuit::CircuitShape) -> Vec<usize> {
    let checks: Vec<usize> = (0..model.graph.nodes.len())
        .flat_map(|i| {
            let ctx = model.node_ctx_in(i, shape);
            model.graph.nodes[i].op.imp().freivalds_groups(&ctx)
        })
        .collect();
    bank_order(&checks, shape.freivalds_banks)
}

/// Several Freivalds banks: only with the chip. (With private weights every bank's weight
/// columns come before any second-phase accumulator, where the weight link finds their
/// commitments: [`crate::circuit::ModelConfig::weight_columns_lead`]; builds before that
/// allowed banks with fixed weights only.)
pub fn banks_allowed(freivalds: usize) -> bool {
    freivalds > 0
}

/// The outputs per Freivalds weight cell a new plan takes: [`FREIVALDS_PACK`] with fixed
/// weights, 1 with private ones (their cells are committed one weight each) or no chip.
pub fn freivalds_pack(freivalds: usize, private_weights: bool) -> usize {
    if freivalds > 0 && !private_weights {
        FREIVALDS_PACK
    } else {
        1
    }
}

fn check_shifts(model: &QuantModel) -> Result<(), PlanError> {
    let max = 2 * model.table_bits;
    if let Some(n) = model
        .graph
        .nodes
        .iter()
        .find(|n| n.op.imp().max_shift() > max)
    {
        return Err(PlanError::ShiftTooLarge {
            node: n.name.clone(),
            shift: n.op.imp().max_shift(),
            max,
            bits: model.table_bits,
        });
    }
    Ok(())
}

/// Polynomials a proof commits to besides the quotient: advice columns, permutation
/// products (a chunk of `degree − 2` columns each), three per lookup argument.
pub(crate) fn committed_polys(cs: &ConstraintSystem<Fr>) -> usize {
    let perm = cs.permutation().get_columns().len();
    let perm_products = perm.div_ceil(cs.degree().saturating_sub(2).max(1));
    cs.num_advice_columns() + perm_products + 3 * cs.lookups().len()
}

/// Estimated proof size of a constraint system (bytes): a commitment per committed polynomial
/// and quotient piece, an evaluation per opening (every queried column, permutation sigmas,
/// products at two or three points, lookups at five), two multi-open points.
/// `tests/inspect.rs` holds it within 15 % of real proofs.
pub(crate) fn proof_bytes(cs: &ConstraintSystem<Fr>) -> u64 {
    let perm = cs.permutation().get_columns().len();
    let perm_products = perm.div_ceil(cs.degree().saturating_sub(2).max(1));
    let quotient = cs.degree().saturating_sub(1);
    let evaluations = cs.num_advice_queries().iter().sum::<usize>()
        + cs.num_fixed_columns()
        + cs.num_selectors()
        + perm
        + 3 * perm_products
        + 5 * cs.lookups().len()
        + quotient;
    (committed_polys(cs) + quotient + evaluations) as u64 * 32 + 2 * 64
}

/// Plans the layout of `model` with public input and fixed weights.
pub fn plan(model: &QuantModel) -> Result<Plan, PlanError> {
    plan_for(model, Privacy::default())
}

/// Plans the layout of `model` for `privacy`.
pub fn plan_for(model: &QuantModel, privacy: Privacy) -> Result<Plan, PlanError> {
    plan_and_cost(model, privacy).map(|(p, _)| p)
}

/// [`plan_for`] with the plan's cost (committed polynomials weighted by `2^k · k`), which
/// compile compares across table sizes.
pub fn plan_and_cost(model: &QuantModel, privacy: Privacy) -> Result<(Plan, u64), PlanError> {
    plan_and_cost_within(model, privacy, None)
}

/// [`plan_and_cost`]; with `max_proof_bytes` (`compile --max-proof-bytes`), the cheapest plan
/// whose estimated proof is at most that many bytes, chips sharing the rescale columns even
/// where that raises `k` (the estimate is within 15 % of real proofs, `tests/inspect.rs`).
pub fn plan_and_cost_within(
    model: &QuantModel,
    privacy: Privacy,
    max_proof_bytes: Option<u64>,
) -> Result<(Plan, u64), PlanError> {
    check_shifts(model)?;
    let hashing = privacy.hashed_input || privacy.hashed_output;
    // the 4 KB target is fixed mode's (the performance issue's); a privacy mode's is its
    // cost over fixed mode, so its banks are not held to the target, nor does it pay up to
    // PROOF_SLACK_WIDE for a smaller proof
    let fixed_mode = privacy == Privacy::default();
    let widths: &[usize] = &FREIVALDS_WIDTHS;
    let single: Vec<(Plan, u64, u64, bool)> = (1..=MAX_LANES)
        .flat_map(|lanes| [(lanes, false), (lanes, true)])
        .filter(|&(_, shared)| hashing || !shared)
        .flat_map(|(lanes, shared)| widths.iter().map(move |&w| (lanes, shared, w)))
        .filter_map(|(lanes, shared, w)| {
            let pack = freivalds_pack(w, privacy.weights);
            plan_with_lanes(
                model,
                lanes,
                privacy,
                shared,
                (w, pack, true, true),
                (1, false, false),
                None,
            )
        })
        .collect();
    // banks only where the Freivalds rows set k (elsewhere they only add columns), and only
    // while the proof stays within the budget
    // (per width and hash placement, the three cheapest lane counts: the search stays a
    // fraction of compile's time)
    let mut bound: Vec<&(Plan, u64, u64, bool)> = single
        .iter()
        .filter(|c| c.3 && banks_allowed(c.0.shape.freivalds))
        .collect();
    bound.sort_by_key(|c| (c.0.shape.freivalds, c.0.shape.shared_hash_columns, c.1));
    let mut tried: std::collections::HashMap<(usize, bool), usize> = Default::default();
    bound.retain(|c| {
        let n = tried
            .entry((c.0.shape.freivalds, c.0.shape.shared_hash_columns))
            .or_default();
        *n += 1;
        *n <= 3
    });
    let banked: Vec<(Plan, u64, u64, bool)> = bound
        .into_iter()
        .flat_map(|c| {
            let s = c.0.shape;
            FREIVALDS_BANKS[1..].iter().flat_map(move |&b| {
                [false, true]
                    .into_iter()
                    .filter_map(move |balance| replan(model, &s, (b, true, balance), None))
            })
        })
        .filter(|c| !fixed_mode || c.2 <= PROOF_TARGET)
        .collect();
    let candidates = single
        .into_iter()
        .chain(banked)
        .map(|(p, cost, proof, _)| (p, cost, proof));
    let mut all: Vec<(Plan, u64, u64)> = candidates.collect();
    let cheapest = all.iter().map(|c| c.1).min().ok_or(PlanError::TooLarge)?;
    // proof size and verify time grow with every opened column: among plans within
    // PROOF_SLACK of the cheapest to prove, the cheapest whose proof is within the 4 KB
    // target (the estimate runs about 5 % above real proofs), else the smallest proof
    let within = with_slack(cheapest, PROOF_SLACK);
    // private weights have no on-chain verifier (`zkinfer evm` refuses them): a smaller proof
    // buys them a few milliseconds of verify at most, so they take the cheapest to prove
    // (mlp_wide with a hashed input: k = 11 in two banks, 1.6 s, over k = 12 in one, 2.2 s,
    // which the slack below would take for its 5 KB proof instead of 8 KB)
    if privacy.weights && max_proof_bytes.is_none() {
        return all
            .into_iter()
            .min_by_key(|(p, cost, proof)| (*cost, *proof, p.shape.lanes))
            .map(|(p, cost, _)| (p, cost))
            .ok_or(PlanError::TooLarge);
    }
    let Some(budget) = max_proof_bytes else {
        // (failing that, one within PROOF_SLACK_WIDE: merged checks made wide Freivalds
        // blocks cheap enough to pass every 4 KB plan of cnn_gelu_ln by 28 %)
        let wide = with_slack(cheapest, PROOF_SLACK_WIDE);
        let small_within = |limit: u64| {
            all.iter()
                .filter(|c| c.1 <= limit && c.2 <= PROOF_TARGET)
                .min_by_key(|(p, cost, proof)| (*cost, *proof, p.shape.lanes))
                .cloned()
        };
        let small =
            small_within(within).or_else(|| if fixed_mode { small_within(wide) } else { None });
        let near: Vec<(Plan, u64, u64)> = all.into_iter().filter(|c| c.1 <= within).collect();
        let smallest = || {
            near.iter()
                .min_by_key(|(p, cost, proof)| (*proof, *cost, p.shape.lanes))
        };
        return small
            .map(|(p, cost, _)| (p, cost))
            .or_else(|| smallest().map(|(p, cost, _)| (p.clone(), *cost)))
            .ok_or(PlanError::TooLarge);
    };
    // a proof budget: every candidate also with every chip in the rescale columns
    let shared: Vec<(Plan, u64, u64)> = all
        .iter()
        .filter_map(|c| {
            let s = c.0.shape;
            let everything = Sharing {
                func: s.funcs,
                product: s.products,
                dense: s.dense,
                tall: true,
                product_beside: false,
            };
            (everything != Sharing::of(&s))
                .then(|| {
                    replan(
                        model,
                        &s,
                        (s.freivalds_banks, s.freivalds_split, s.freivalds_balance),
                        Some(everything),
                    )
                })
                .flatten()
                .map(|(p, cost, proof, _)| (p, cost, proof))
        })
        .collect();
    all.extend(shared);
    let smallest = all.iter().map(|c| c.2).min().unwrap_or(0);
    all.into_iter()
        .filter(|c| c.2 <= budget)
        .min_by_key(|(p, cost, proof)| (*cost, *proof, p.shape.lanes))
        .map(|(p, cost, _)| (p, cost))
        .ok_or(PlanError::ProofBudget { budget, smallest })
}

/// The largest cost a plan may have to be taken over one of cost `cheapest` for its smaller
/// proof: `1/divisor` more, up to [`PROOF_SLACK_MAX_SECONDS`] of estimated proving.
fn with_slack(cheapest: u64, divisor: u64) -> u64 {
    let cap = (PROOF_SLACK_MAX_SECONDS / SECONDS_PER_COST) as u64;
    cheapest.saturating_add((cheapest / divisor.max(1)).min(cap))
}

/// Estimated proving seconds per unit of a plan's cost (2 cores; `zkinfer inspect` reports
/// `PROVE_SECONDS_BASE + cost · SECONDS_PER_COST`, selectors counted with the fixed columns).
/// Fitted for the least worst error over `zkinfer prove`'s measured wall time on the 13
/// bundled models and the three ≥ 1 M-parameter ones (fixed weights, this machine kind,
/// the default build's assembly field arithmetic): within 25 % on each (README).
pub(crate) const SECONDS_PER_COST: f64 = 2.535e-7;

/// The part of `zkinfer prove`'s wall time the fit gives no column (reading the key, the
/// witness, writing the proof), seconds.
pub(crate) const PROVE_SECONDS_BASE: f64 = 0.21;

#[cfg(test)]
mod tests;
