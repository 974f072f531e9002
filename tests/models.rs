//! Every bundled model: MockProver satisfied (witness and circuit agree bit for bit), witness
//! argmax equals expected.json's and the float model's on every calibration sample, the float
//! error reported, and a tampered output caught.

mod common;

use common::{compile, expected_argmax, expected_output, model_dir, MODELS};
use halo2_proofs::dev::MockProver;
use std::sync::Arc;
use zkinfer::artifact::{self, ModelFile, MODEL_FORMAT};
use zkinfer::circuit::{instance_field, CircuitWitness, ModelCircuit};
use zkinfer::pipeline::{self, read_input, CompileOptions, CompileReport, AUTO_TOLERANCE};
use zkinfer::quantize::QuantOptions;
use zkinfer::witness::{self, dequantize};

fn check_model(name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = compile(name, tmp.path());
    let settings = report.settings;
    let model: ModelFile =
        artifact::read_json(&tmp.path().join("model.json"), MODEL_FORMAT).expect("model.json");
    let model = model.model;
    let lens: Vec<usize> = settings
        .inputs
        .iter()
        .map(|i| i.shape.iter().product())
        .collect();
    let input = read_input(&model_dir(name).join("input.json"), &lens).expect("input");
    let trace = witness::run(
        &model,
        witness::quantize_input(&model, &input).expect("quantize"),
    )
    .expect("witness");

    // witness output vs the float reference
    let scale = settings.outputs[0].scale;
    let fixed: Vec<f64> = trace
        .output()
        .iter()
        .map(|&q| dequantize(q, scale))
        .collect();
    let max_err = fixed
        .iter()
        .zip(expected_output(name))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "{name}: k = {}, lanes = {}, nodes = {}, max |float - fixed| = {max_err:.4}",
        settings.k,
        settings.shape.lanes,
        settings.nodes.len()
    );
    assert_eq!(
        artifact::argmax(&trace.output()),
        expected_argmax(name),
        "{name}: argmax"
    );
    let cal = report.calibration.expect("calibration report");
    assert_eq!(
        cal.out_of_range, 0,
        "{name}: calibration samples out of range"
    );
    assert_eq!(
        cal.argmax_agree, cal.samples,
        "{name}: argmax agreement with the float model on the calibration data"
    );

    // the circuit accepts exactly this witness (witness.rs and the chips agree bit for bit)
    let model = Arc::new(model);
    let cw = CircuitWitness::new(&model, settings.shape, &trace).expect("circuit witness");
    let instance = instance_field(&cw.instance);
    let circuit = ModelCircuit::prove(model.clone(), settings.shape, cw);
    let prover = MockProver::run(settings.k, &circuit, vec![instance.clone()]).expect("mock run");
    if let Err(failures) = prover.verify() {
        panic!(
            "{name}: {} failures, first: {:?}",
            failures.len(),
            failures.first()
        );
    }

    // a different claimed output is not
    let mut wrong = instance;
    let last = wrong.len() - 1;
    wrong[last] += halo2_proofs::halo2curves::bn256::Fr::one();
    let prover = MockProver::run(settings.k, &circuit, vec![wrong]).expect("mock run");
    assert!(
        prover.verify_par().is_err(),
        "{name}: a changed output must not satisfy the circuit"
    );
}

#[test]
fn mlp_tiny() {
    check_model(MODELS[0]);
}

#[test]
fn mlp_digits() {
    check_model(MODELS[1]);
}

#[test]
fn mlp_wide() {
    check_model(MODELS[2]);
}

#[test]
fn cnn_small() {
    check_model(MODELS[3]);
}

#[test]
fn cnn_bn() {
    check_model(MODELS[4]);
}

#[test]
fn dw_separable() {
    check_model(MODELS[5]);
}

#[test]
fn residual_mlp() {
    check_model(MODELS[6]);
}

#[test]
fn residual_conv() {
    check_model(MODELS[7]);
}

#[test]
fn mlp_sigmoid() {
    check_model(MODELS[8]);
}

#[test]
fn mlp_tanh() {
    check_model(MODELS[9]);
}

#[test]
fn mlp_tanh_softmax() {
    check_model(MODELS[10]);
}

#[test]
fn attention_tiny() {
    check_model(MODELS[11]);
}

#[test]
fn cnn_gelu_ln() {
    check_model(MODELS[12]);
}

fn compile_with_bits(name: &str, out: &std::path::Path, bits: Option<u32>) -> CompileReport {
    let src = model_dir(name);
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        quant: QuantOptions {
            lookup_bits: bits,
            ..Default::default()
        },
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), out, &opts).expect("compile")
}

#[test]
fn compile_takes_a_smaller_table_only_where_it_lowers_k_within_the_tolerance() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // mlp_tiny: at the default 11 bits its tables set k = 12
    let auto = compile_with_bits("mlp_tiny", &tmp.path().join("auto"), None);
    let given = compile_with_bits("mlp_tiny", &tmp.path().join("given"), Some(11));
    assert!(given.table_trials.is_empty(), "--lookup-bits is obeyed");
    assert_eq!(given.settings.table_bits, 11);
    assert!(
        auto.settings.table_bits < 11 && auto.settings.k < given.settings.k,
        "chose {} bits, k = {}",
        auto.settings.table_bits,
        auto.settings.k
    );
    let (a, g) = (auto.calibration.unwrap(), given.calibration.unwrap());
    assert!(a.max_abs_error <= (AUTO_TOLERANCE * g.max_abs_output).max(g.max_abs_error));
    assert_eq!(a.argmax_agree, g.argmax_agree);
    assert_eq!(a.out_of_range, 0);
    // the next smaller size was tried and refused for its error, not skipped
    let next = auto
        .table_trials
        .iter()
        .find(|t| t.bits == auto.settings.table_bits - 1)
        .expect("the next size was tried");
    assert!(
        next.rejected
            .as_deref()
            .is_some_and(|why| why.contains("tolerance")),
        "{next:?}"
    );
    // cnn_gelu_ln: its rows set k = 13 at any table size, so it keeps the precise tables
    let rows = compile_with_bits("cnn_gelu_ln", &tmp.path().join("rows"), None);
    assert_eq!(rows.settings.table_bits, 11);
    assert_eq!(rows.settings.k, 13);
}
