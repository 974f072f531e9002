//! Reading an op's semantics off tract itself, so that zkinfer computes exactly what tract (and
//! the ONNX spec) computes, for every attribute combination tract handles:
//!
//! - [`affine`]: for an op that is affine in its non-constant inputs (Gemm, Conv, pooling sums,
//!   Add, …), evaluates it on unit vectors (in f64 where tract allows, batched along a leading
//!   axis of size 1 where the op allows) to read every output's weights and bias, and once more
//!   with every constant input replaced by ones to read its *structural* support (so a weight
//!   that happens to be 0 keeps its place and outputs keep sharing their inputs).
//! - [`indices`]: for an op that only moves elements (Reshape, Transpose, Slice, Concat, Pad,
//!   …), evaluates it on integer tensors that encode each element's origin.

use crate::graph::Ref;
use crate::ops::gather::Src;
use crate::ops::linear::{Linear, Row};
use anyhow::{bail, ensure, format_err};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::value::IntoTValue;

/// Probes per evaluation when batching.
const BATCH: usize = 256;

/// An op input during probing.
#[derive(Clone)]
pub(crate) enum Arg {
    /// An activation of this shape.
    Act(Vec<usize>),
    /// A constant.
    Const(Arc<Tensor>),
}

fn eval(op: &dyn TypedOp, inputs: Vec<Tensor>) -> TractResult<Tensor> {
    let inputs: TVec<TValue> = inputs.into_iter().map(|t| t.into_tvalue()).collect();
    let out = op
        .eval_out_of_plan(inputs)?
        .ok_or_else(|| format_err!("the op cannot be evaluated on its own"))?;
    let first = out
        .into_iter()
        .next()
        .ok_or_else(|| format_err!("no output"))?;
    Ok(first.into_tensor())
}

fn to_f64(t: &Tensor) -> TractResult<Vec<f64>> {
    Ok(t.cast_to::<f64>()?
        .to_plain_array_view::<f64>()?
        .iter()
        .copied()
        .collect())
}

fn filled(shape: &[usize], dt: DatumType, v: f64) -> TractResult<Tensor> {
    let n: usize = shape.iter().product();
    Tensor::from_shape(shape, &vec![v; n])?
        .cast_to_dt(dt)
        .map(|t| t.into_owned())
}

/// Evaluates with activation `slot` holding `probes` (a batch of unit vectors, or one vector
/// when `batched` is false) and other activations zero. Returns one output vector per probe.
#[allow(clippy::too_many_arguments)]
fn run(
    op: &dyn TypedOp,
    args: &[Arg],
    dt: DatumType,
    ones: bool,
    slot: usize,
    probes: &[usize],
    batched: bool,
    out_len: usize,
) -> TractResult<(Vec<Vec<f64>>, Vec<usize>)> {
    let mut inputs = Vec::with_capacity(args.len());
    for (s, a) in args.iter().enumerate() {
        inputs.push(match a {
            Arg::Const(c) if ones => filled(c.shape(), dt, 1.0)?,
            Arg::Const(c) => c.cast_to_dt(dt)?.into_owned(),
            Arg::Act(shape) if s == slot => {
                let n: usize = shape.iter().product();
                let mut shape = shape.clone();
                if batched {
                    shape[0] = probes.len();
                }
                let mut data = vec![0f64; n * probes.len().max(1)];
                for (p, &i) in probes.iter().enumerate() {
                    data[p * n + i] = 1.0;
                }
                Tensor::from_shape(&shape, &data)?
                    .cast_to_dt(dt)?
                    .into_owned()
            }
            Arg::Act(shape) => filled(shape, dt, 0.0)?,
        });
    }
    let t = eval(op, inputs)?;
    let shape = t.shape().to_vec();
    let out = to_f64(&t)?;
    let rows = if batched { probes.len() } else { 1 };
    ensure!(
        out.len() == rows * out_len,
        "probe output has {} values, expected {}",
        out.len(),
        rows * out_len
    );
    if out_len == 0 {
        return Ok((vec![vec![]; rows], shape));
    }
    Ok((out.chunks(out_len).map(<[f64]>::to_vec).collect(), shape))
}

/// Column `i` of activation `slot` for every `i`: `cols[i][j]` is output `j`'s response to a
/// unit at input `i` (the base subtracted).
fn columns(
    op: &dyn TypedOp,
    args: &[Arg],
    dt: DatumType,
    ones: bool,
    slot: usize,
    out_len: usize,
    base: &[f64],
) -> TractResult<Vec<Vec<f64>>> {
    let Arg::Act(shape) = &args[slot] else {
        bail!("not an activation")
    };
    let n: usize = shape.iter().product();
    let single = |i: usize| run(op, args, dt, ones, slot, &[i], false, out_len);
    let batchable = shape.first() == Some(&1) && n > 1;
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(n);
    let mut batched = false;
    if batchable {
        // Batching along the leading axis is accepted only if the op keeps that axis as its
        // leading output axis (the output is `[probes] ++ the unbatched output's shape[1..]`)
        // and the batch reproduces single probes at both ends.
        let first: Vec<usize> = (0..n.min(BATCH)).collect();
        let (one, one_shape) = single(0)?;
        if let Ok((rows, shape)) = run(op, args, dt, ones, slot, &first, true, out_len) {
            let last = first.len() - 1;
            let keeps_axis = one_shape.first() == Some(&1)
                && shape.first() == Some(&first.len())
                && shape.get(1..) == one_shape.get(1..);
            if keeps_axis
                && one.first() == rows.first()
                && single(last)?.0.first() == rows.get(last)
            {
                batched = true;
                cols.extend(rows);
            }
        }
    }
    if batched {
        for chunk in (0..n).collect::<Vec<_>>()[cols.len()..].chunks(BATCH) {
            cols.extend(run(op, args, dt, ones, slot, chunk, true, out_len)?.0);
        }
    } else {
        for i in 0..n {
            cols.extend(single(i)?.0);
        }
    }
    for c in &mut cols {
        for (v, b) in c.iter_mut().zip(base) {
            *v -= b;
        }
    }
    Ok(cols)
}

/// Reads an affine op: one row per output, terms over the activation slots (numbered in the
/// order of `args`' activations). With `structural`, each output's support is read with every
/// constant replaced by ones (the constants are weights); otherwise it is the nonzero weights.
pub(super) fn affine(
    op: &dyn TypedOp,
    args: &[Arg],
    out_len: usize,
    structural: bool,
) -> TractResult<Linear<f64>> {
    let dt = if run(
        op,
        args,
        f64::datum_type(),
        false,
        usize::MAX,
        &[],
        false,
        out_len,
    )
    .is_ok()
    {
        f64::datum_type()
    } else {
        f32::datum_type()
    };
    let base = run(op, args, dt, false, usize::MAX, &[], false, out_len)?
        .0
        .pop()
        .unwrap_or_default();
    let has_consts = structural && args.iter().any(|a| matches!(a, Arg::Const(_)));
    let base_ones = if has_consts {
        run(op, args, dt, true, usize::MAX, &[], false, out_len)?
            .0
            .pop()
            .unwrap_or_default()
    } else {
        base.clone()
    };
    let mut rows: Vec<Row<f64>> = base
        .iter()
        .map(|&b| Row {
            bias: b,
            terms: vec![],
        })
        .collect();
    let mut act = 0u32;
    for (slot, a) in args.iter().enumerate() {
        if matches!(a, Arg::Const(_)) {
            continue;
        }
        let weights = columns(op, args, dt, false, slot, out_len, &base)?;
        let support = if has_consts {
            columns(op, args, dt, true, slot, out_len, &base_ones)?
        } else {
            weights.clone()
        };
        for (i, (w, s)) in weights.iter().zip(&support).enumerate() {
            for (j, (&wj, &sj)) in w.iter().zip(s).enumerate() {
                if sj != 0.0 || wj != 0.0 {
                    rows[j].terms.push((Ref(act, i as u32), wj));
                }
            }
        }
        act += 1;
    }
    let bad = rows
        .iter()
        .flat_map(|r| r.terms.iter().map(|t| t.1).chain([r.bias]))
        .find(|v| !v.is_finite());
    if let Some(v) = bad {
        bail!("a weight or constant is {v}: weights must be finite");
    }
    Ok(Linear { rows, relu: false })
}

/// Where each output element of a copying op comes from. `data` says which inputs are moved
/// (the others, such as Gather's indices, are passed as they are); `pad` is the value code 0
/// stands for (a Pad's constant).
pub(super) fn indices(
    op: &dyn TypedOp,
    args: &[Arg],
    data: &[usize],
    pad: f64,
) -> TractResult<Vec<Src<f64>>> {
    let mut pool: Vec<f64> = Vec::new();
    let mut inputs = Vec::with_capacity(args.len());
    let mut act = 0i64;
    for (s, a) in args.iter().enumerate() {
        let t = match a {
            Arg::Const(c) if !data.contains(&s) => (**c).clone(),
            Arg::Const(c) => {
                let vals = to_f64(c)?;
                let codes: Vec<i64> = vals
                    .iter()
                    .map(|&v| {
                        pool.push(v);
                        -(pool.len() as i64)
                    })
                    .collect();
                Tensor::from_shape(c.shape(), &codes)?
            }
            Arg::Act(shape) => {
                let n: usize = shape.iter().product();
                let codes: Vec<i64> = (0..n as i64).map(|i| (act << 40) + i + 1).collect();
                act += 1;
                Tensor::from_shape(shape, &codes)?
            }
        };
        inputs.push(t);
    }
    let out = eval(op, inputs)?;
    let codes = out.cast_to::<i64>()?;
    let codes = codes.to_plain_array_view::<i64>()?;
    codes
        .iter()
        .map(|&c| {
            Ok(match c {
                0 => Src::Const(pad),
                c if c < 0 => Src::Const(
                    *pool
                        .get((-c - 1) as usize)
                        .ok_or_else(|| format_err!("bad constant code"))?,
                ),
                c => Src::Elem(Ref(
                    ((c - 1) >> 40) as u32,
                    ((c - 1) & ((1 << 40) - 1)) as u32,
                )),
            })
        })
        .collect()
}
