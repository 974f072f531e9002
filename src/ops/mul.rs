//! Core op `Mul`: element-wise products of two activations, `y_j = x[a_j] · x[b_j]` (Mul of
//! two tensors with broadcasting, Square, Pow with a small integer exponent as a chain).
//!
//! Fixed point: the product of scales `s_a` and `s_b` is at `s_a + s_b`; the product chip
//! computes `c = 2^e·a·b` (`e` lifts it when the output is finer than that, usually 0), then
//! the rescale chip brings it to the output scale with `d = s_a + s_b + e − s_out ≤ 2B`
//! (checked remainders, bounded output like every activation). Both factors are bounded
//! activations, so `c` is far below the field size.
//!
//! Circuit: one product-chip row and one rescale-chip row per output; with the product chip
//! beside the rescale chip, one row holding both (the product is the rescale's `z`).

use super::{
    linear::rescale_checked, Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp,
    QuantOpImpl, Synthesize, WitnessCursor,
};
use crate::graph::{Inputs, Ref};
use crate::quantize::QuantizeError;
use crate::witness::WitnessError;
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{product::products, rescale::RescaleWitness, Wire};

/// The float op: one pair of factors per output element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mul {
    /// `(a, b)` per output.
    pub pairs: Vec<(Ref, Ref)>,
}

impl FloatOpImpl for Mul {
    fn refs(&self) -> Vec<Ref> {
        self.pairs.iter().flat_map(|&(a, b)| [a, b]).collect()
    }
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        self.pairs
            .iter()
            .map(|&(a, b)| x.at(a).unwrap_or(0.0) * x.at(b).unwrap_or(0.0))
            .collect()
    }
    fn keeps_scale(&self) -> bool {
        false
    }
    fn quantize(&self, ctx: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        let scale = |r: Ref| ctx.in_scales.get(r.slot()).copied().unwrap_or(0);
        let prods: Vec<u32> = self
            .pairs
            .iter()
            .map(|&(a, b)| scale(a) + scale(b))
            .collect();
        let s_prod = prods.first().copied().unwrap_or(0);
        if prods.iter().any(|&s| s != s_prod) {
            return Err(QuantizeError::Graph(format!(
                "node `{}`: factors at mixed scales",
                ctx.name
            )));
        }
        let e = ctx.out_scale.saturating_sub(s_prod);
        let shift = s_prod + e - ctx.out_scale;
        if shift > ctx.activation_bits() {
            return Err(QuantizeError::BadOption(format!(
                "node `{}` would rescale a product by 2^{shift}: more than two {}-bit remainder limbs check; raise --lookup-bits",
                ctx.name, ctx.table_bits
            )));
        }
        Ok(QuantOp::Mul(QuantMul {
            pairs: self.pairs.clone(),
            e,
            shift,
        }))
    }
}

/// The fixed-point op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantMul {
    /// `(a, b)` per output.
    pub pairs: Vec<(Ref, Ref)>,
    /// The product is `2^e·a·b`.
    pub e: u32,
    /// Rescale shift after the product.
    pub shift: u32,
}

impl QuantMul {
    fn products(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        let bad = || WitnessError::Overflow {
            node: ctx.node.name.clone(),
        };
        let pairs: Vec<(i64, i64)> = self
            .pairs
            .iter()
            .map(|&(a, b)| Some((x.at(a)?, x.at(b)?)))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        products(&pairs, self.e).ok_or_else(bad)
    }
}

impl QuantOpImpl for QuantMul {
    fn refs(&self) -> Vec<Ref> {
        self.pairs.iter().flat_map(|&(a, b)| [a, b]).collect()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        let c = self.products(ctx, x)?;
        rescale_checked(ctx, &c, self.shift, ctx.activation_bits, false)
    }
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        let c = self.products(ctx, x)?;
        let rescale = c
            .iter()
            .map(|&z| RescaleWitness::compute(z, self.shift, ctx.range_bits))
            .collect();
        Ok(NodeWitness {
            rescale: vec![rescale],
            product: vec![c],
            ..NodeWitness::default()
        })
    }
    fn cost(&self, ctx: &NodeCtx) -> Cost {
        Cost {
            rescale_rows: self.pairs.len(),
            // beside the rescale chip a product takes its rescale row
            product_rows: if ctx.product_beside_rescale {
                0
            } else {
                self.pairs.len()
            },
            ..Cost::default()
        }
    }
    fn max_shift(&self) -> u32 {
        self.shift
    }
    fn describe(&self) -> String {
        format!("mul: {} products, shift {}", self.pairs.len(), self.shift)
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for QuantMul {
    fn synthesize(
        &self,
        _: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let pairs: Vec<(Wire<Fr>, Wire<Fr>)> = self
            .pairs
            .iter()
            .map(|&(a, b)| Some((x.at(a)?, x.at(b)?)))
            .collect::<Option<_>>()
            .ok_or(Error::Synthesis)?;
        let chip = chips.product.as_mut().ok_or(Error::Synthesis)?;
        let out = chip.products_rescaled(
            layouter,
            &mut chips.rescale,
            &pairs,
            (self.e, self.shift, true),
            w.product()?,
            w.rescale()?,
        )?;
        Ok(out.into_iter().map(|r| r.y).collect())
    }
}
