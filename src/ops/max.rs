//! Core op `Max`: each output is the maximum (or minimum) of a window of input elements:
//! MaxPool (any kernel, stride, padding, dilation), ReduceMax/ReduceMin over any axes,
//! elementwise Max/Min of tensors.
//!
//! A window is folded pairwise with `max(m, a) = m + ReLU(a − m)` (and
//! `min(m, a) = m − ReLU(m − a)`). Per step, with `σ = +1` for max and `−1` for min:
//! - dense chip: `d = σ·a − σ·m` (weights in fixed columns);
//! - rescale chip at shift 0, bounded: `d` range-checked to the activation bits, `r = ReLU(d)`
//!   from the sign table;
//! - dense chip: `m' = m + σ·r`.
//!
//! Every value is copied between chips by equality constraints, so a prover who claims any
//! other `m'` (a smaller max, say) must break the dense gate, the sign table or a copy. The
//! differences need one bit more than the values: quantize leaves that headroom
//! ([`FloatOpImpl::input_range_factor`]), and an input whose difference still does not fit is a
//! witness error, never a wrong proof.

use super::{
    Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp, QuantOpImpl, Synthesize,
    WitnessCursor,
};
use crate::graph::{Inputs, Ref};
use crate::quantize::QuantizeError;
use crate::witness::{dequantize, WitnessError};
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    fixed::{fits_signed, relu},
    matmul::{DenseWitness, MatMulConfig, MatMulInstructions},
    rescale::{RescaleInstructions, RescaleWitness},
    Wire,
};

/// Max (or min) over windows of input elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Max {
    /// One non-empty window per output element.
    pub windows: Vec<Vec<Ref>>,
    /// Minimum instead of maximum.
    pub min: bool,
}

impl Max {
    fn sigma(&self) -> i64 {
        if self.min {
            -1
        } else {
            1
        }
    }
    fn steps(&self) -> usize {
        self.windows.iter().map(|w| w.len().saturating_sub(1)).sum()
    }
}

impl FloatOpImpl for Max {
    fn refs(&self) -> Vec<Ref> {
        self.windows.iter().flatten().copied().collect()
    }
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        self.windows
            .iter()
            .map(|w| {
                let vals = w.iter().map(|&r| x.at(r).unwrap_or(0.0));
                if self.min {
                    vals.fold(f64::INFINITY, f64::min)
                } else {
                    vals.fold(f64::NEG_INFINITY, f64::max)
                }
            })
            .collect()
    }
    fn keeps_scale(&self) -> bool {
        true
    }
    fn input_range_factor(&self) -> f64 {
        2.0
    }
    fn quantize(&self, _: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        Ok(QuantOp::Max(self.clone()))
    }
}

/// One step's values.
struct Step {
    m: i64,
    a: i64,
    d: i64,
    r: i64,
    next: i64,
}

impl Max {
    /// Runs every window, calling `on_step` for each pairwise step; returns the outputs.
    fn fold(
        &self,
        ctx: &NodeCtx,
        x: &Inputs<i64>,
        mut on_step: impl FnMut(&Step),
    ) -> Result<Vec<i64>, WitnessError> {
        let s = self.sigma();
        let bad = || WitnessError::Overflow {
            node: ctx.node.name.clone(),
        };
        self.windows
            .iter()
            .enumerate()
            .map(|(index, w)| {
                let mut vals = w.iter().map(|&r| x.at(r));
                let mut m = vals.next().flatten().ok_or_else(bad)?;
                for a in vals {
                    let a = a.ok_or_else(bad)?;
                    let d = s * (a - m);
                    if !fits_signed(d, ctx.activation_bits) {
                        return Err(WitnessError::ActivationRange {
                            node: ctx.node.name.clone(),
                            index,
                            value: dequantize(d, ctx.scale),
                            bound: dequantize(1i64 << (ctx.activation_bits - 1), ctx.scale),
                        });
                    }
                    let r = relu(d);
                    let next = m + s * r;
                    on_step(&Step { m, a, d, r, next });
                    m = next;
                }
                Ok(m)
            })
            .collect()
    }
}

impl QuantOpImpl for Max {
    fn refs(&self) -> Vec<Ref> {
        self.windows.iter().flatten().copied().collect()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        self.fold(ctx, x, |_| {})
    }
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        let s = self.sigma();
        let mut w = NodeWitness::default();
        let mut ok = true;
        self.fold(ctx, x, |st| {
            let diff = DenseWitness::compute(ctx.lanes, &[vec![s, -s]], &[0], &[st.a, st.m]);
            let next = DenseWitness::compute(ctx.lanes, &[vec![1, s]], &[0], &[st.m, st.r]);
            match (diff, next) {
                (Some(diff), Some(next)) => {
                    w.dense.push(diff);
                    w.rescale
                        .push(vec![RescaleWitness::compute(st.d, 0, ctx.range_bits)]);
                    w.dense.push(next);
                }
                _ => ok = false,
            }
            debug_assert_eq!(st.next, st.m + s * st.r);
        })?;
        if !ok {
            return Err(WitnessError::Overflow {
                node: ctx.node.name.clone(),
            });
        }
        Ok(w)
    }
    fn cost(&self, ctx: &NodeCtx) -> Cost {
        Cost {
            dense_rows: self.steps() * 2 * MatMulConfig::rows(2, 1, ctx.lanes),
            rescale_rows: self.steps(),
            ..Cost::default()
        }
    }
    fn describe(&self) -> String {
        format!(
            "{}: {} windows, {} comparisons",
            if self.min { "min" } else { "max" },
            self.windows.len(),
            self.steps()
        )
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for Max {
    fn synthesize(
        &self,
        _: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let s = self.sigma();
        let mut out = Vec::with_capacity(self.windows.len());
        for win in &self.windows {
            let mut wires = win.iter().map(|&r| x.at(r));
            let mut m = wires.next().flatten().ok_or(Error::Synthesis)?;
            for a in wires {
                let a = a.ok_or(Error::Synthesis)?;
                let d = chips.dense()?.dense_structural(
                    layouter,
                    &[a, m],
                    &[vec![s, -s]],
                    &[0],
                    w.dense()?,
                )?;
                let r = chips.rescale.rescale(layouter, &d, 0, true, w.rescale()?)?;
                let r = r.first().and_then(|r| r.relu).ok_or(Error::Synthesis)?;
                let next = chips.dense()?.dense_structural(
                    layouter,
                    &[m, r],
                    &[vec![1, s]],
                    &[0],
                    w.dense()?,
                )?;
                m = *next.first().ok_or(Error::Synthesis)?;
            }
            out.push(m);
        }
        Ok(out)
    }
}
