//! Core op `Gather`: every output element is one input element or a constant. Reshape,
//! Flatten, Squeeze/Unsqueeze, Transpose, Slice, Concat, Pad (constant mode), Gather with
//! constant indices, Expand/Tile, Identity and constants all lower to it.
//!
//! Circuit: an element copied from an input is that input's cell (no rows; later readers copy
//! it with an equality constraint); constants are bias rows of the dense chip (`acc = b`, `b` in
//! a fixed column, so the verifying key fixes them). Inputs of one Gather share one scale.

use super::{
    Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp, QuantOpImpl, Synthesize,
    WitnessCursor,
};
use crate::graph::{Inputs, Ref};
use crate::quantize::QuantizeError;
use crate::witness::WitnessError;
use halo2_proofs::{circuit::Layouter, halo2curves::bn256::Fr, plonk::Error};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    fixed::fits_signed,
    matmul::{DenseWitness, MatMulConfig, MatMulInstructions},
    Wire,
};

/// Where an output element comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Src<W> {
    /// An input element.
    #[serde(rename = "x")]
    Elem(Ref),
    /// A constant.
    #[serde(rename = "c")]
    Const(W),
}

/// Output element `j` is `src[j]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gather<W> {
    /// One source per output element.
    pub src: Vec<Src<W>>,
}

impl<W: Copy> Gather<W> {
    /// The constants the gather writes, in order.
    pub fn consts(&self) -> Vec<W> {
        self.src
            .iter()
            .filter_map(|s| match s {
                Src::Const(c) => Some(*c),
                Src::Elem(_) => None,
            })
            .collect()
    }
    fn elems(&self) -> Vec<Ref> {
        self.src
            .iter()
            .filter_map(|s| match s {
                Src::Elem(r) => Some(*r),
                Src::Const(_) => None,
            })
            .collect()
    }
}

impl FloatOpImpl for Gather<f64> {
    fn refs(&self) -> Vec<Ref> {
        self.elems()
    }
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        self.src
            .iter()
            .map(|s| match *s {
                Src::Elem(r) => x.at(r).unwrap_or(0.0),
                Src::Const(c) => c,
            })
            .collect()
    }
    fn keeps_scale(&self) -> bool {
        true
    }
    fn quantize(&self, ctx: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        let bits = ctx.activation_bits();
        let src = self
            .src
            .iter()
            .map(|s| match *s {
                Src::Elem(r) => Ok(Src::Elem(r)),
                Src::Const(c) => {
                    let q = (c * 2f64.powi(ctx.out_scale as i32)).round();
                    if q.abs() < 9e15 && fits_signed(q as i64, bits) {
                        Ok(Src::Const(q as i64))
                    } else {
                        Err(QuantizeError::TooLarge {
                            node: ctx.name.to_string(),
                            max: c.abs(),
                            bits,
                        })
                    }
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(QuantOp::Gather(Gather { src }))
    }
}

impl QuantOpImpl for Gather<i64> {
    fn refs(&self) -> Vec<Ref> {
        self.elems()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        self.src
            .iter()
            .map(|s| match *s {
                Src::Elem(r) => x.at(r).ok_or_else(|| WitnessError::Overflow {
                    node: ctx.node.name.clone(),
                }),
                Src::Const(c) => Ok(c),
            })
            .collect()
    }
    fn witness(&self, ctx: &NodeCtx, _: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        let consts = self.consts();
        let mut w = NodeWitness::default();
        if !consts.is_empty() {
            let rows = vec![vec![]; consts.len()];
            w.dense.push(
                DenseWitness::compute(ctx.lanes, &rows, &consts, &[]).ok_or_else(|| {
                    WitnessError::Overflow {
                        node: ctx.node.name.clone(),
                    }
                })?,
            );
        }
        Ok(w)
    }
    fn cost(&self, ctx: &NodeCtx) -> Cost {
        let n = self.consts().len();
        Cost {
            dense_rows: if n == 0 {
                0
            } else {
                MatMulConfig::rows(0, n, ctx.lanes)
            },
            ..Cost::default()
        }
    }
    fn describe(&self) -> String {
        let c = self.consts().len();
        if c == 0 {
            "copy".into()
        } else {
            format!("copy with {c} constants")
        }
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for Gather<i64> {
    fn synthesize(
        &self,
        _: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let consts = self.consts();
        let mut cwires = if consts.is_empty() {
            vec![]
        } else {
            let rows = vec![vec![]; consts.len()];
            chips
                .dense()?
                .dense(layouter, &[], &rows, &consts, w.dense()?)?
        }
        .into_iter();
        self.src
            .iter()
            .map(|s| match *s {
                Src::Elem(r) => x.at(r).ok_or(Error::Synthesis),
                Src::Const(_) => cwires.next().ok_or(Error::Synthesis),
            })
            .collect()
    }
}
