//! The one MockProver harness every chip test uses, and the small circuit the chip tests drive:
//! public input → dense layer ([`MatMulChip`]) → rescale + ReLU lookup ([`RescaleChip`]) →
//! public output. Tests build an honest [`LayerCircuit`], tamper one witness cell, and expect
//! the named gate or lookup to fail:
//!
//! ```ignore
//! let mut c = LayerCircuit::honest(shape, weights, bias, d, input);
//! c.rescale[0].a += 1;
//! MockRun::new().k(9).expect_failure("relu table").run(&c);
//! ```

use crate::{
    fixed::to_field,
    load_instance,
    matmul::{DenseWitness, MatMulChip, MatMulConfig, MatMulInstructions},
    range::RangeTable,
    relu::ReluTable,
    rescale::{RescaleChip, RescaleConfig, RescaleInstructions, RescaleWitness},
    Wire,
};
use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    dev::MockProver,
    halo2curves::bn256::Fr,
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Instance},
};

/// Builder around [`MockProver`]: `.k(..).instances(..).expect_satisfied(..)` / `.expect_failure(name)`, then `.run(&circuit)`.
#[derive(Clone, Debug)]
pub struct MockRun {
    k: u32,
    instances: Option<Vec<Vec<Fr>>>,
    satisfied: bool,
    failure: Option<String>,
}

impl Default for MockRun {
    fn default() -> Self {
        Self {
            k: 10,
            instances: None,
            satisfied: true,
            failure: None,
        }
    }
}

/// Circuits that know their own public instances.
pub trait HasInstances {
    /// The instance columns' values.
    fn instances(&self) -> Vec<Vec<Fr>>;
}

impl MockRun {
    /// A harness with `k = 10`, expecting satisfaction.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `k`.
    pub fn k(mut self, k: u32) -> Self {
        self.k = k;
        self
    }
    /// Overrides the circuit's own instances.
    pub fn instances(mut self, instances: Vec<Vec<Fr>>) -> Self {
        self.instances = Some(instances);
        self
    }
    /// Expects the constraints to hold (`true`) or not.
    pub fn expect_satisfied(mut self, satisfied: bool) -> Self {
        self.satisfied = satisfied;
        self
    }
    /// Expects a failure whose description names `what` (a gate or lookup name).
    pub fn expect_failure(mut self, what: &str) -> Self {
        self.satisfied = false;
        self.failure = Some(what.to_string());
        self
    }

    /// Runs MockProver and panics (this is a test harness) when the outcome differs.
    pub fn run<C: Circuit<Fr> + HasInstances>(self, circuit: &C) {
        let instances = self
            .instances
            .clone()
            .unwrap_or_else(|| circuit.instances());
        let prover = match MockProver::run(self.k, circuit, instances) {
            Ok(p) => p,
            Err(e) => panic!("MockProver could not run at k = {}: {e:?}", self.k),
        };
        match (prover.verify(), self.satisfied) {
            (Ok(()), true) => {}
            (Ok(()), false) => panic!(
                "expected a failure ({:?}) but the circuit is satisfied",
                self.failure
            ),
            (Err(fs), true) => panic!(
                "expected satisfaction, got {} failures: {:#?}",
                fs.len(),
                &fs[..fs.len().min(5)]
            ),
            (Err(fs), false) => {
                if let Some(want) = &self.failure {
                    let texts: Vec<String> = fs.iter().map(|f| format!("{f} {f:?}")).collect();
                    assert!(
                        texts.iter().any(|t| t.contains(want.as_str())),
                        "expected a failure naming {want:?}, got: {:#?}",
                        &texts[..texts.len().min(5)]
                    );
                }
            }
        }
    }
}

/// Shape parameters of [`LayerCircuit`].
#[derive(Clone, Copy, Debug)]
pub struct LayerShape {
    /// Dense lanes.
    pub lanes: usize,
    /// Remainder table bits `R`.
    pub range_bits: u32,
    /// ReLU table bits `B`.
    pub relu_bits: u32,
    /// Remainder limbs (1: shifts up to `R`; 2: up to `2R`).
    pub remainder_limbs: u32,
    /// Weights in advice columns instead of fixed ones.
    pub private_weights: bool,
    /// A tall rescale chip ([`RescaleConfig::configure_with`]).
    pub tall_rescale: bool,
    /// Private parameter cells offset by `2^62` ([`crate::matmul::WeightColumns::Private`]).
    pub weight_offset: bool,
}

impl Default for LayerShape {
    fn default() -> Self {
        Self {
            lanes: 2,
            range_bits: 6,
            relu_bits: 8,
            remainder_limbs: 1,
            private_weights: false,
            tall_rescale: false,
            weight_offset: false,
        }
    }
}

/// One dense layer, rescale and ReLU with public input and output.
#[derive(Clone, Debug, Default)]
pub struct LayerCircuit {
    /// Shape.
    pub shape: LayerShape,
    /// Weights `[n_out][n_in]`.
    pub weights: Vec<Vec<i64>>,
    /// Bias `[n_out]`.
    pub bias: Vec<i64>,
    /// Rescale shift.
    pub d: u32,
    /// Public input.
    pub input: Vec<i64>,
    /// Dense witness (tamper freely).
    pub dense: Option<DenseWitness>,
    /// Rescale witness (tamper freely).
    pub rescale: Vec<RescaleWitness>,
    /// Expose `a` (ReLU) instead of `y` as the public output.
    pub relu_out: bool,
    /// Bound `y` by the ReLU table (`false`: the public output is bounded by the verifier).
    pub bounded: bool,
}

impl LayerCircuit {
    /// The honest circuit; panics on inconsistent test data.
    pub fn honest(
        shape: LayerShape,
        weights: Vec<Vec<i64>>,
        bias: Vec<i64>,
        d: u32,
        input: Vec<i64>,
    ) -> Self {
        let dense = DenseWitness::compute(shape.lanes, &weights, &bias, &input)
            .expect("consistent test data");
        let rescale = dense
            .outputs(bias.len())
            .into_iter()
            .map(|z| RescaleWitness::compute(z, d, shape.range_bits))
            .collect();
        Self {
            shape,
            weights,
            bias,
            d,
            input,
            dense: Some(dense),
            rescale,
            relu_out: false,
            bounded: true,
        }
    }
}

impl HasInstances for LayerCircuit {
    fn instances(&self) -> Vec<Vec<Fr>> {
        let out = self
            .rescale
            .iter()
            .map(|w| if self.relu_out { w.a } else { w.y });
        vec![self
            .input
            .iter()
            .copied()
            .chain(out)
            .map(to_field)
            .collect()]
    }
}

impl Circuit<Fr> for LayerCircuit {
    type Config = (MatMulConfig, RescaleConfig, Column<Instance>);
    type FloorPlanner = SimpleFloorPlanner;
    type Params = LayerShape;

    fn without_witnesses(&self) -> Self {
        Self {
            dense: None,
            rescale: vec![],
            ..self.clone()
        }
    }
    fn params(&self) -> LayerShape {
        self.shape
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, p: LayerShape) -> Self::Config {
        let range = RangeTable::configure(meta, p.range_bits);
        let relu = ReluTable::configure(meta, p.relu_bits);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        (
            {
                let mut d = MatMulConfig::configure(meta, p.lanes, p.private_weights);
                d.w = d.w.with_offset(p.weight_offset);
                d
            },
            RescaleConfig::configure_with(meta, range, relu, p.remainder_limbs, p.tall_rescale),
            instance,
        )
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        Self::configure_with_params(meta, LayerShape::default())
    }

    fn synthesize(
        &self,
        (mm, rs, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        rs.range.load(&mut layouter)?;
        rs.relu.load(&mut layouter)?;
        let x = load_instance(&mut layouter, instance, rs.z, self.input.len())?;
        let acc = MatMulChip::construct(mm, 0).dense(
            &mut layouter,
            &x,
            &self.weights,
            &self.bias,
            self.dense.as_ref(),
        )?;
        let witness = self.dense.as_ref().map(|_| self.rescale.as_slice());
        let out = RescaleChip::construct(rs, x.len()).rescale(
            &mut layouter,
            &acc,
            self.d,
            self.bounded,
            witness,
        )?;
        for (j, r) in out.iter().enumerate() {
            let w = if self.relu_out {
                r.relu.ok_or(Error::Synthesis)?
            } else {
                r.y
            };
            layouter.constrain_instance(w.cell, instance, self.input.len() + j);
        }
        Ok(())
    }
}

/// Element-wise products of public pairs: instance `[a…, b…, c…]`.
#[derive(Clone, Debug, Default)]
pub struct ProductCircuit {
    /// First factors.
    pub a: Vec<i64>,
    /// Second factors.
    pub b: Vec<i64>,
    /// Scale exponent `e` (`c = 2^e·a·b`).
    pub e: u32,
    /// Claimed products (tamper freely); the public output.
    pub c: Vec<i64>,
    /// The chip in a rescale chip's columns
    /// ([`crate::product::ProductConfig::configure_in_rescale`]).
    pub in_rescale: bool,
}

impl ProductCircuit {
    /// The honest circuit.
    pub fn honest(a: Vec<i64>, b: Vec<i64>, e: u32) -> Self {
        let pairs: Vec<(i64, i64)> = a.iter().copied().zip(b.iter().copied()).collect();
        let c = crate::product::products(&pairs, e).expect("small test data");
        Self {
            a,
            b,
            e,
            c,
            in_rescale: false,
        }
    }

    /// The same circuit with the chip in a rescale chip's columns (or not).
    pub fn in_rescale(self, in_rescale: bool) -> Self {
        Self { in_rescale, ..self }
    }
}

impl HasInstances for ProductCircuit {
    fn instances(&self) -> Vec<Vec<Fr>> {
        vec![self
            .a
            .iter()
            .chain(&self.b)
            .chain(&self.c)
            .copied()
            .map(to_field)
            .collect()]
    }
}

impl Circuit<Fr> for ProductCircuit {
    type Config = (
        crate::product::ProductConfig,
        Option<crate::rescale::RescaleConfig>,
        Column<Advice>,
        Column<Instance>,
    );
    type FloorPlanner = SimpleFloorPlanner;
    type Params = bool;

    fn without_witnesses(&self) -> Self {
        Self {
            c: vec![],
            ..self.clone()
        }
    }
    fn params(&self) -> bool {
        self.in_rescale
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, in_rescale: bool) -> Self::Config {
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let x = meta.advice_column();
        meta.enable_equality(x);
        if in_rescale {
            let range = RangeTable::configure(meta, 3);
            let relu = crate::relu::ReluTable::configure(meta, 3);
            let rescale = crate::rescale::RescaleConfig::configure(meta, range, relu, 2);
            let product = crate::product::ProductConfig::configure_in_rescale(meta, &rescale);
            (product, Some(rescale), x, instance)
        } else {
            (
                crate::product::ProductConfig::configure(meta),
                None,
                x,
                instance,
            )
        }
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        Self::configure_with_params(meta, false)
    }
    fn synthesize(
        &self,
        (config, rescale, x, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        use crate::product::{ProductChip, ProductInstructions};
        if let Some(r) = &rescale {
            r.range.load(&mut layouter)?;
            r.relu.load(&mut layouter)?;
        }
        let n = self.a.len();
        let inputs = load_instance(&mut layouter, instance, x, 2 * n)?;
        let pairs: Vec<_> = (0..n).map(|i| (inputs[i], inputs[n + i])).collect();
        let witness = (!self.c.is_empty()).then_some(self.c.as_slice());
        let c =
            ProductChip::construct(config, 0).products(&mut layouter, &pairs, self.e, witness)?;
        for (j, w) in c.iter().enumerate() {
            layouter.constrain_instance(w.cell, instance, 2 * n + j);
        }
        Ok(())
    }
}

/// Element-wise products of public pairs, each rescaled at once (a model's `Mul`): instance
/// `[a…, b…, y…]`, the product chip in its own columns or beside the rescale chip
/// ([`crate::product::ProductConfig::configure_beside_rescale`]), the rescale chip one row or
/// tall. Range and sign tables of 3 bits, two remainder limbs (activations of 6 signed bits).
#[derive(Clone, Debug, Default)]
pub struct ProductRescaleCircuit {
    /// First factors.
    pub a: Vec<i64>,
    /// Second factors.
    pub b: Vec<i64>,
    /// Scale exponent `e` (`c = 2^e·a·b`).
    pub e: u32,
    /// Rescale shift `d`.
    pub d: u32,
    /// Claimed products (tamper freely).
    pub c: Vec<i64>,
    /// Rescale witnesses (tamper freely); `y` is the public output.
    pub rescale: Vec<RescaleWitness>,
    /// The product chip beside the rescale chip (else in columns of its own).
    pub beside: bool,
    /// The rescale chip is tall.
    pub tall: bool,
}

impl ProductRescaleCircuit {
    /// Table bits of the test circuit.
    pub const BITS: u32 = 3;

    /// The honest circuit.
    pub fn honest(a: Vec<i64>, b: Vec<i64>, e: u32, d: u32) -> Self {
        let pairs: Vec<(i64, i64)> = a.iter().copied().zip(b.iter().copied()).collect();
        let c = crate::product::products(&pairs, e).expect("small test data");
        let rescale = c
            .iter()
            .map(|&z| RescaleWitness::compute(z, d, Self::BITS))
            .collect();
        Self {
            a,
            b,
            e,
            d,
            c,
            rescale,
            beside: false,
            tall: false,
        }
    }

    /// The layout: beside the rescale chip or not, which is tall or not.
    pub fn layout(self, beside: bool, tall: bool) -> Self {
        Self {
            beside,
            tall,
            ..self
        }
    }
}

impl HasInstances for ProductRescaleCircuit {
    fn instances(&self) -> Vec<Vec<Fr>> {
        vec![self
            .a
            .iter()
            .chain(&self.b)
            .copied()
            .chain(self.rescale.iter().map(|r| r.y))
            .map(to_field)
            .collect()]
    }
}

impl Circuit<Fr> for ProductRescaleCircuit {
    type Config = (
        crate::product::ProductConfig,
        RescaleConfig,
        Column<Advice>,
        Column<Instance>,
    );
    type FloorPlanner = SimpleFloorPlanner;
    type Params = (bool, bool);

    fn without_witnesses(&self) -> Self {
        Self {
            c: vec![],
            rescale: vec![],
            ..self.clone()
        }
    }
    fn params(&self) -> (bool, bool) {
        (self.beside, self.tall)
    }
    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        (beside, tall): (bool, bool),
    ) -> Self::Config {
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let x = meta.advice_column();
        meta.enable_equality(x);
        let range = RangeTable::configure(meta, Self::BITS);
        let relu = ReluTable::configure(meta, Self::BITS);
        let rescale = RescaleConfig::configure_with(meta, range, relu, 2, tall);
        let product = if beside {
            crate::product::ProductConfig::configure_beside_rescale(meta, &rescale)
        } else {
            crate::product::ProductConfig::configure(meta)
        };
        (product, rescale, x, instance)
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        Self::configure_with_params(meta, (false, false))
    }
    fn synthesize(
        &self,
        (config, rescale, x, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        use crate::product::ProductChip;
        rescale.range.load(&mut layouter)?;
        rescale.relu.load(&mut layouter)?;
        let n = self.a.len();
        let inputs = load_instance(&mut layouter, instance, x, 2 * n)?;
        let pairs: Vec<_> = (0..n).map(|i| (inputs[i], inputs[n + i])).collect();
        let witness = (!self.c.is_empty()).then_some(self.c.as_slice());
        let rescaled = (!self.rescale.is_empty()).then_some(self.rescale.as_slice());
        let mut rescale = RescaleChip::construct(rescale, 0);
        let out = ProductChip::construct(config, 0).products_rescaled(
            &mut layouter,
            &mut rescale,
            &pairs,
            (self.e, self.d, true),
            witness,
            rescaled,
        )?;
        for (j, r) in out.iter().enumerate() {
            layouter.constrain_instance(r.y.cell, instance, 2 * n + j);
        }
        Ok(())
    }
}

/// Piecewise-linear lookups of public inputs: instance `[x…, acc…]`.
#[derive(Clone, Debug, Default)]
pub struct FuncCircuit {
    /// Range-table bits `R`.
    pub range_bits: u32,
    /// The table.
    pub segments: Vec<crate::func::Segment>,
    /// Variant looked up.
    pub tag: u64,
    /// Inputs.
    pub x: Vec<i64>,
    /// Per-element witness (tamper freely); `acc` is the public output.
    pub witness: Vec<crate::func::FuncWitness>,
    /// The chip in a rescale chip's columns ([`crate::func::FuncConfig::configure_in_rescale`]).
    pub in_rescale: bool,
    /// That rescale chip is tall ([`crate::rescale::RescaleConfig::configure_with`]).
    pub tall: bool,
}

impl FuncCircuit {
    /// The honest circuit (every `x` must lie in a segment of `tag`).
    pub fn honest(
        range_bits: u32,
        segments: Vec<crate::func::Segment>,
        tag: u64,
        x: Vec<i64>,
    ) -> Self {
        let witness = x
            .iter()
            .map(|&v| {
                let s = segments
                    .iter()
                    .find(|s| s.tag == tag && s.contains(v))
                    .expect("x inside the table");
                crate::func::FuncWitness::compute(v, range_bits, s).expect("a valid segment")
            })
            .collect();
        Self {
            range_bits,
            segments,
            tag,
            x,
            witness,
            in_rescale: false,
            tall: false,
        }
    }

    /// The same circuit with the chip in a rescale chip's columns (or not).
    pub fn in_rescale(self, in_rescale: bool) -> Self {
        Self { in_rescale, ..self }
    }

    /// The same circuit with the chip in a tall rescale chip's columns.
    pub fn in_tall_rescale(self) -> Self {
        Self {
            in_rescale: true,
            tall: true,
            ..self
        }
    }
}

impl HasInstances for FuncCircuit {
    fn instances(&self) -> Vec<Vec<Fr>> {
        vec![self
            .x
            .iter()
            .copied()
            .chain(self.witness.iter().map(|w| w.acc))
            .map(to_field)
            .collect()]
    }
}

impl Circuit<Fr> for FuncCircuit {
    type Config = (
        crate::func::FuncConfig,
        Option<crate::rescale::RescaleConfig>,
        Column<Advice>,
        Column<Instance>,
    );
    type FloorPlanner = SimpleFloorPlanner;
    type Params = (u32, bool, bool);

    fn without_witnesses(&self) -> Self {
        Self {
            witness: vec![],
            ..self.clone()
        }
    }
    fn params(&self) -> (u32, bool, bool) {
        (self.range_bits, self.in_rescale, self.tall)
    }
    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        (range_bits, in_rescale, tall): (u32, bool, bool),
    ) -> Self::Config {
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let x = meta.advice_column();
        meta.enable_equality(x);
        let range = RangeTable::configure(meta, range_bits);
        let table = crate::func::FuncTable::configure(meta);
        if in_rescale {
            let relu = crate::relu::ReluTable::configure(meta, range_bits);
            let rescale = crate::rescale::RescaleConfig::configure_with(meta, range, relu, 2, tall);
            let func = crate::func::FuncConfig::configure_in_rescale(meta, &rescale, table);
            (func, Some(rescale), x, instance)
        } else {
            let func = crate::func::FuncConfig::configure(meta, range, table);
            (func, None, x, instance)
        }
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        Self::configure_with_params(meta, (4, false, false))
    }
    fn synthesize(
        &self,
        (config, rescale, x, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        use crate::func::{FuncChip, FuncInstructions};
        config.range.load(&mut layouter)?;
        if let Some(r) = &rescale {
            r.relu.load(&mut layouter)?;
        }
        config.load_table(&mut layouter, &self.segments)?;
        let n = self.x.len();
        let inputs = load_instance(&mut layouter, instance, x, n)?;
        let witness = (!self.witness.is_empty()).then_some(self.witness.as_slice());
        let acc = FuncChip::construct(config, 0).interpolate(
            &mut layouter,
            &inputs,
            self.tag,
            witness,
        )?;
        for (j, w) in acc.iter().enumerate() {
            layouter.constrain_instance(w.cell, instance, n + j);
        }
        Ok(())
    }
}

/// Packs public values and hashes them with a private salt: instance `[x…, hash]`.
#[derive(Clone, Debug)]
pub struct PoseidonCircuit {
    /// Permutation parameters.
    pub params: crate::poseidon::PoseidonParams<Fr>,
    /// Signed bits per packed value.
    pub bits: u32,
    /// Values packed (public).
    pub x: Vec<i64>,
    /// The salt (private), hashed first.
    pub salt: Fr,
    /// Packing accumulators (tamper freely; empty: computed).
    pub accs: Vec<Fr>,
    /// The sponge rows (tamper freely; empty: keygen).
    pub trace: Option<crate::poseidon::SpongeTrace<Fr>>,
    /// The public hash.
    pub hash: Fr,
    /// What the chip puts in a padding slot (0 when honest).
    pub padding: Fr,
    /// The packing in the sponge's `sq0`, `sq1` columns below its rows (the layout the model
    /// circuit uses with shared hash columns) instead of two columns of its own.
    pub stacked: bool,
}

impl PoseidonCircuit {
    /// The honest circuit.
    pub fn honest(
        params: crate::poseidon::PoseidonParams<Fr>,
        bits: u32,
        x: Vec<i64>,
        salt: Fr,
    ) -> Self {
        let k = (252 / bits as usize).max(1);
        let mut message = vec![salt];
        message.extend(x.chunks(k).map(|c| crate::poseidon::pack::<Fr>(c, bits)));
        let trace = params.trace(&message);
        let hash = trace.hash();
        Self {
            params,
            bits,
            x,
            salt,
            accs: vec![],
            trace: Some(trace),
            hash,
            padding: <Fr as halo2_proofs::halo2curves::ff::Field>::ZERO,
            stacked: false,
        }
    }
}

impl HasInstances for PoseidonCircuit {
    fn instances(&self) -> Vec<Vec<Fr>> {
        let mut v: Vec<Fr> = self.x.iter().map(|&x| to_field(x)).collect();
        v.push(self.hash);
        vec![v]
    }
}

impl Circuit<Fr> for PoseidonCircuit {
    type Config = (
        crate::poseidon::PoseidonConfig<Fr>,
        Column<Advice>,
        Column<Instance>,
    );
    type FloorPlanner = SimpleFloorPlanner;
    type Params = (crate::poseidon::PoseidonParams<Fr>, u32, bool);

    fn without_witnesses(&self) -> Self {
        Self {
            trace: None,
            accs: vec![],
            ..self.clone()
        }
    }
    fn params(&self) -> Self::Params {
        (self.params.clone(), self.bits, self.stacked)
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, p: Self::Params) -> Self::Config {
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let x = meta.advice_column();
        meta.enable_equality(x);
        (
            if p.2 {
                let sponge = [(); 6].map(|_| meta.advice_column());
                let rc = [(); 3].map(|_| meta.fixed_column());
                crate::poseidon::PoseidonConfig::configure_in(
                    meta,
                    p.0,
                    p.1,
                    sponge,
                    [sponge[3], sponge[4]],
                    rc,
                )
            } else {
                crate::poseidon::PoseidonConfig::configure(meta, p.0, p.1)
            },
            x,
            instance,
        )
    }
    fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
        unreachable!("configured with params")
    }
    fn synthesize(
        &self,
        (config, x, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        use crate::poseidon::PoseidonChip;
        let n = self.x.len();
        let inputs = load_instance(&mut layouter, instance, x, n)?;
        let salt = layouter.assign_region(
            || "salt",
            |mut region| {
                let v = if self.trace.is_some() {
                    Value::known(self.salt)
                } else {
                    Value::unknown()
                };
                Ok(Wire::assign(&mut region, x, n, v))
            },
        )?;
        let chip = if self.stacked {
            let per = (252 / self.bits as usize).max(1);
            let sponge_rows = self.params.hash_rows(1 + n.div_ceil(per));
            PoseidonChip::construct_stacked(config, 0, sponge_rows)
        } else {
            PoseidonChip::construct(config, 0)
        };
        let mut chip = chip.with_padding(self.padding);
        let accs = (!self.accs.is_empty()).then_some(self.accs.as_slice());
        let packed = chip.pack_with(&mut layouter, &inputs, accs)?;
        let mut message = vec![salt];
        message.extend(packed);
        let h = chip.hash(&mut layouter, &message, self.trace.as_ref())?;
        layouter.constrain_instance(h.cell, instance, n);
        Ok(())
    }
}

/// Public input `x` → the Freivalds check of `y = W·x + b` → public `y` (the claimed outputs,
/// tamper freely; `forge` replaces the group's last accumulator).
#[derive(Clone, Debug)]
pub struct FreivaldsCircuit {
    /// `K`.
    pub width: usize,
    /// Weights `[n_out][n_in]`.
    pub weights: Vec<Vec<i64>>,
    /// Bias.
    pub bias: Vec<i64>,
    /// Public input.
    pub input: Vec<i64>,
    /// Claimed outputs (public), `None` without a witness.
    pub y: Option<Vec<i64>>,
    /// Replaces the last accumulator.
    pub forge: Option<Fr>,
    /// Outputs per weight cell.
    pub pack: crate::freivalds::Packing,
    /// Advice-only weight columns (private weights, output rows weighed by a power column),
    /// instead of fixed ones.
    pub advice_weights: bool,
}

impl FreivaldsCircuit {
    /// The honest circuit.
    pub fn honest(width: usize, weights: Vec<Vec<i64>>, bias: Vec<i64>, input: Vec<i64>) -> Self {
        let y = weights
            .iter()
            .zip(&bias)
            .map(|(r, b)| b + r.iter().zip(&input).map(|(w, x)| w * x).sum::<i64>())
            .collect();
        Self {
            width,
            weights,
            bias,
            input,
            y: Some(y),
            forge: None,
            pack: crate::freivalds::Packing::NONE,
            advice_weights: false,
        }
    }
}

impl HasInstances for FreivaldsCircuit {
    fn instances(&self) -> Vec<Vec<Fr>> {
        let y = self.y.clone().unwrap_or_default();
        vec![self.input.iter().chain(&y).map(|&v| to_field(v)).collect()]
    }
}

impl Circuit<Fr> for FreivaldsCircuit {
    type Config = (
        crate::freivalds::FreivaldsConfig,
        Column<Advice>,
        Column<Instance>,
    );
    type FloorPlanner = SimpleFloorPlanner;
    type Params = (usize, bool);

    fn without_witnesses(&self) -> Self {
        Self {
            y: None,
            forge: None,
            ..self.clone()
        }
    }
    fn params(&self) -> (usize, bool) {
        (self.width, self.advice_weights)
    }
    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        (width, advice_weights): (usize, bool),
    ) -> Self::Config {
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let x = meta.advice_column();
        meta.enable_equality(x);
        let chip = if advice_weights {
            crate::freivalds::FreivaldsColumns::configure_advice(meta, width).finish(meta)
        } else {
            crate::freivalds::FreivaldsConfig::configure(meta, width, false)
        };
        (chip, x, instance)
    }
    fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
        unreachable!("configured with params")
    }
    fn synthesize(
        &self,
        (config, x, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let n = self.input.len();
        let inputs = load_instance(&mut layouter, instance, x, n)?;
        let mut chip = crate::freivalds::FreivaldsChip::construct(config, 0);
        let y = chip.check(
            &mut layouter,
            &inputs,
            &self.weights,
            &self.bias,
            self.y.as_deref(),
            self.pack,
        )?;
        if let Some(f) = self.forge {
            chip.forge_last(f);
        }
        for (i, w) in y.iter().enumerate() {
            layouter.constrain_instance(w.cell, instance, n + i);
        }
        layouter.next_phase();
        chip.finish(&mut layouter)
    }
}
