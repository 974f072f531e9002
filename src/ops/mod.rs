//! The core ops: what the float graph and the fixed-point model are made of (DESIGN §9).
//!
//! ONNX ops are many; provable circuits need few. The load stage (`crate::onnx::ops`, one file
//! per ONNX op family) lowers every ONNX node into these core ops, and each core op is one file
//! here implementing every later stage:
//!
//! | core op | float semantics | circuit |
//! |---|---|---|
//! | [`linear::Linear`] | `y_j = b_j + Σ w·x` over any elements of any inputs (Gemm, Conv, pooling sums, Add/Sub, BatchNorm, constants) | dense chip per group of outputs sharing their inputs, then rescale (+ fused ReLU) |
//! | [`relu::Relu`] | `max(x, 0)` | rescale chip at shift 0 (range limbs + sign table) |
//! | [`mul::Mul`] | `y_j = x[a_j]·x[b_j]` (Mul of two tensors, Square, small integer Pow) | product chip, then rescale |
//! | [`func::Func`] | `y = f(x)` for a registry function ([`funcs`]: sigmoid, tanh, exp, log, GELU, …) | function chip (piecewise-linear lookup), then rescale |
//! | [`argmax::ArgMax`] | the first maximum's index (`compile --prove-argmax`) | a proven max, a one-hot selector, comparisons |
//! | [`max::Max`] | max (or min) over a window of elements | per step `d = ±(a − m)`, `r = ReLU(d)`, `m' = m ± r` |
//! | [`gather::Gather`] | every output element is an input element or a constant (Reshape, Transpose, Slice, Concat, Pad, …) | copy constraints only (constants as fixed bias cells) |
//!
//! Each file holds the float op (load → float eval → quantize) and the fixed-point op (witness,
//! plan cost, synthesis). The stages iterate the graph and call [`FloatOp`] / [`QuantOp`]
//! methods; the only matches on the op kind are the dispatch below.

pub mod argmax;
pub mod func;
pub mod funcs;
pub mod gather;
pub mod linear;
pub mod max;
pub mod mul;
pub mod relu;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub mod testutil;

use crate::graph::{Graph, Inputs, Node, Ref};
use crate::quantize::QuantizeError;
use crate::witness::WitnessError;
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    freivalds::FreivaldsChip,
    func::{FuncChip, FuncWitness},
    matmul::{DenseWitness, MatMulChip},
    product::ProductChip,
    rescale::{RescaleChip, RescaleWitness},
    Wire,
};

/// The float graph the load stage produces.
pub type FloatGraph = Graph<FloatOp>;

/// A float core op.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatOp {
    /// See [`linear::Linear`].
    Linear(linear::Linear<f64>),
    /// See [`relu::Relu`].
    Relu(relu::Relu),
    /// See [`max::Max`].
    Max(max::Max),
    /// See [`mul::Mul`].
    Mul(mul::Mul),
    /// See [`func::Func`].
    Func(func::Func),
    /// See [`argmax::ArgMax`].
    ArgMax(argmax::ArgMax),
    /// See [`gather::Gather`].
    Gather(gather::Gather<f64>),
}

/// A fixed-point core op (serialized in model.json with an `"op"` tag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op")]
pub enum QuantOp {
    /// See [`linear::QuantLinear`].
    Linear(linear::QuantLinear),
    /// See [`relu::Relu`].
    Relu(relu::Relu),
    /// See [`max::Max`].
    Max(max::Max),
    /// See [`mul::QuantMul`].
    Mul(mul::QuantMul),
    /// See [`func::QuantFunc`].
    Func(func::QuantFunc),
    /// See [`argmax::ArgMax`].
    ArgMax(argmax::ArgMax),
    /// See [`gather::Gather`].
    Gather(gather::Gather<i64>),
}

/// What quantizing one node knows.
#[derive(Clone, Debug)]
pub struct QuantCtx<'a> {
    /// The node name.
    pub name: &'a str,
    /// Scale of each input slot.
    pub in_scales: Vec<u32>,
    /// Scale chosen for the output.
    pub out_scale: u32,
    /// Table bits `B` (activations have `2B` signed bits).
    pub table_bits: u32,
    /// Whether the output must be bounded in the circuit (false only for values that go
    /// straight to the public output, which the verifier bounds to `output_bits`).
    pub bounded: bool,
    /// Signed bits of the unbounded public outputs.
    pub output_bits: u32,
    /// Calibrated `(min, max)` of each input slot (`None` without calibration data).
    pub in_range: Option<Vec<(f64, f64)>>,
    /// Table rows a function-table variant may use.
    pub func_budget: usize,
}

impl QuantCtx<'_> {
    /// Signed bits every (bounded) activation fits.
    pub fn activation_bits(&self) -> u32 {
        2 * self.table_bits
    }
}

/// Float-side behaviour of a core op.
pub trait FloatOpImpl {
    /// Every element reference the op makes (checked against input shapes).
    fn refs(&self) -> Vec<Ref>;
    /// Float evaluation (f64), one value per output element.
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64>;
    /// Whether the output must share its inputs' scale (no rescale of its own).
    fn keeps_scale(&self) -> bool;
    /// How much larger than its inputs' magnitude the op's intermediate values get (max needs
    /// room for differences: 2). Quantize leaves that headroom in the inputs' scale.
    fn input_range_factor(&self) -> f64 {
        1.0
    }
    /// Whether the op's own output must be range-bounded in the circuit whoever reads it (a
    /// fused ReLU is only sound on bounded rows: the sign table gives it).
    fn output_needs_bound(&self) -> bool {
        false
    }
    /// A scale the output must have whatever the data (an index is an integer: scale 0).
    fn fixed_output_scale(&self) -> Option<u32> {
        None
    }
    /// The fixed-point op.
    fn quantize(&self, ctx: &QuantCtx) -> Result<QuantOp, QuantizeError>;
}

/// Rows a node takes in each column group (plan stage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Rows of the dense chip's columns.
    pub dense_rows: usize,
    /// Rows of the rescale chip's columns.
    pub rescale_rows: usize,
    /// Rows of the product chip's columns.
    pub product_rows: usize,
    /// Rows of the function chip's columns.
    pub func_rows: usize,
    /// Rows of the Freivalds chip's columns.
    pub freivalds_rows: usize,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Self) {
        self.dense_rows += o.dense_rows;
        self.rescale_rows += o.rescale_rows;
        self.product_rows += o.product_rows;
        self.func_rows += o.func_rows;
        self.freivalds_rows += o.freivalds_rows;
    }
}

/// The chip witnesses of one node, in the order synthesis consumes them: the `i`-th dense
/// call takes `dense[i]`, the `j`-th rescale call `rescale[j]`. Tests tamper these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeWitness {
    /// Dense-chip running sums, one per dense call.
    pub dense: Vec<DenseWitness>,
    /// Rescale-chip rows, one list per rescale call.
    pub rescale: Vec<Vec<RescaleWitness>>,
    /// Product-chip outputs, one list per product call.
    pub product: Vec<Vec<i64>>,
    /// Function-chip rows, one list per lookup call.
    pub func: Vec<Vec<FuncWitness>>,
    /// Claimed outputs of each group the Freivalds chip checks, one list per check.
    pub freivalds: Vec<Vec<i64>>,
}

/// Hands the node's precomputed chip witnesses to synthesis in order.
pub struct WitnessCursor<'a> {
    w: Option<&'a NodeWitness>,
    dense: usize,
    rescale: usize,
    product: usize,
    func: usize,
    freivalds: usize,
}

impl<'a> WitnessCursor<'a> {
    /// A cursor over `w` (`None` at key generation).
    pub fn new(w: Option<&'a NodeWitness>) -> Self {
        Self {
            w,
            dense: 0,
            rescale: 0,
            product: 0,
            func: 0,
            freivalds: 0,
        }
    }
    /// The next dense witness (`Ok(None)` at key generation).
    pub fn dense(&mut self) -> Result<Option<&'a DenseWitness>, Error> {
        let Some(w) = self.w else { return Ok(None) };
        self.dense += 1;
        w.dense
            .get(self.dense - 1)
            .map(Some)
            .ok_or(Error::Synthesis)
    }
    /// The next rescale witness list.
    pub fn rescale(&mut self) -> Result<Option<&'a [RescaleWitness]>, Error> {
        let Some(w) = self.w else { return Ok(None) };
        self.rescale += 1;
        w.rescale
            .get(self.rescale - 1)
            .map(|v| Some(v.as_slice()))
            .ok_or(Error::Synthesis)
    }
}

impl<'a> WitnessCursor<'a> {
    /// The next function-chip list.
    pub fn func(&mut self) -> Result<Option<&'a [FuncWitness]>, Error> {
        let Some(w) = self.w else { return Ok(None) };
        self.func += 1;
        w.func
            .get(self.func - 1)
            .map(|v| Some(v.as_slice()))
            .ok_or(Error::Synthesis)
    }
    /// The next product list.
    pub fn product(&mut self) -> Result<Option<&'a [i64]>, Error> {
        let Some(w) = self.w else { return Ok(None) };
        self.product += 1;
        w.product
            .get(self.product - 1)
            .map(|v| Some(v.as_slice()))
            .ok_or(Error::Synthesis)
    }
    /// The next Freivalds-checked outputs.
    pub fn freivalds(&mut self) -> Result<Option<&'a [i64]>, Error> {
        let Some(w) = self.w else { return Ok(None) };
        self.freivalds += 1;
        w.freivalds
            .get(self.freivalds - 1)
            .map(|v| Some(v.as_slice()))
            .ok_or(Error::Synthesis)
    }
}

/// The chips a node lays out with.
pub struct Chips {
    /// The dense chip (row cursor inside), when the circuit has one
    /// ([`crate::circuit::CircuitShape::dense`]).
    pub dense: Option<MatMulChip<Fr>>,
    /// The rescale chip (row cursor inside).
    pub rescale: RescaleChip<Fr>,
    /// The product chip, when the circuit has one ([`crate::circuit::CircuitShape::products`]).
    pub product: Option<ProductChip<Fr>>,
    /// The function chip, when the circuit has one ([`crate::circuit::CircuitShape::funcs`]).
    pub func: Option<FuncChip<Fr>>,
    /// The Freivalds chips (none, or [`crate::circuit::CircuitShape::freivalds_banks`]).
    pub freivalds: Vec<FreivaldsChip<Fr>>,
    /// The bank of every Freivalds check in synthesis order, when the plan balances them
    /// ([`crate::circuit::CircuitShape::freivalds_balance`]); otherwise each check goes to the
    /// bank with the fewest rows.
    pub freivalds_order: Option<std::collections::VecDeque<usize>>,
    /// Remainder table bits `R`.
    pub range_bits: u32,
}

impl Chips {
    /// The dense chip (`Error::Synthesis` when the circuit has none: the plan leaves it out
    /// only when no node reports dense rows).
    pub fn dense(&mut self) -> Result<&mut MatMulChip<Fr>, Error> {
        self.dense.as_mut().ok_or(Error::Synthesis)
    }
}

/// What the fixed-point stages know about a node.
pub struct NodeCtx<'a> {
    /// The node.
    pub node: &'a Node<QuantOp>,
    /// Its output scale.
    pub scale: u32,
    /// Scales of its inputs.
    pub in_scales: Vec<u32>,
    /// Signed bits of bounded activations.
    pub activation_bits: u32,
    /// Signed bits of unbounded (public output) values.
    pub output_bits: u32,
    /// Remainder table bits `R`.
    pub range_bits: u32,
    /// Dense lanes.
    pub lanes: usize,
    /// Weight columns of the Freivalds chip (`K`; 0: the circuit has none).
    pub freivalds: usize,
    /// Outputs per Freivalds weight cell the circuit allows (`P`, at most: a layer takes fewer
    /// where its bounds need wider separations).
    pub freivalds_pack: usize,
    /// Whether consecutive small groups are checked together
    /// ([`crate::circuit::CircuitShape::freivalds_merge`]).
    pub freivalds_merge: bool,
    /// Into how many checks (at most) a check of one group with several blocks is split, so
    /// that the banks can share it (1: none; the banks with
    /// [`crate::circuit::CircuitShape::freivalds_split`]; `usize::MAX`, one check a block,
    /// with [`crate::circuit::CircuitShape::freivalds_balance`]).
    pub freivalds_split: usize,
    /// Limbs of `R` bits the rescale chip checks remainders in (1 or 2).
    pub remainder_limbs: u32,
    /// The product chip sits beside the rescale chip
    /// ([`crate::circuit::CircuitShape::product_beside_rescale`]).
    pub product_beside_rescale: bool,
}

/// Fixed-point behaviour of a core op.
pub trait QuantOpImpl {
    /// Every element reference the op makes.
    fn refs(&self) -> Vec<Ref>;
    /// The fixed-point reference (bit-exact with the circuit).
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError>;
    /// The chip witnesses, from the node's input values.
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError>;
    /// Rows the node takes.
    fn cost(&self, ctx: &NodeCtx) -> Cost;
    /// Rows of each check the node hands the Freivalds chips, in synthesis order (each goes
    /// to the bank with the fewest rows, or the one [`crate::plan::bank_order`] gives it: the
    /// plan replays that).
    fn freivalds_groups(&self, _ctx: &NodeCtx) -> Vec<usize> {
        Vec::new()
    }
    /// Outputs per Freivalds weight cell the node's checks take (1 without any).
    fn freivalds_pack(&self, _ctx: &NodeCtx) -> usize {
        1
    }
    /// Whether some Freivalds check of the node takes more than one group
    /// ([`crate::circuit::CircuitShape::freivalds_merge`] changes its layout).
    fn freivalds_merges(&self, _ctx: &NodeCtx) -> bool {
        false
    }
    /// Whether some Freivalds check of the node is split between banks
    /// ([`crate::circuit::CircuitShape::freivalds_split`] changes its layout).
    fn freivalds_splits(&self, _ctx: &NodeCtx) -> bool {
        false
    }
    /// Largest rescale shift the node uses (sizes the remainder limbs).
    fn max_shift(&self) -> u32 {
        0
    }
    /// A one-line description for settings.json and the compile report.
    fn describe(&self) -> String;
}

/// Synthesis of a core op (generic over the layouter, so a separate trait).
pub trait Synthesize<L: Layouter<Fr>> {
    /// Assigns the node's cells and returns its output wires.
    fn synthesize(
        &self,
        ctx: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error>;
}

impl FloatOp {
    /// The op's implementation.
    pub fn imp(&self) -> &dyn FloatOpImpl {
        match self {
            FloatOp::Linear(o) => o,
            FloatOp::Relu(o) => o,
            FloatOp::Max(o) => o,
            FloatOp::Mul(o) => o,
            FloatOp::Func(o) => o,
            FloatOp::ArgMax(o) => o,
            FloatOp::Gather(o) => o,
        }
    }
}

impl QuantOp {
    /// The op's implementation.
    pub fn imp(&self) -> &dyn QuantOpImpl {
        match self {
            QuantOp::Linear(o) => o,
            QuantOp::Relu(o) => o,
            QuantOp::Max(o) => o,
            QuantOp::Mul(o) => o,
            QuantOp::Func(o) => o,
            QuantOp::ArgMax(o) => o,
            QuantOp::Gather(o) => o,
        }
    }
    /// The op's synthesis.
    pub fn synth<L: Layouter<Fr>>(&self) -> &dyn Synthesize<L> {
        match self {
            QuantOp::Linear(o) => o,
            QuantOp::Relu(o) => o,
            QuantOp::Max(o) => o,
            QuantOp::Mul(o) => o,
            QuantOp::Func(o) => o,
            QuantOp::ArgMax(o) => o,
            QuantOp::Gather(o) => o,
        }
    }
}

/// Evaluates the float graph on `inputs` (one flat vector per graph input); returns every
/// tensor's values.
pub fn eval_float(g: &FloatGraph, inputs: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut values: Vec<Vec<f64>> = inputs.to_vec();
    for n in &g.nodes {
        let x = Inputs(n.inputs.iter().map(|&t| values[t].as_slice()).collect());
        let mut out = n.op.imp().eval(&x);
        out.resize(n.len(), 0.0);
        values.push(out);
    }
    values
}

/// The float graph's outputs on `inputs`, flattened in output order.
pub fn forward(g: &FloatGraph, inputs: &[Vec<f64>]) -> Vec<f64> {
    let values = eval_float(g, inputs);
    g.outputs
        .iter()
        .flat_map(|&t| values[t].iter().copied())
        .collect()
}

/// Splits a flat vector of all inputs into one vector per graph input.
pub fn split_inputs<N, T: Clone>(g: &Graph<N>, flat: &[T]) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(g.inputs.len());
    let mut at = 0;
    for t in 0..g.inputs.len() {
        let n = g.len(t);
        out.push(flat.get(at..at + n).map(<[T]>::to_vec).unwrap_or_default());
        at += n;
    }
    out
}
