//! Circuit stage: plan + trace → `impl Circuit<Fr>`. Chips come from `zkinfer-circuits`.
//!
//! Public instance column: `[input values…, output values…]` (fixed-point integers).
//! Weights and biases are fixed columns, so the verifying key commits to them.

use crate::quantize::QuantModel;
use crate::witness::Trace;
use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner},
    halo2curves::bn256::Fr,
    plonk::{Circuit, Column, ConstraintSystem, Error, Instance},
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use zkinfer_circuits::{
    fixed::to_field,
    load_instance,
    matmul::{DenseWitness, MatMulChip, MatMulConfig, MatMulInstructions},
    range::RangeTable,
    relu::ReluTable,
    rescale::{RescaleChip, RescaleConfig, RescaleInstructions, RescaleWitness},
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
        }
    }
}

/// Columns of the model circuit.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    dense: MatMulConfig,
    rescale: RescaleConfig,
    instance: Column<Instance>,
}

/// Configures the constraint system for `shape`.
pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ModelConfig {
    let range = RangeTable::configure(meta, shape.range_bits);
    let relu = ReluTable::configure(meta, shape.relu_bits);
    let instance = meta.instance_column();
    meta.enable_equality(instance);
    ModelConfig {
        dense: MatMulConfig::configure(meta, shape.lanes),
        rescale: RescaleConfig::configure(meta, range, relu, shape.remainder_limbs),
        instance,
    }
}

/// The per-chip witnesses for one proof, computed before synthesis.
#[derive(Clone, Debug)]
pub struct CircuitWitness {
    /// Per layer: dense running sums and rescale values.
    pub layers: Vec<(DenseWitness, Vec<RescaleWitness>)>,
    /// Public instance values.
    pub instance: Vec<i64>,
}

/// Errors building a circuit.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError {
    /// The trace does not fit the model.
    #[error("internal: the trace does not match the model at layer {0}")]
    TraceMismatch(usize),
}

impl CircuitWitness {
    /// Lays the trace out as the chips assign it.
    pub fn new(
        model: &QuantModel,
        shape: CircuitShape,
        trace: &Trace,
    ) -> Result<Self, CircuitError> {
        let mut x = &trace.input;
        let mut layers = Vec::with_capacity(model.layers.len());
        for (li, (layer, t)) in model.layers.iter().zip(&trace.layers).enumerate() {
            let dense = DenseWitness::compute(shape.lanes, &layer.weights, &layer.bias, x)
                .filter(|d| d.outputs(layer.n_out()) == t.acc)
                .ok_or(CircuitError::TraceMismatch(li))?;
            let rescale = t
                .acc
                .iter()
                .map(|&z| RescaleWitness::compute(z, layer.shift(), shape.range_bits))
                .collect();
            layers.push((dense, rescale));
            x = &t.output;
        }
        Ok(Self {
            layers,
            instance: public_instance(trace),
        })
    }
}

/// The public instance `[input…, output…]` of a trace.
pub fn public_instance(trace: &Trace) -> Vec<i64> {
    trace.input.iter().chain(trace.output()).copied().collect()
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
        config.rescale.range.load(&mut layouter)?;
        config.rescale.relu.load(&mut layouter)?;
        let n_in = self.model.input_len();
        let mut x = load_instance(&mut layouter, config.instance, config.rescale.z, n_in)?;
        let mut dense = MatMulChip::construct(config.dense.clone(), 0);
        let mut rescale = RescaleChip::construct(config.rescale.clone(), n_in);
        for (li, layer) in self.model.layers.iter().enumerate() {
            let w = match &self.witness {
                Some(w) => Some(w.layers.get(li).ok_or(Error::Synthesis)?),
                None => None,
            };
            let acc = dense.dense(
                &mut layouter,
                &x,
                &layer.weights,
                &layer.bias,
                w.map(|w| &w.0),
            )?;
            let bounded = self.model.table_bounded(li);
            let out = rescale.rescale(
                &mut layouter,
                &acc,
                layer.shift(),
                bounded,
                w.map(|w| w.1.as_slice()),
            )?;
            x = out
                .into_iter()
                .map(|r| if layer.relu { r.relu } else { r.y })
                .collect();
        }
        for (j, wire) in x.iter().enumerate() {
            layouter.constrain_instance(wire.cell, config.instance, n_in + j);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
