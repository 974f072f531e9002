//! Every bundled model: MockProver satisfied, witness argmax equals expected.json's, the float
//! error reported, and a tampered output caught.

mod common;

use common::{compile, expected_argmax, expected_output, model_dir, MODELS};
use halo2_proofs::dev::MockProver;
use std::sync::Arc;
use zkinfer::artifact::{self, ModelFile, MODEL_FORMAT};
use zkinfer::circuit::{instance_field, CircuitWitness, ModelCircuit};
use zkinfer::pipeline::read_input;
use zkinfer::witness::{self, dequantize};

fn check_model(name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = compile(name, tmp.path());
    let settings = report.settings;
    let model: ModelFile =
        artifact::read_json(&tmp.path().join("model.json"), MODEL_FORMAT).expect("model.json");
    let model = model.model;
    let input = read_input(&model_dir(name).join("input.json"), settings.input_len).expect("input");
    let trace = witness::run(
        &model,
        witness::quantize_input(&model, &input).expect("quantize"),
    )
    .expect("witness");

    // witness output vs the float reference
    let fixed: Vec<f64> = trace
        .output()
        .iter()
        .map(|&q| dequantize(q, settings.output_scale))
        .collect();
    let max_err = fixed
        .iter()
        .zip(expected_output(name))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "{name}: k = {}, lanes = {}, max |float - fixed| = {max_err:.4}",
        settings.k, settings.shape.lanes
    );
    assert_eq!(
        artifact::argmax(trace.output()),
        expected_argmax(name),
        "{name}: argmax"
    );
    let cal = report.calibration.expect("calibration report");
    assert_eq!(
        cal.out_of_range, 0,
        "{name}: calibration samples out of range"
    );
    assert!(
        cal.argmax_agree * 10 >= cal.samples * 9,
        "{name}: argmax agreement {}/{}",
        cal.argmax_agree,
        cal.samples
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
