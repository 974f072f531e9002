//! Op-level tests: every fixture under tests/fixtures/ops (one ONNX op or op form each) is
//! loaded, evaluated in floats against tract's own (optimized) evaluation on random inputs and
//! against onnxruntime's output saved beside the fixture (`<name>.ort.json`),
//! quantized and run through the witness (within the error its scales predict), and checked by
//! MockProver (witness and circuit agree).

use super::*;
use crate::circuit::{instance_field, CircuitWitness, ModelCircuit};
use crate::ops::{forward, split_inputs};
use crate::quantize::{quantize, QuantOptions};
use crate::witness;
use halo2_proofs::dev::MockProver;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn uniform(rng: &mut ChaCha20Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| (rng.next_u32() as f64 / u32::MAX as f64) * 2.0 - 1.0)
        .map(|v| (v * 64.0).round() / 64.0)
        .collect()
}

/// tract's own evaluation (the optimized plan, not the decluttered graph zkinfer reads).
fn tract_reference(path: &Path, inputs: &[(Vec<usize>, Vec<f64>)]) -> Vec<f64> {
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .expect("load")
        .into_optimized()
        .expect("optimize")
        .into_runnable()
        .expect("runnable");
    let tensors: TVec<TValue> = inputs
        .iter()
        .map(|(shape, v)| {
            let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::from_shape(shape, &f).expect("tensor").into()
        })
        .collect();
    model
        .run(tensors)
        .expect("run")
        .iter()
        .flat_map(|t| {
            t.cast_to::<f64>()
                .expect("cast")
                .to_plain_array_view::<f64>()
                .expect("view")
                .iter()
                .copied()
                .collect::<Vec<_>>()
        })
        .collect()
}

fn check_fixture(name: &str) {
    let path = fixtures().join("ops").join(format!("{name}.onnx"));
    let g = load_onnx(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut rng = ChaCha20Rng::seed_from_u64(name.len() as u64);
    let samples: Vec<Vec<Vec<f64>>> = (0..4)
        .map(|_| {
            (0..g.inputs.len())
                .map(|t| uniform(&mut rng, g.len(t)))
                .collect()
        })
        .collect();
    let x = &samples[0];
    let shaped: Vec<(Vec<usize>, Vec<f64>)> = g
        .inputs
        .iter()
        .zip(x)
        .map(|(i, v)| (i.shape.clone(), v.clone()))
        .collect();
    let want = tract_reference(&path, &shaped);
    let got = forward(&g, x);
    assert_eq!(got.len(), want.len(), "{name}: output length");
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "{name}: float output {i}: zkinfer {a} vs tract {b}"
        );
    }

    // and against onnxruntime (the ONNX reference runtime) on the fixture's own input
    let ort: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path.with_extension("ort.json")).expect("ort.json"),
    )
    .expect("json");
    let lists = |k: &str| -> Vec<Vec<f64>> {
        ort[k]
            .as_array()
            .expect("lists")
            .iter()
            .map(|l| {
                l.as_array()
                    .expect("list")
                    .iter()
                    .map(|v| v.as_f64().expect("number"))
                    .collect()
            })
            .collect()
    };
    let ort_out: Vec<f64> = lists("outputs").concat();
    let ours = forward(&g, &lists("inputs"));
    assert_eq!(
        ours.len(),
        ort_out.len(),
        "{name}: output length vs onnxruntime"
    );
    for (i, (a, b)) in ours.iter().zip(&ort_out).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "{name}: float output {i}: zkinfer {a} vs onnxruntime {b}"
        );
    }

    let q = quantize(&g, Some(&samples), &QuantOptions::default())
        .unwrap_or_else(|e| panic!("{name}: quantize: {e}"));
    let flat: Vec<f64> = x.concat();
    let trace = witness::quantize_input(&q, &flat)
        .and_then(|v| witness::run(&q, v))
        .unwrap_or_else(|e| panic!("{name}: witness: {e}"));
    let scales: Vec<u32> = q
        .graph
        .outputs
        .iter()
        .flat_map(|&t| std::iter::repeat_n(q.scale(t), q.graph.len(t)))
        .collect();
    assert_eq!(
        trace.output().len(),
        want.len(),
        "{name}: fixed-point output length"
    );
    let worst = trace
        .output()
        .iter()
        .zip(&scales)
        .zip(&want)
        .map(|((&v, &s), b)| (witness::dequantize(v, s) - b).abs())
        .fold(0f64, f64::max);
    println!("{name}: max fixed-point error {worst:.2e}");
    for (i, ((&v, &s), b)) in trace.output().iter().zip(&scales).zip(&want).enumerate() {
        let a = witness::dequantize(v, s);
        // calibrated scales of ~14 fractional bits: errors of a few 2^-14 per op
        assert!(
            (a - b).abs() <= 1e-3 * (1.0 + b.abs()),
            "{name}: fixed-point output {i}: {a} vs {b} (scale {s})"
        );
    }

    let plan = crate::plan::plan(&q).unwrap_or_else(|e| panic!("{name}: plan: {e}"));
    let q = std::sync::Arc::new(q);
    let cw = CircuitWitness::new(&q, plan.shape, &trace).expect("circuit witness");
    let instance = instance_field(&cw.instance);
    let circuit = ModelCircuit::prove(q.clone(), plan.shape, cw);
    let prover = MockProver::run(plan.k, &circuit, vec![instance]).expect("mock");
    if let Err(f) = prover.verify() {
        panic!("{name}: {} failures, first {:?}", f.len(), f.first());
    }
    // the graph round-trips through model.json's serialization
    let json = serde_json::to_string(&*q).expect("serialize");
    let back: crate::quantize::QuantModel = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, *q, "{name}: model.json round trip");
    assert_eq!(split_inputs(&q.graph, &flat).len(), q.graph.inputs.len());
}

macro_rules! fixture_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_fixture(stringify!($name));
            }
        )*
    };
}

fixture_tests!(
    conv_defaults,
    conv_stride_pad,
    conv_asym_pad,
    conv_same_upper,
    conv_same_lower,
    conv_dilated,
    conv_groups,
    conv_depthwise,
    conv_1x1,
    conv_1d,
    batchnorm_after_relu,
    conv_bn,
    maxpool_2x2,
    maxpool_pad,
    maxpool_dilated_ceil,
    avgpool_pad_excl,
    avgpool_pad_incl,
    global_avgpool,
    global_maxpool,
    add_bcast_const,
    sub_const_left,
    mul_div_const,
    add_two_tensors_bcast,
    sub_two_tensors,
    max_min_tensors,
    reduce_sum_axes,
    reduce_mean_keep0,
    reduce_max,
    reduce_min_all,
    reshape_flatten,
    flatten_axis2,
    transpose,
    concat_acts_const,
    slice_steps,
    squeeze_unsqueeze,
    pad_const,
    gather_const_idx,
    expand,
    tile,
    identity_relu,
    leaky_relu,
    clip,
    neg_abs,
    relu_only,
    residual_gemm,
    matmul_batch2,
    mul_two_tensors_bcast,
    square_mul_self,
    pow_int,
    gemm_weight_first_pruned,
    resize_nearest,
    resize_linear,
    conv_transpose,
    dropout_inference,
    dynamic_flatten,
    split_three,
    sum_mean_variadic,
    prelu_const,
    prelu_scalar_after_gemm,
    prelu_last_axis,
    where_leaky,
    where_relu_less,
    gemm_sigmoid,
    tanh_exp,
    log_reciprocal,
    erf_gelu,
    sin_cos_sign,
    elu_selu_celu,
    softplus_softsign_mish,
    hard_sigmoid_swish,
    atan_sinh_cosh_asinh,
    pow_fractional,
    pow_const_base,
    gemm_softmax,
    softmax_axis1,
    logsoftmax,
    layernorm17,
    instancenorm,
    div_two_tensors,
    matmul_two_acts,
    attention_head,
);

#[test]
fn celu_with_alpha_other_than_one_is_refused_not_mis_proved() {
    let err = load_onnx(&fixtures().join("ops/celu_alpha.onnx")).expect_err("celu alpha");
    let msg = format!("{err}");
    assert!(msg.contains("celu") && msg.contains("alpha = 1.3"), "{msg}");
}

#[test]
fn a_select_between_unrelated_tensors_is_reported() {
    let err = load_onnx(&fixtures().join("ops/where_two_tensors.onnx")).expect_err("where");
    let msg = err.to_string();
    assert!(
        msg.contains("Iff") && msg.contains("not constant multiples"),
        "{msg}"
    );
}

#[test]
fn every_unsupported_node_is_reported_at_once() {
    let err = load_onnx(&fixtures().join("ops/unsupported_many.onnx")).expect_err("unsupported");
    let nodes: Vec<(&str, &str)> = err
        .unsupported()
        .iter()
        .map(|u| (u.node.as_str(), u.op.as_str()))
        .collect();
    assert_eq!(nodes, [("floor1", "Floor"), ("round2", "RoundHalfToEven")]);
}

#[test]
fn bundled_models_match_onnxruntime() {
    // every model folder under models/, so a new bundled model is checked without a list
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("models/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("network.onnx").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "{names:?}");
    for name in &names {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name);
        let g = load_onnx(&dir.join("network.onnx")).expect("load");
        let json = |f: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).expect("read"))
                .expect("json")
        };
        let input: Vec<f64> = json("input.json")["input_data"][0]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_f64().expect("f"))
            .collect();
        let want: Vec<f64> = json("expected.json")["output"]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_f64().expect("f"))
            .collect();
        let got = forward(&g, &[input]);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn missing_and_garbage_files_are_errors() {
    assert!(matches!(
        load_onnx(Path::new("/nonexistent/model.onnx")),
        Err(OnnxError::Read { .. })
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("garbage.onnx");
    std::fs::write(&p, b"this is not protobuf \xff\xfe\x00").expect("write");
    assert!(load_onnx(&p).is_err());
}

#[test]
fn symbolic_batch_becomes_one() {
    let dir = fixtures();
    let g = load_onnx(&dir.join("matmul_chain.onnx")).expect("load");
    assert_eq!(
        g.inputs[0].shape,
        vec![1, 2, 3],
        "symbolic batch fixed to 1"
    );
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("matmul_chain.json")).expect("read"),
    )
    .expect("json");
    let x: Vec<f64> = reference["input"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("f"))
        .collect();
    let want: Vec<f64> = reference["output"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("f"))
        .collect();
    for (g, w) in forward(&g, &[x]).iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "{g} vs {w}");
    }
}
