//! Core op `Relu`: `y = max(x, 0)` elementwise, wherever it stands (a ReLU right after a Linear
//! is fused into it instead, see [`super::linear::fuse_relu`]).
//!
//! Circuit: one rescale-chip row per element at shift 0 (`y = z`, remainder 0), bounded: the
//! limbs range-check `x` to the activation bits and the sign table gives `ReLU(x)`.

use super::{
    linear::rescale_checked, Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp,
    QuantOpImpl, Synthesize, WitnessCursor,
};
use crate::graph::{Inputs, Ref};
use crate::quantize::QuantizeError;
use crate::witness::WitnessError;
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    rescale::{RescaleInstructions, RescaleWitness},
    Wire,
};

/// `max(x, 0)` over input 0, elementwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relu {
    /// Number of elements.
    pub len: usize,
}

impl Relu {
    fn input(&self) -> impl Iterator<Item = Ref> {
        (0..self.len as u32).map(|i| Ref(0, i))
    }
}

impl FloatOpImpl for Relu {
    fn refs(&self) -> Vec<Ref> {
        self.input().collect()
    }
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        self.input()
            .map(|r| x.at(r).unwrap_or(0.0).max(0.0))
            .collect()
    }
    fn keeps_scale(&self) -> bool {
        true
    }
    fn quantize(&self, _: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        Ok(QuantOp::Relu(self.clone()))
    }
}

impl Relu {
    fn values(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        x.all(self.input()).ok_or_else(|| WitnessError::Overflow {
            node: ctx.node.name.clone(),
        })
    }
}

impl QuantOpImpl for Relu {
    fn refs(&self) -> Vec<Ref> {
        self.input().collect()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        rescale_checked(ctx, &self.values(ctx, x)?, 0, ctx.activation_bits, true)
    }
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        let rows = self
            .values(ctx, x)?
            .into_iter()
            .map(|v| RescaleWitness::compute(v, 0, ctx.range_bits))
            .collect();
        Ok(NodeWitness {
            rescale: vec![rows],
            ..NodeWitness::default()
        })
    }
    fn cost(&self, _: &NodeCtx) -> Cost {
        Cost {
            rescale_rows: self.len,
            ..Cost::default()
        }
    }
    fn describe(&self) -> String {
        "relu".into()
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for Relu {
    fn synthesize(
        &self,
        _: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let xs = x.all(self.input()).ok_or(Error::Synthesis)?;
        let out = chips
            .rescale
            .rescale(layouter, &xs, 0, true, w.rescale()?)?;
        out.into_iter()
            .map(|r| r.relu.ok_or(Error::Synthesis))
            .collect()
    }
}
