//! Core op `ArgMax`: the index of the first maximum of a vector, proven (`compile
//! --prove-argmax` makes it the public output instead of the logits).
//!
//! With `z` the `n` inputs, the prover supplies a one-hot `s` and the chips enforce:
//! - `m = max z` (the [`super::max::Max`] fold);
//! - `s_j² = s_j` (product chip, copied back): every `s_j ∈ {0, 1}`;
//! - `Σ s_j − 1 = 0` and `Σ s_j·z_j − m = 0` (products, then dense rows whose accumulators are
//!   copy-constrained to a constant 0): exactly one `s_c = 1`, and `z_c = m`;
//! - `c = Σ j·s_j` (a dense row): the output;
//! - for every `j`, `t_j = Σ_{i > j} s_i` (`= [j < c]`), `u_j = m − z_j − 1`, `v_j = t_j·u_j`,
//!   and `ReLU(v_j) = v_j` (a bounded rescale row at shift 0 whose ReLU cell is copied onto
//!   `v_j`): `z_j < m` for every `j < c`, so `c` is the *first* maximum, as ONNX's ArgMax.
//!
//! The differences need one bit of headroom, like Max's.

use super::max::Max;
use super::{
    Chips, Cost, FloatOpImpl, NodeCtx, NodeWitness, QuantCtx, QuantOp, QuantOpImpl, Synthesize,
    WitnessCursor,
};
use crate::graph::{Inputs, Ref};
use crate::quantize::QuantizeError;
use crate::witness::{dequantize, WitnessError};
use halo2_proofs::{
    circuit::{Cell, Layouter},
    halo2curves::bn256::Fr,
    plonk::Error,
};
use serde::{Deserialize, Serialize};
use zkinfer_circuits::{
    fixed::{fits_signed, relu},
    matmul::{DenseWitness, MatMulConfig, MatMulInstructions},
    product::ProductInstructions,
    rescale::{RescaleInstructions, RescaleWitness},
    Wire,
};

/// The first maximum's index over `n` inputs (slot 0, elements `0..n`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgMax {
    /// Number of inputs.
    pub n: usize,
}

impl ArgMax {
    fn max(&self) -> Max {
        Max {
            windows: vec![(0..self.n as u32).map(|i| Ref(0, i)).collect()],
            min: false,
        }
    }
    fn index(values: &[i64]) -> usize {
        crate::artifact::argmax(values)
    }
}

impl FloatOpImpl for ArgMax {
    fn refs(&self) -> Vec<Ref> {
        (0..self.n as u32).map(|i| Ref(0, i)).collect()
    }
    fn eval(&self, x: &Inputs<f64>) -> Vec<f64> {
        let v: Vec<f64> = (0..self.n as u32)
            .map(|i| x.at(Ref(0, i)).unwrap_or(0.0))
            .collect();
        vec![crate::artifact::argmax(&v) as f64]
    }
    fn keeps_scale(&self) -> bool {
        false
    }
    fn input_range_factor(&self) -> f64 {
        2.0
    }
    fn output_needs_bound(&self) -> bool {
        true
    }
    fn fixed_output_scale(&self) -> Option<u32> {
        Some(0)
    }
    fn quantize(&self, _: &QuantCtx) -> Result<QuantOp, QuantizeError> {
        Ok(QuantOp::ArgMax(self.clone()))
    }
}

impl ArgMax {
    /// All the values synthesis assigns, in order, for the claimed index `c` (`None`: the
    /// honest one; tests claim others).
    fn values(
        &self,
        ctx: &NodeCtx,
        x: &Inputs<i64>,
        c: Option<usize>,
    ) -> Result<Steps, WitnessError> {
        let bad = || WitnessError::Overflow {
            node: ctx.node.name.clone(),
        };
        let z: Vec<i64> = x
            .all((0..self.n as u32).map(|i| Ref(0, i)))
            .ok_or_else(bad)?;
        let m = *z.get(Self::index(&z)).ok_or_else(bad)?;
        let c = c.unwrap_or_else(|| Self::index(&z));
        let s: Vec<i64> = (0..self.n).map(|j| i64::from(j == c)).collect();
        let t: Vec<i64> = (0..self.n).map(|j| i64::from(j < c)).collect();
        let u: Vec<i64> = z.iter().map(|&zj| m - zj - 1).collect();
        let v: Vec<i64> = t.iter().zip(&u).map(|(t, u)| t * u).collect();
        Ok(Steps { z, s, t, v, m, c })
    }
}

impl ArgMax {
    /// The node witness for the claimed index `c` (`None`: the honest one).
    pub fn witness_for(
        &self,
        ctx: &NodeCtx,
        x: &Inputs<i64>,
        c: Option<usize>,
    ) -> Result<NodeWitness, WitnessError> {
        let mut w = self.max().witness(ctx, x)?;
        let st = self.values(ctx, x, c)?;
        let bad = || WitnessError::Overflow {
            node: ctx.node.name.clone(),
        };
        let dense = |w: &[Vec<i64>], b: &[i64], xs: &[i64]| {
            DenseWitness::compute(ctx.lanes, w, b, xs).ok_or_else(bad)
        };
        let n = self.n;
        let sz: Vec<i64> = st.s.iter().zip(&st.z).map(|(s, z)| s * z).collect();
        // product-chip lists: s (free cells), s·s (booleanity), s·z
        w.product.push(st.s.clone());
        w.product.push(st.s.clone());
        w.product.push(sz.clone());
        // zero constant; Σ s − 1; Σ s·z − m; c = Σ j·s
        w.dense.push(dense(&[vec![]], &[0], &[])?);
        w.dense.push(dense(&[vec![1; n]], &[-1], &st.s)?);
        let mut xs = sz.clone();
        xs.push(st.m);
        let mut ws = vec![1; n];
        ws.push(-1);
        w.dense.push(dense(&[ws], &[0], &xs)?);
        let idx: Vec<i64> = (0..n as i64).collect();
        w.dense.push(dense(&[idx], &[0], &st.s)?);
        // t_j = Σ_{i>j} s_i; u_j = m − z_j − 1
        let t_rows: Vec<Vec<i64>> = (0..n)
            .map(|j| (0..n).map(|i| i64::from(i > j)).collect())
            .collect();
        w.dense.push(dense(&t_rows, &vec![0; n], &st.s)?);
        for &zj in &st.z {
            w.dense.push(dense(&[vec![1, -1]], &[-1], &[st.m, zj])?);
        }
        // v = t·u, then ReLU(v) = v
        w.product.push(st.v.clone());
        w.rescale.push(
            st.v.iter()
                .map(|&v| RescaleWitness::compute(v, 0, ctx.range_bits))
                .collect(),
        );
        debug_assert!(c.is_some() || st.v.iter().all(|&v| relu(v) == v) && st.t.len() == n);
        Ok(w)
    }
}

struct Steps {
    z: Vec<i64>,
    s: Vec<i64>,
    t: Vec<i64>,
    v: Vec<i64>,
    m: i64,
    c: usize,
}

impl QuantOpImpl for ArgMax {
    fn refs(&self) -> Vec<Ref> {
        (0..self.n as u32).map(|i| Ref(0, i)).collect()
    }
    fn eval(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<Vec<i64>, WitnessError> {
        // the max's differences must fit (the same check Max makes), and so must every
        // `v_j = m − z_j − 1` before the index, which goes through a bounded ReLU row
        QuantOpImpl::eval(&self.max(), ctx, x)?;
        let st = self.values(ctx, x, None)?;
        if let Some((index, &v)) =
            st.v.iter()
                .enumerate()
                .find(|(_, &v)| !fits_signed(v, ctx.activation_bits))
        {
            return Err(WitnessError::ActivationRange {
                node: ctx.node.name.clone(),
                index,
                value: dequantize(v, ctx.in_scales.first().copied().unwrap_or(0)),
                bound: dequantize(
                    1i64 << (ctx.activation_bits - 1),
                    ctx.in_scales.first().copied().unwrap_or(0),
                ),
            });
        }
        Ok(vec![st.c as i64])
    }
    fn witness(&self, ctx: &NodeCtx, x: &Inputs<i64>) -> Result<NodeWitness, WitnessError> {
        self.witness_for(ctx, x, None)
    }
    fn cost(&self, ctx: &NodeCtx) -> Cost {
        let n = self.n;
        let mut c = self.max().cost(ctx);
        c.product_rows += 4 * n;
        c.dense_rows += MatMulConfig::rows(0, 1, ctx.lanes)
            + MatMulConfig::rows(n, 1, ctx.lanes)
            + MatMulConfig::rows(n + 1, 1, ctx.lanes)
            + MatMulConfig::rows(n, 1, ctx.lanes)
            + MatMulConfig::rows(n, n, ctx.lanes)
            + n * MatMulConfig::rows(2, 1, ctx.lanes);
        c.rescale_rows += n;
        c
    }
    fn describe(&self) -> String {
        format!("argmax over {} values (first maximum)", self.n)
    }
}

impl<L: Layouter<Fr>> Synthesize<L> for ArgMax {
    fn synthesize(
        &self,
        ctx: &NodeCtx,
        chips: &mut Chips,
        layouter: &mut L,
        x: &Inputs<Wire<Fr>>,
        w: &mut WitnessCursor,
    ) -> Result<Vec<Wire<Fr>>, Error> {
        let n = self.n;
        let z = x
            .all((0..n as u32).map(|i| Ref(0, i)))
            .ok_or(Error::Synthesis)?;
        let m = *self
            .max()
            .synthesize(ctx, chips, layouter, x, w)?
            .first()
            .ok_or(Error::Synthesis)?;
        let zero_block =
            chips
                .dense()?
                .dense_structural(layouter, &[], &[vec![]], &[0], w.dense()?)?;
        let zero = *zero_block.first().ok_or(Error::Synthesis)?;
        let product = chips.product.as_mut().ok_or(Error::Synthesis)?;
        // s: free cells, each tied to its own square (s² = s: a bit)
        let s = product.free_cells(layouter, n, w.product()?)?;
        let squares: Vec<_> = s.iter().map(|&a| (a, a)).collect();
        let ss = product.products(layouter, &squares, 0, w.product()?)?;
        let mut equal: Vec<(Cell, Cell)> =
            s.iter().zip(&ss).map(|(a, b)| (a.cell, b.cell)).collect();
        let pairs: Vec<_> = s.iter().copied().zip(z.iter().copied()).collect();
        let sz = product.products(layouter, &pairs, 0, w.product()?)?;
        // Σ s − 1 = 0
        let one =
            chips
                .dense()?
                .dense_structural(layouter, &s, &[vec![1; n]], &[-1], w.dense()?)?;
        equal.push((one.first().ok_or(Error::Synthesis)?.cell, zero.cell));
        // Σ s·z − m = 0
        let mut xs = sz.clone();
        xs.push(m);
        let mut ws = vec![1; n];
        ws.push(-1);
        let hit = chips
            .dense()?
            .dense_structural(layouter, &xs, &[ws], &[0], w.dense()?)?;
        equal.push((hit.first().ok_or(Error::Synthesis)?.cell, zero.cell));
        // c = Σ j·s_j
        let idx: Vec<i64> = (0..n as i64).collect();
        let c = chips
            .dense()?
            .dense_structural(layouter, &s, &[idx], &[0], w.dense()?)?;
        // t_j = Σ_{i > j} s_i, u_j = m − z_j − 1, v_j = t_j·u_j ≥ 0
        let t_rows: Vec<Vec<i64>> = (0..n)
            .map(|j| (0..n).map(|i| i64::from(i > j)).collect())
            .collect();
        let t = chips
            .dense()?
            .dense_structural(layouter, &s, &t_rows, &vec![0; n], w.dense()?)?;
        let mut u = Vec::with_capacity(n);
        for zj in &z {
            let d = chips.dense()?.dense_structural(
                layouter,
                &[m, *zj],
                &[vec![1, -1]],
                &[-1],
                w.dense()?,
            )?;
            u.push(*d.first().ok_or(Error::Synthesis)?);
        }
        let tu: Vec<_> = t.iter().copied().zip(u.iter().copied()).collect();
        let product = chips.product.as_mut().ok_or(Error::Synthesis)?;
        let v = product.products(layouter, &tu, 0, w.product()?)?;
        let r = chips.rescale.rescale(layouter, &v, 0, true, w.rescale()?)?;
        for (vj, rj) in v.iter().zip(&r) {
            equal.push((vj.cell, rj.relu.ok_or(Error::Synthesis)?.cell));
        }
        layouter.assign_region(
            || "argmax: s = s², Σ s = 1, Σ s·z = m, ReLU(v) = v",
            |mut region| {
                for &(a, b) in &equal {
                    region.constrain_equal(a, b);
                }
                Ok(())
            },
        )?;
        Ok(c)
    }
}
