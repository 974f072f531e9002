//! Circuit stage: plan + trace → `impl Circuit<Fr>`. Chips come from `zkinfer-circuits`.
//!
//! Walks the graph and lets each node's op lay itself out with the shared chips
//! ([`crate::ops::Synthesize`]). Public instance column: `[input values…, output values…]`
//! (fixed-point integers, all inputs then all outputs, each flattened row-major).
//! Weights and biases are fixed columns, so the verifying key commits to them.

use crate::graph::Inputs;
use crate::ops::{split_inputs, Chips, NodeWitness, WitnessCursor};
use crate::quantize::QuantModel;
use crate::witness::Trace;
use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner},
    halo2curves::bn256::Fr,
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Instance},
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use zkinfer_circuits::{
    fixed::to_field,
    freivalds::{FreivaldsChip, FreivaldsColumns, FreivaldsConfig},
    func::{FuncChip, FuncConfig, FuncTable},
    known_if, load_instance_at,
    matmul::MatMulChip,
    matmul::MatMulConfig,
    poseidon::{PoseidonChip, PoseidonConfig, SpongeTrace},
    product::{ProductChip, ProductConfig},
    range::RangeTable,
    relu::ReluTable,
    rescale::RescaleChip,
    rescale::RescaleConfig,
    rescale::{RescaleInstructions, RescaleWitness},
    Wire,
};

/// What configures the constraint system (the `Circuit::Params`): everything the verifier
/// needs besides the verifying key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitShape {
    /// Dense lanes.
    pub lanes: usize,
    /// Remainder table bits `R`.
    pub range_bits: u32,
    /// ReLU table bits `B`.
    pub relu_bits: u32,
    /// Limbs of `R` bits the rescale remainders are checked in: 1 (shifts `d ≤ R`) or 2
    /// (`d ≤ 2R`, one more advice column and lookup).
    /// Omitted from JSON when 1, so commitments made before two-limb remainders existed keep
    /// their digests.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub remainder_limbs: u32,
    /// Whether the circuit has the product chip (only models with products of activations do;
    /// omitted from JSON when false, so other circuits keep their digests).
    #[serde(default, skip_serializing_if = "is_false")]
    pub products: bool,
    /// Whether the circuit has the function chip and table (only models with table-lookup
    /// functions do; omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub funcs: bool,
    /// Weights in advice columns, bound by a separate commitment (`compile --weights
    /// private`; omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub private_weights: bool,
    /// The input is a witness, range-checked in the circuit, not a public instance
    /// (`compile --input private`; omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub private_input: bool,
    /// A private input whose salted Poseidon hash is the first public value (`compile --input
    /// hashed`; omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hashed_input: bool,
    /// The outputs' salted Poseidon hash is the last public value instead of the outputs
    /// (`compile --output-visibility hashed`; omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hashed_output: bool,
    /// The Poseidon chip (hashed input or output) lays its sponge and packing out in the
    /// other chips' advice columns, above their rows, instead of ten columns of its own (the
    /// plan picks whichever is cheaper; omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared_hash_columns: bool,
    /// Weight columns `K` of the Freivalds chip, which checks the linear layers
    /// where it takes fewer cells than the dense chip (0: no such chip; omitted from JSON
    /// when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub freivalds: usize,
    /// Freivalds chips side by side, each with its own columns: a group goes to the one with
    /// the fewest rows, so the layers' rows take about `1/banks` of the circuit's rows (fixed
    /// weights only; omitted from JSON when 1).
    #[serde(default = "one_usize", skip_serializing_if = "is_one_usize")]
    pub freivalds_banks: usize,
    /// Outputs each Freivalds weight cell carries (`P`, fixed weights only): a block is
    /// `K·P` outputs, the `p`-th of a column weighted `2^(p·t)`, `t` being set per layer by
    /// the bounds around it (see the chip; omitted from JSON when 1).
    #[serde(default = "one_usize", skip_serializing_if = "is_one_usize")]
    pub freivalds_pack: usize,
    /// Consecutive small groups of a layer (a convolution's positions, an Add's elements)
    /// are checked together, up to `K·P` outputs a check, each check reading the union of its
    /// groups' inputs once: a 3×3 convolution's neighbouring positions share most of their
    /// patches (omitted from JSON when false, so older builds keep their layout).
    #[serde(default, skip_serializing_if = "is_false")]
    pub freivalds_merge: bool,
    /// The function chip lays its rows out in the rescale chip's columns, below and between
    /// the rescale rows (one row cursor), instead of seven advice columns and a range lookup
    /// of its own (the plan does so where it does not raise `k`; omitted from JSON when
    /// false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub func_in_rescale: bool,
    /// The product chip lays its rows out in the rescale chip's columns likewise, instead of
    /// three advice columns and a fixed column of its own (omitted from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub product_in_rescale: bool,
    /// Whether the circuit has the dense chip (omitted from JSON when true): the plan leaves it
    /// out when no layer uses it (every linear layer Freivalds-style, no max/argmax/gather).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub dense: bool,
    /// The rescale chip is tall: each element takes two rows (three with two remainder
    /// limbs) and its range-checked limbs share one column and one lookup, instead of an
    /// advice column and a lookup each (the plan does so where the rows keep `k`; omitted
    /// from JSON when false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub tall_rescale: bool,
    /// Private weights' parameter cells hold `w + 2^62` (and their fixed cells `−2^62`), so
    /// the weight columns each proof commits to are small positive integers
    /// ([`zkinfer_circuits::matmul::WeightColumns::Private`]; omitted from JSON when false:
    /// private builds from before keep their layout).
    #[serde(default, skip_serializing_if = "is_false")]
    pub weight_offset: bool,
    /// With private weights, the Freivalds chips' weight columns are advice only, every cell
    /// `w + 2^62`, and their output rows take `−ρ^k` from a second-phase power column
    /// ([`zkinfer_circuits::matmul::WeightColumns::Advice`]): `K + 1` fixed columns fewer per
    /// bank, one advice column more (omitted from JSON when false: private builds from
    /// before keep their layout).
    #[serde(default, skip_serializing_if = "is_false")]
    pub freivalds_advice_weights: bool,
    /// With several banks, a layer's check of more than one block is split into one check
    /// per bank (whole blocks each; one check per block with [`Self::freivalds_balance`]),
    /// so that one large layer no longer sets the rows of a bank (the plan sets it only where some layer splits; omitted from JSON when false:
    /// builds from before keep their layout).
    #[serde(default, skip_serializing_if = "is_false")]
    pub freivalds_split: bool,
    /// With split checks, every check of several blocks is split into checks of one block,
    /// and the banks take the checks largest first, each to the bank with the fewest rows
    /// ([`crate::plan::bank_order`]), instead of in synthesis order: the fullest bank comes
    /// within one block of the average (mlp_wide at width 16 in three banks: 2,013 rows,
    /// inside k = 11, against 2,124 with a check a bank and 2,043 with one-block checks in
    /// synthesis order). Omitted from JSON when false: builds from before keep their layout.
    #[serde(default, skip_serializing_if = "is_false")]
    pub freivalds_balance: bool,
    /// The product chip sits beside the rescale chip: every product is rescaled at once, so
    /// its factors go in two columns on the rescale row and the product is that row's `z`
    /// ([`zkinfer_circuits::product::ProductConfig::configure_beside_rescale`]): one advice
    /// and one permutation column fewer than the chip's own columns, no rows of its own. Only
    /// without ArgMax (whose products are not rescaled) and with the chip not in the rescale
    /// columns (omitted from JSON when false: builds from before keep their layout).
    #[serde(default, skip_serializing_if = "is_false")]
    pub product_beside_rescale: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn one_usize() -> usize {
    1
}

fn is_one_usize(n: &usize) -> bool {
    *n == 1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Default for CircuitShape {
    fn default() -> Self {
        Self {
            lanes: 1,
            range_bits: 8,
            relu_bits: 8,
            remainder_limbs: 1,
            products: false,
            funcs: false,
            private_weights: false,
            private_input: false,
            hashed_input: false,
            hashed_output: false,
            shared_hash_columns: false,
            freivalds: 0,
            freivalds_banks: 1,
            freivalds_pack: 1,
            freivalds_merge: false,
            func_in_rescale: false,
            product_in_rescale: false,
            dense: true,
            tall_rescale: false,
            weight_offset: false,
            freivalds_advice_weights: false,
            freivalds_split: false,
            freivalds_balance: false,
            product_beside_rescale: false,
        }
    }
}

/// Rows the hashed input's and output's sponges and packings take, as `(sponge rows, packing
/// rows)` (zeros without hashing): the packing holds each salt and its values, the sponge each
/// hash, one after the other.
pub fn hash_layout(shape: &CircuitShape, input_len: usize, output_len: usize) -> (usize, usize) {
    let bits = shape.range_bits + shape.relu_bits;
    let per = (252 / bits as usize).max(1);
    let hashed: Vec<usize> = [
        (shape.hashed_input, input_len),
        (shape.hashed_output, output_len),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|&(_, n)| n)
    .collect();
    let sponges: usize = hashed
        .iter()
        .map(|&n| crate::hash::params().hash_rows(1 + n.div_ceil(per)))
        .sum();
    let packing: usize = hashed.iter().map(|&n| n + 1).sum();
    (sponges, packing)
}

/// Rows the Poseidon chip takes: side by side in its own columns, or, with
/// [`CircuitShape::shared_hash_columns`], the packing below the sponges in the same columns
/// (every other chip then starts below both).
pub fn hash_rows(shape: &CircuitShape, input_len: usize, output_len: usize) -> usize {
    let (sponges, packing) = hash_layout(shape, input_len, output_len);
    if shape.shared_hash_columns {
        sponges + packing
    } else {
        sponges.max(packing)
    }
}

/// Columns of the model circuit.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    dense: Option<MatMulConfig>,
    rescale: RescaleConfig,
    product: Option<ProductConfig>,
    func: Option<FuncConfig>,
    poseidon: Option<PoseidonConfig<Fr>>,
    freivalds: Vec<FreivaldsConfig>,
    instance: Column<Instance>,
}

impl ModelConfig {
    /// The advice columns holding private weights (empty with fixed weights).
    pub fn weight_columns(&self) -> Vec<Column<Advice>> {
        let mut v: Vec<Column<Advice>> = self
            .dense
            .iter()
            .flat_map(|d| d.w.advice().iter().copied())
            .collect();
        for f in &self.freivalds {
            v.extend(f.w.advice());
        }
        v
    }

    /// Whether every weight column is first-phase and has a lower index than every
    /// later-phase advice column of `cs` (the constraint system this configured). halo2
    /// writes a proof's first-phase advice commitments in column order, then the later
    /// phases', so only then is a weight column's commitment at its column index in the
    /// proof, where the weight link reads it.
    pub fn weight_columns_lead(&self, cs: &ConstraintSystem<Fr>) -> bool {
        let phases = cs.advice_column_phase();
        let first_later = phases.iter().position(|&p| p > 0);
        self.weight_columns()
            .iter()
            .all(|c| phases.get(c.index()) == Some(&0) && first_later.is_none_or(|l| c.index() < l))
    }
}

/// Configures the constraint system for `shape`.
pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ModelConfig {
    let range = RangeTable::configure(meta, shape.range_bits);
    let relu = ReluTable::configure(meta, shape.relu_bits);
    let instance = meta.instance_column();
    meta.enable_equality(instance);
    let dense = shape.dense.then(|| {
        let mut d = MatMulConfig::configure(meta, shape.lanes, shape.private_weights);
        d.w = d.w.with_offset(shape.weight_offset);
        d
    });
    let rescale =
        RescaleConfig::configure_with(meta, range, relu, shape.remainder_limbs, shape.tall_rescale);
    let product = shape.products.then(|| {
        if shape.product_in_rescale {
            ProductConfig::configure_in_rescale(meta, &rescale)
        } else if shape.product_beside_rescale {
            ProductConfig::configure_beside_rescale(meta, &rescale)
        } else {
            ProductConfig::configure(meta)
        }
    });
    let func = shape.funcs.then(|| {
        let table = FuncTable::configure(meta);
        if shape.func_in_rescale {
            FuncConfig::configure_in_rescale(meta, &rescale, table)
        } else {
            FuncConfig::configure(meta, range, table)
        }
    });
    let poseidon = (shape.hashed_input || shape.hashed_output).then(|| {
        let bits = shape.range_bits + shape.relu_bits;
        let params = crate::hash::params().clone();
        if shape.shared_hash_columns {
            let sponge = shared_hash_columns(meta, &dense, &rescale, &product, &func);
            PoseidonConfig::configure_in(
                meta,
                params,
                bits,
                sponge,
                [sponge[3], sponge[4]],
                rescale.gated_fixed(),
            )
        } else {
            PoseidonConfig::configure(meta, params, bits)
        }
    });
    let banks = if shape.freivalds > 0 {
        shape.freivalds_banks.max(1)
    } else {
        0
    };
    let freivalds: Vec<FreivaldsConfig> = if shape.private_weights {
        // every bank's weight columns before any second-phase accumulator (the weight link
        // finds a weight column's commitment at its index in the proof)
        let first: Vec<_> = (0..banks)
            .map(|_| {
                if shape.freivalds_advice_weights {
                    FreivaldsColumns::configure_advice(meta, shape.freivalds)
                } else {
                    FreivaldsColumns::configure(meta, shape.freivalds, true)
                }
            })
            .collect();
        first
            .into_iter()
            .map(|f| {
                let mut c = f.finish(meta);
                c.w = c.w.with_offset(shape.weight_offset);
                c
            })
            .collect()
    } else {
        // (bank by bank, as fixed-weight circuits always were: their verifying keys stay)
        (0..banks)
            .map(|_| FreivaldsConfig::configure(meta, shape.freivalds, false))
            .collect()
    };
    ModelConfig {
        dense,
        rescale,
        product,
        func,
        poseidon,
        freivalds,
        instance,
    }
}

/// The Poseidon chip's six columns (`s0 s1 s2 sq0 sq1 sq2`; the packing goes below the
/// sponges in `sq0`, `sq1`) taken from the other chips: those whose every gate and lookup is
/// off where the chip is not (selector- or fixed-gated), equality-enabled ones for the roles
/// that copy (`s0 sq0 sq1`); new columns only when these run out. Not the rescale chip's `u`
/// and `lo` (their range lookups are ungated: every row must hold a table value) nor the
/// function chip's `ℓ` (likewise), and never a private-weight column (the weight commitment
/// covers those whole columns, so a per-proof value there would break it). The round
/// constants go in the rescale chip's remainder-gate fixed columns likewise
/// ([`RescaleConfig::gated_fixed`]).
fn shared_hash_columns(
    meta: &mut ConstraintSystem<Fr>,
    dense: &Option<MatMulConfig>,
    rescale: &RescaleConfig,
    product: &Option<ProductConfig>,
    func: &Option<FuncConfig>,
) -> [Column<Advice>; 6] {
    let mut eq: Vec<Column<Advice>> = vec![];
    if let Some(d) = dense {
        eq.push(d.x);
        eq.extend(&d.acc);
    }
    eq.extend([rescale.z, rescale.y, rescale.a]);
    if let Some(p) = product {
        eq.extend([p.a, p.b, p.c]);
    }
    if let Some(f) = func {
        eq.extend([f.x, f.acc]);
    }
    let mut plain = vec![rescale.hi, rescale.neg];
    if let Some(f) = func {
        plain.extend(f.gated_columns());
    }
    // a chip in the rescale chip's columns names them again: each column once
    let mut seen = std::collections::HashSet::new();
    eq.retain(|c| seen.insert(*c));
    plain.retain(|c| seen.insert(*c));
    // equality roles first, from the equality-enabled columns
    let mut eq = eq.into_iter();
    let [s0, sq0, sq1]: [Column<Advice>; 3] =
        [(); 3].map(|_| eq.next().unwrap_or_else(|| meta.advice_column()));
    let mut rest = plain.into_iter().chain(eq);
    let [s1, s2, sq2]: [Column<Advice>; 3] =
        [(); 3].map(|_| rest.next().unwrap_or_else(|| meta.advice_column()));
    [s0, s1, s2, sq0, sq1, sq2]
}

/// Picks a hashed input's or output's salt and sponge rows from a witness.
type HashOf = fn(&CircuitWitness) -> Option<&(Fr, SpongeTrace<Fr>)>;

/// The per-chip witnesses for one proof, computed before synthesis (one [`NodeWitness`] per
/// node, in the order synthesis consumes them).
#[derive(Clone, Debug)]
pub struct CircuitWitness {
    /// Per node.
    pub nodes: Vec<NodeWitness>,
    /// Public instance values.
    pub instance: Vec<i64>,
    /// The input values (all inputs, flattened): the witness of a private input.
    pub inputs: Vec<i64>,
    /// A hashed input's salt and the sponge rows of its hash.
    pub input_hash: Option<(Fr, SpongeTrace<Fr>)>,
    /// The output values (all outputs, flattened).
    pub outputs: Vec<i64>,
    /// A hashed output's salt and the sponge rows of its hash.
    pub output_hash: Option<(Fr, SpongeTrace<Fr>)>,
}

/// Errors building a circuit.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError {
    /// The trace does not fit the model.
    #[error("internal: the trace does not match the model at node `{0}`")]
    TraceMismatch(String),
}

impl CircuitWitness {
    /// Lays the trace out as the chips assign it.
    pub fn new(
        model: &QuantModel,
        shape: CircuitShape,
        trace: &Trace,
    ) -> Result<Self, CircuitError> {
        let g = &model.graph;
        if trace.values.len() != g.n_tensors() {
            return Err(CircuitError::TraceMismatch("(graph)".into()));
        }
        let nodes = g
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let ctx = model.node_ctx_in(i, &shape);
                let x = Inputs(
                    node.inputs
                        .iter()
                        .map(|&t| trace.values[t].as_slice())
                        .collect(),
                );
                node.op
                    .imp()
                    .witness(&ctx, &x)
                    .map_err(|_| CircuitError::TraceMismatch(node.name.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            nodes,
            instance: match (shape.private_input, shape.hashed_output) {
                (false, false) => public_instance(trace),
                (true, false) => trace.output(),
                (false, true) => trace.input(),
                (true, true) => vec![],
            },
            inputs: trace.input(),
            input_hash: None,
            outputs: trace.output(),
            output_hash: None,
        })
    }

    /// Hashes the input under `salt` (a hashed input: `bits` is the activation width).
    pub fn with_input_salt(mut self, salt: Fr, bits: u32) -> Self {
        let t = crate::hash::trace(&self.inputs, bits, salt);
        self.input_hash = Some((salt, t));
        self
    }

    /// Hashes the outputs under `salt` (a hashed output: `bits` is the activation width).
    pub fn with_output_salt(mut self, salt: Fr, bits: u32) -> Self {
        let t = crate::hash::trace(&self.outputs, bits, salt);
        self.output_hash = Some((salt, t));
        self
    }

    /// The public instance as field elements: a hashed input's hash, the integers (public
    /// inputs, public outputs), a hashed output's hash.
    pub fn instance_fields(&self) -> Vec<Fr> {
        self.input_hash
            .iter()
            .map(|(_, t)| t.hash())
            .chain(self.instance.iter().map(|&v| to_field(v)))
            .chain(self.output_hash.iter().map(|(_, t)| t.hash()))
            .collect()
    }
}

/// The public instance `[inputs…, outputs…]` of a trace (public input; a private input's
/// instance is the outputs alone).
pub fn public_instance(trace: &Trace) -> Vec<i64> {
    let mut v = trace.input();
    v.extend(trace.output());
    v
}

/// Encodes instance integers as field elements.
pub fn instance_field(values: &[i64]) -> Vec<Fr> {
    values.iter().map(|&v| to_field(v)).collect()
}

/// The model circuit.
#[derive(Clone, Debug)]
pub struct ModelCircuit {
    shape: CircuitShape,
    model: Arc<QuantModel>,
    witness: Option<Arc<CircuitWitness>>,
}

impl ModelCircuit {
    /// A circuit for key generation (no witness).
    pub fn keygen(model: Arc<QuantModel>, shape: CircuitShape) -> Self {
        Self {
            shape,
            model,
            witness: None,
        }
    }
    /// A circuit for proving.
    pub fn prove(model: Arc<QuantModel>, shape: CircuitShape, witness: CircuitWitness) -> Self {
        Self {
            shape,
            model,
            witness: Some(Arc::new(witness)),
        }
    }

    fn lay_out<L: Layouter<Fr>>(&self, config: ModelConfig, layouter: &mut L) -> Result<(), Error> {
        config.rescale.range.load(layouter)?;
        config.rescale.relu.load(layouter)?;
        let model = &self.model;
        if let Some(f) = &config.func {
            f.load_table(layouter, &crate::ops::func::tables(&model.graph))?;
        }
        let g = &model.graph;
        let n_in = model.input_len();
        // with shared hash columns the sponges and packings take rows 0..base of them
        let base = if self.shape.shared_hash_columns {
            hash_rows(&self.shape, n_in, model.output_len())
        } else {
            0
        };
        let rescale = RescaleChip::construct(config.rescale.clone(), base + n_in);
        // chips in the rescale columns take their rows from its cursor
        let rows_of = |shared: bool| {
            if shared {
                rescale.rows()
            } else {
                zkinfer_circuits::Rows::new(base)
            }
        };
        let mut chips = Chips {
            dense: config.dense.clone().map(|c| MatMulChip::construct(c, base)),
            product: config
                .product
                .clone()
                .map(|c| ProductChip::construct_on(c, rows_of(self.shape.product_in_rescale))),
            func: config
                .func
                .clone()
                .map(|c| FuncChip::construct_on(c, rows_of(self.shape.func_in_rescale))),
            rescale,
            freivalds: config
                .freivalds
                .iter()
                .map(|c| FreivaldsChip::construct(c.clone(), 0))
                .collect(),
            freivalds_order: self
                .shape
                .freivalds_balance
                .then(|| crate::plan::bank_order_of(model, &self.shape).into()),
            range_bits: self.shape.range_bits,
        };
        let inputs = if self.shape.private_input {
            // witness cells, bounded to the activation range by a rescale row each (shift 0)
            let values = self.witness.as_ref().map(|w| w.inputs.as_slice());
            if values.is_some_and(|v| v.len() != n_in) {
                return Err(Error::Synthesis);
            }
            let cells = layouter.assign_region(
                || "private input",
                |mut region| {
                    Ok((0..n_in)
                        .map(|i| {
                            let v = known_if(values.map(|v| v[i]), to_field);
                            Wire::assign(&mut region, config.rescale.z, base + i, v)
                        })
                        .collect::<Vec<_>>())
                },
            )?;
            let rows: Option<Vec<RescaleWitness>> = values.map(|v| {
                v.iter()
                    .map(|&x| RescaleWitness::compute(x, 0, self.shape.range_bits))
                    .collect()
            });
            chips
                .rescale
                .rescale(layouter, &cells, 0, true, rows.as_deref())?
                .into_iter()
                .map(|r| r.y)
                .collect()
        } else {
            load_instance_at(layouter, config.instance, config.rescale.z, n_in, base)?
        };
        // a hashed input: the salted sponge of the packed (range-checked) input is public value 0
        let mut first_output = if self.shape.private_input { 0 } else { n_in };
        let mut poseidon = config.poseidon.clone().map(|pc| {
            if self.shape.shared_hash_columns {
                let (sponges, _) = hash_layout(&self.shape, n_in, model.output_len());
                PoseidonChip::construct_stacked(pc, 0, sponges)
            } else {
                PoseidonChip::construct(pc, 0)
            }
        });
        // the salted sponge of bounded cells; `which` picks the salt and trace of the witness
        let mut hash_cells =
            |layouter: &mut L, cells: &[Wire<Fr>], which: HashOf| -> Result<Wire<Fr>, Error> {
                let chip = poseidon.as_mut().ok_or(Error::Synthesis)?;
                let hashed = self.witness.as_ref().map(|w| which(w));
                if hashed.is_some_and(|h| h.is_none()) {
                    return Err(Error::Synthesis);
                }
                let hashed = hashed.flatten();
                let salt = chip.witness(layouter, known_if(hashed, |h| h.0))?;
                let mut message = vec![salt];
                message.extend(chip.pack(layouter, cells)?);
                chip.hash(layouter, &message, hashed.map(|h| &h.1))
            };
        if self.shape.hashed_input {
            let h = hash_cells(layouter, &inputs, |w| w.input_hash.as_ref())?;
            layouter.constrain_instance(h.cell, config.instance, 0);
            first_output = 1;
        }
        let mut wires: Vec<Vec<Wire<Fr>>> = split_inputs(g, &inputs);
        for (i, node) in g.nodes.iter().enumerate() {
            let ctx = model.node_ctx_in(i, &self.shape);
            let w = match &self.witness {
                Some(w) => Some(w.nodes.get(i).ok_or(Error::Synthesis)?),
                None => None,
            };
            let x = Inputs(
                node.inputs
                    .iter()
                    .map(|&t| wires.get(t).map(Vec::as_slice).ok_or(Error::Synthesis))
                    .collect::<Result<_, _>>()?,
            );
            let out = node.op.synth::<L>().synthesize(
                &ctx,
                &mut chips,
                layouter,
                &x,
                &mut WitnessCursor::new(w),
            )?;
            if out.len() != node.len() {
                return Err(Error::Synthesis);
            }
            wires.push(out);
        }
        let outputs: Vec<Wire<Fr>> = g
            .outputs
            .iter()
            .flat_map(|&t| wires[t].iter().copied())
            .collect();
        if self.shape.hashed_output {
            // range-checked here (a rescale row each at shift 0), so the packing is injective
            // whatever model.json says about the producers' bounds
            let rows: Option<Vec<RescaleWitness>> = self.witness.as_ref().map(|w| {
                w.outputs
                    .iter()
                    .map(|&v| RescaleWitness::compute(v, 0, self.shape.range_bits))
                    .collect()
            });
            let bounded: Vec<Wire<Fr>> = chips
                .rescale
                .rescale(layouter, &outputs, 0, true, rows.as_deref())?
                .into_iter()
                .map(|r| r.y)
                .collect();
            let h = hash_cells(layouter, &bounded, |w| w.output_hash.as_ref())?;
            layouter.constrain_instance(h.cell, config.instance, first_output);
        } else {
            for (j, wire) in outputs.iter().enumerate() {
                layouter.constrain_instance(wire.cell, config.instance, first_output + j);
            }
        }
        // a balanced order the checks did not use up: the plan counted other checks than
        // synthesis laid out
        if chips
            .freivalds_order
            .as_ref()
            .is_some_and(|o| !o.is_empty())
        {
            return Err(Error::Synthesis);
        }
        // every first-phase cell is assigned: commit them, draw ρ, then the Freivalds
        // accumulators
        if !chips.freivalds.is_empty() {
            layouter.next_phase();
            for f in &mut chips.freivalds {
                f.finish(layouter)?;
            }
        }
        Ok(())
    }
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitShape;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: None,
            ..self.clone()
        }
    }
    fn params(&self) -> CircuitShape {
        self.shape
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ModelConfig {
        configure(meta, shape)
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        configure(meta, CircuitShape::default())
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        self.lay_out(config, &mut layouter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weight link reads a weight column's commitment at its column index: every bank's
    /// weight columns come before the first second-phase accumulator, with one bank or
    /// several.
    #[test]
    fn weight_columns_lead_the_second_phase_with_any_number_of_freivalds_banks() {
        let config = |shape: CircuitShape| {
            let mut cs = ConstraintSystem::<Fr>::default();
            let c = configure(&mut cs, shape);
            (c.weight_columns_lead(&cs), c)
        };
        let private = CircuitShape {
            private_weights: true,
            freivalds: 4,
            dense: false,
            ..CircuitShape::default()
        };
        for banks in [1, 2, 3, 4] {
            for advice_weights in [false, true] {
                let (lead, c) = config(CircuitShape {
                    freivalds_banks: banks,
                    weight_offset: advice_weights,
                    freivalds_advice_weights: advice_weights,
                    ..private
                });
                assert!(lead, "{banks} banks");
                assert_eq!(c.weight_columns().len(), 4 * banks);
            }
            // advice-only weights: each bank's power column is second-phase, after every
            // weight column
            let mut cs = ConstraintSystem::<Fr>::default();
            let c = configure(
                &mut cs,
                CircuitShape {
                    freivalds_banks: banks,
                    weight_offset: true,
                    freivalds_advice_weights: true,
                    ..private
                },
            );
            let phases = cs.advice_column_phase();
            let last_weight = c.weight_columns().iter().map(|w| w.index()).max();
            let second: Vec<usize> = (0..phases.len()).filter(|&i| phases[i] > 0).collect();
            // an accumulator and a power column a bank
            assert_eq!(second.len(), 2 * banks);
            assert!(second.iter().all(|&i| Some(i) > last_weight));
            let mut old = ConstraintSystem::<Fr>::default();
            let _ = configure(
                &mut old,
                CircuitShape {
                    freivalds_banks: banks,
                    weight_offset: true,
                    ..private
                },
            );
            // no fixed weight columns, no row-kind column
            assert_eq!(
                cs.num_fixed_columns() + banks * (4 + 1),
                old.num_fixed_columns()
            );
        }
        assert!(
            config(CircuitShape {
                freivalds: 0,
                ..private
            })
            .0
        );
        // fixed weights: no weight columns, nothing to locate; their banks keep the order
        // they always had (x, acc bank by bank), so their verifying keys are unchanged
        let (lead, fixed) = config(CircuitShape {
            private_weights: false,
            freivalds_banks: 2,
            ..private
        });
        assert!(lead && fixed.weight_columns().is_empty());
        assert!(fixed.freivalds[0].acc.index() < fixed.freivalds[1].x.index());
        // any second-phase column before a weight column is seen, whichever chip made it
        let mut cs = ConstraintSystem::<Fr>::default();
        let _ = cs.advice_column();
        let _ = cs.advice_column_in(halo2_proofs::plonk::SecondPhase);
        let c = configure(&mut cs, private);
        assert!(!c.weight_columns_lead(&cs));
    }

    /// One private bank lays out its columns as before banks were allowed with private
    /// weights (x, the weight columns, then acc): those builds keep their verifying keys.
    #[test]
    fn one_private_bank_keeps_its_column_order() {
        let mut cs = ConstraintSystem::<Fr>::default();
        let c = configure(
            &mut cs,
            CircuitShape {
                private_weights: true,
                freivalds: 4,
                ..CircuitShape::default()
            },
        );
        let f = &c.freivalds[0];
        let ws: Vec<usize> = f.w.advice().iter().map(|c| c.index()).collect();
        assert_eq!(ws, (f.x.index() + 1..f.x.index() + 5).collect::<Vec<_>>());
        assert_eq!(f.acc.index(), f.x.index() + 5);
    }

    #[test]
    fn one_limb_shapes_serialize_as_before_two_limb_remainders() {
        // Commitments digest the settings' JSON: a one-limb shape must not gain a field.
        let one = CircuitShape::default();
        let json = serde_json::to_string(&one).expect("json");
        assert_eq!(json, r#"{"lanes":1,"range_bits":8,"relu_bits":8}"#);
        assert_eq!(
            serde_json::from_str::<CircuitShape>(&json).expect("parse"),
            one
        );
        let two = CircuitShape {
            remainder_limbs: 2,
            ..one
        };
        let json = serde_json::to_string(&two).expect("json");
        assert!(json.contains(r#""remainder_limbs":2"#));
        assert_eq!(
            serde_json::from_str::<CircuitShape>(&json).expect("parse"),
            two
        );
    }

    /// The constraint-system descriptions of shapes made before chips could share the rescale
    /// chip's columns are unchanged (the verifying key pins the description, so commitments
    /// made before keep verifying): Keccak-256 of `cs.pinned()`'s text, recorded at 1f1e81c.
    #[test]
    fn shapes_from_before_chip_placement_keep_their_constraint_system() {
        use sha3::{Digest, Keccak256};
        let base = CircuitShape::default();
        let shapes = [
            ("default", base),
            (
                "funcs",
                CircuitShape {
                    funcs: true,
                    ..base
                },
            ),
            (
                "products",
                CircuitShape {
                    products: true,
                    ..base
                },
            ),
            (
                "everything",
                CircuitShape {
                    lanes: 3,
                    remainder_limbs: 2,
                    funcs: true,
                    products: true,
                    freivalds: 8,
                    ..base
                },
            ),
            (
                "private weights and hashed input",
                CircuitShape {
                    funcs: true,
                    private_weights: true,
                    private_input: true,
                    hashed_input: true,
                    shared_hash_columns: true,
                    freivalds: 4,
                    ..base
                },
            ),
        ];
        let recorded = [
            "9eddc05dd8390d9e84db7d17c9f6e9d92f7019ff1c1dc8e50997ccdf17536fc3",
            "ef0cb890ff1e1424ae63b92b4dac39187dc47a8b217158200a624f676d562120",
            "9bc04dfc0c732d149c695e7ff8a0185c3d7f17655081721d040b79c1bb2a54e0",
            "e6b43a23680101410084951399d2a3d6b7a37849636f6ebf57564996c60b565e",
            "a2a4e36e605d6e426b411479a40eadf5e20cbd33a846c28d306f9164378e02b8",
        ];
        for ((name, shape), want) in shapes.into_iter().zip(recorded) {
            let mut cs = ConstraintSystem::<Fr>::default();
            configure(&mut cs, shape);
            let d = Keccak256::digest(format!("{:?}", cs.pinned()).as_bytes());
            let got: String = d.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, want, "{name}: the constraint system changed");
        }
    }
}
