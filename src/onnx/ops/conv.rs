//! Conv (2-D or any rank): any kernel, stride, padding (explicit, asymmetric, `auto_pad`),
//! dilation and groups (incl. depthwise), with bias; BatchNormalization that tract folded into
//! it; ConvTranspose (tract's `Deconv`, with output padding) likewise. Lowered to a Linear
//! whose outputs at one position share that position's patch, so the dense chip lays out all
//! output channels of a position together.
//!
//! A float Conv with an OIHW kernel (what tract makes of every ONNX Conv) is read directly:
//! its geometry (padding before each spatial axis, output sizes) from tract's own
//! [`PoolSpec::computed_padding`], its weights off the kernel constant, in time linear in the
//! multiply-accumulates. Anything else (Deconv, another kernel layout, a bias of another
//! shape) is read by probing tract ([`super::super::probe`]), one evaluation per input
//! element: quadratic in the layer's size, so a 1 M-parameter CNN took 48 s and 5 GiB.

use super::super::{Built, Loader, Value};
use crate::graph::Ref;
use crate::ops::linear::{Linear, Row};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, Deconv, KernelFormat};

/// Multiply-accumulates of one directly read Conv (64 M, as a Gemm's); a larger one is an
/// error, not probed (probing it would take hours).
const MAX_MACS: usize = 1 << 26;

pub(super) fn build(l: &mut Loader, node: &TypedNode) -> Result<Built, String> {
    if node.op_as::<Deconv>().is_none() {
        let Some(op) = node.op_as::<Conv>() else {
            return Ok(Built::NotMine);
        };
        if op.q_params.is_some() {
            return Err("quantized convolution".into());
        }
    }
    if (1..node.inputs.len()).any(|i| !matches!(l.value(node, i), Value::Const(_))) {
        return Err("the kernel and bias must be constants".into());
    }
    let Value::Tensor(x) = l.value(node, 0) else {
        return l.affine(node);
    };
    if let Some(op) = node.op_as::<Conv>().filter(|_| !probe_only()) {
        if let Some(lin) = direct(l, node, op)? {
            let shape = l.shape(OutletId::new(node.id, 0))?;
            return Ok(l.add_affine(node, vec![x], shape, lin));
        }
    }
    l.affine(node)
}

#[cfg(test)]
thread_local! {
    /// Tests compare the direct reading with probing.
    pub(crate) static PROBE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn probe_only() -> bool {
    #[cfg(test)]
    {
        PROBE_ONLY.with(|p| p.get())
    }
    #[cfg(not(test))]
    {
        false
    }
}

fn floats(t: &Tensor) -> Result<Vec<f64>, String> {
    let v: Vec<f64> = t
        .cast_to::<f64>()
        .and_then(|t| Ok(t.to_plain_array_view::<f64>()?.iter().copied().collect()))
        .map_err(|e| format!("weights: {e}"))?;
    match v.iter().find(|w| !w.is_finite()) {
        Some(w) => Err(format!("a weight is {w}: weights must be finite")),
        None => Ok(v),
    }
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f` with every coordinate of `dims` (odometer order).
fn each_coord(dims: &[usize], mut f: impl FnMut(&[usize])) {
    if dims.contains(&0) {
        return;
    }
    let mut c = vec![0; dims.len()];
    loop {
        f(&c);
        let mut i = dims.len();
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            c[i] += 1;
            if c[i] < dims[i] {
                break;
            }
            c[i] = 0;
        }
    }
}

/// The Conv's Linear read off its constants, or `None` for a form this does not read (the
/// caller probes it). Every term in a window is kept, zero weights included, and padding
/// contributes none, exactly as probing with an all-ones kernel finds them.
fn direct(l: &Loader, node: &TypedNode, op: &Conv) -> Result<Option<Linear<f64>>, String> {
    if op.kernel_fmt != KernelFormat::OIHW || !(2..=3).contains(&node.inputs.len()) {
        return Ok(None);
    }
    let Value::Const(kernel) = l.value(node, 1) else {
        return Ok(None);
    };
    let spec = &op.pool_spec;
    let x_shape = l.shape(node.inputs[0])?;
    let y_shape = l.shape(OutletId::new(node.id, 0))?;
    let (xs, ys) = (
        spec.data_format
            .shape(x_shape.clone())
            .map_err(|e| e.to_string())?,
        spec.data_format
            .shape(y_shape.clone())
            .map_err(|e| e.to_string())?,
    );
    let rank = spec.kernel_shape.len();
    let (c_in, c_out, group) = (*xs.c(), *ys.c(), op.group);
    let k_shape = kernel.shape().to_vec();
    let batch = xs.n().copied().unwrap_or(1);
    let consistent = group > 0
        && xs.hw_dims().len() == rank
        && ys.hw_dims().len() == rank
        && ys.n().copied().unwrap_or(1) == batch
        && k_shape.len() == rank + 2
        && k_shape[0] == c_out
        && k_shape[2..] == spec.kernel_shape[..]
        && c_out % group == 0
        && k_shape[1] * group == c_in;
    if !consistent {
        return Ok(None);
    }
    let bias = match node.inputs.len() {
        3 => match l.value(node, 2) {
            Value::Const(b) => floats(&b)?,
            _ => return Ok(None),
        },
        _ => vec![0.0],
    };
    if bias.len() != 1 && bias.len() != c_out {
        return Ok(None);
    }
    let (dil, stride) = (spec.dilations(), spec.strides());
    let pads = spec.computed_padding(xs.hw_dims());
    if dil.len() != rank
        || stride.len() != rank
        || (0..rank).any(|d| pads[d].convoluted != ys.hw_dims()[d])
    {
        return Ok(None);
    }
    let in_per_group = k_shape[1];
    let out_per_group = c_out / group;
    let window: usize = spec.kernel_shape.iter().product();
    let macs = [y_shape.iter().product::<usize>(), in_per_group, window]
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(s))
        .filter(|&n| n <= MAX_MACS)
        .ok_or_else(|| format!("the convolution has more than {MAX_MACS} multiply-accumulates"))?;
    let w = floats(&kernel)?;
    let k_strides = strides(&k_shape);
    let (x_hw, y_hw) = (xs.hw_dims().to_vec(), ys.hw_dims().to_vec());
    let (x_hw_strides, y_hw_strides) = (xs.hw_strides().to_vec(), ys.hw_strides().to_vec());
    let (x_n, y_n) = (
        xs.n_stride().copied().unwrap_or(0),
        ys.n_stride().copied().unwrap_or(0),
    );
    let (x_c, y_c) = (*xs.c_stride(), *ys.c_stride());
    let out_len: usize = y_shape.iter().product();
    let mut rows: Vec<Row<f64>> = (0..out_len)
        .map(|_| Row {
            bias: 0.0,
            terms: Vec::new(),
        })
        .collect();
    let mut placed = 0usize;
    for n in 0..batch {
        for o in 0..c_out {
            let g = o / out_per_group;
            let b = if bias.len() == 1 { bias[0] } else { bias[o] };
            each_coord(&y_hw, |p| {
                let at =
                    n * y_n + o * y_c + (0..rank).map(|d| p[d] * y_hw_strides[d]).sum::<usize>();
                let row = &mut rows[at];
                row.bias = b;
                row.terms.reserve(in_per_group * window);
                each_coord(&spec.kernel_shape, |kc| {
                    let mut x_at = n * x_n;
                    for d in 0..rank {
                        let pos = (p[d] * stride[d] + kc[d] * dil[d]) as isize
                            - pads[d].pad_before as isize;
                        if pos < 0 || pos as usize >= x_hw[d] {
                            return;
                        }
                        x_at += pos as usize * x_hw_strides[d];
                    }
                    let k_at: usize = o * k_strides[0]
                        + (0..rank).map(|d| kc[d] * k_strides[d + 2]).sum::<usize>();
                    for i in 0..in_per_group {
                        let c = g * in_per_group + i;
                        row.terms
                            .push((Ref(0, (x_at + c * x_c) as u32), w[k_at + i * k_strides[1]]));
                    }
                });
                placed += 1;
            });
        }
    }
    if placed != out_len {
        return Ok(None);
    }
    debug_assert!(rows.iter().map(|r| r.terms.len()).sum::<usize>() <= macs);
    Ok(Some(Linear { rows, relu: false }.normalized()))
}
