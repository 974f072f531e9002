//! Every bundled model through the real binary: compile (with its calibration data), setup,
//! prove, verify, with the float model's prediction; and graphs with several inputs and
//! outputs, and with a fixed batch, proved from the CLI.

mod common;

use common::{describe, expected_argmax, model_dir, s, zkinfer, MODELS};
use std::path::Path;

fn run_ok(args: &[&str]) -> String {
    let out = zkinfer(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// compile (with `extra` options) → setup → prove → verify; returns verify's stdout. The
/// proof is left at `dir/proof.json`.
fn pipeline(
    model: &Path,
    calibration: Option<&Path>,
    input: &Path,
    dir: &Path,
    extra: &[&str],
) -> String {
    let mut compile = vec!["compile", s(model), "-o", s(dir)];
    if let Some(c) = calibration {
        compile.extend(["--calibration", s(c)]);
    }
    compile.extend(extra);
    run_ok(&compile);
    run_ok(&["setup", s(dir), "--insecure-dev-srs"]);
    let proof = dir.join("proof.json");
    run_ok(&["prove", s(dir), "--input", s(input), "-o", s(&proof)]);
    let (c, vk) = (dir.join("commitment.json"), dir.join("vk.bin"));
    run_ok(&[
        "verify",
        "--commitment",
        s(&c),
        "--vk",
        s(&vk),
        "--proof",
        s(&proof),
    ])
}

/// Compiles, sets up, proves and verifies every bundled model from the CLI with the compile
/// flags `extra`; the output must name the float model's class (unless the output is
/// hashed) and contain `expect`.
fn every_model(extra: &[&str], expect: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in MODELS {
        let src = model_dir(name);
        let out = pipeline(
            &src.join("network.onnx"),
            Some(&src.join("calibration.json")),
            &src.join("input.json"),
            &tmp.path().join(name),
            extra,
        );
        let class = format!("predicted class: {}", expected_argmax(name));
        assert!(
            out.contains(expect) && (expect.contains("output hashed") || out.contains(&class)),
            "{name}: {out}"
        );
    }
}

#[test]
fn every_bundled_model_proves_and_verifies_with_private_weights_and_a_hashed_input() {
    every_model(
        &["--weights", "private", "--input", "hashed"],
        "weights private · input hashed ",
    );
}

#[test]
fn every_bundled_model_proves_and_verifies_with_a_hashed_output() {
    every_model(
        &["--input", "private", "--output-visibility", "hashed"],
        "weights fixed · input private · output hashed ",
    );
}

#[test]
fn every_bundled_model_proves_and_verifies_with_the_float_prediction() {
    every_model(&[], "weights fixed · input public · output public");
}

#[test]
fn two_inputs_and_two_outputs_are_all_public_and_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops");
    let input = tmp.path().join("input.json");
    std::fs::write(
        &input,
        r#"{"input_data": [[0.5, -1, 2, 0.25, 0], [1, -2, 1.5, 0.25, -0.5]]}"#,
    )
    .expect("write");
    let out = pipeline(
        &fixtures.join("max_min_tensors.onnx"),
        None,
        &input,
        &tmp.path().join("maxmin"),
        &[],
    );
    assert!(
        out.contains("output `out0` [1, 5]: [1.000, -1.000, 2.000, 0.250, 0.000]"),
        "{out}"
    );
    assert!(
        out.contains("output `out1` [1, 5]: [0.500, -2.000, 1.500, 0.250, -0.500]"),
        "{out}"
    );
    // one list per input is required
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"input_data": [[0.5, -1, 2, 0.25, 0, 1, -2, 1.5, 0.25]]}"#,
    )
    .expect("write");
    let dir = tmp.path().join("maxmin");
    let o = zkinfer(&[
        "prove",
        s(&dir),
        "--input",
        s(&bad),
        "-o",
        s(&dir.join("p2.json")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(!dir.join("p2.json").exists());
}

#[test]
fn a_fixed_batch_is_proved_as_declared() {
    // MatMul on a fixed batch of 2: the input file holds both samples
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops");
    let input = tmp.path().join("input.json");
    std::fs::write(&input, r#"{"input_data": [[1, 0, 0, 0, 0, 1, 0, 0]]}"#).expect("write");
    let out = pipeline(
        &fixtures.join("matmul_batch2.onnx"),
        None,
        &input,
        &tmp.path().join("batch"),
        &[],
    );
    assert!(out.contains("proof accepted"), "{out}");
}

#[test]
fn accuracy_reports_agreement_errors_and_labels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = model_dir("mlp_sigmoid");
    let dir = tmp.path().join("m");
    run_ok(&[
        "compile",
        s(&src.join("network.onnx")),
        "-o",
        s(&dir),
        "--calibration",
        s(&src.join("calibration.json")),
    ]);
    let cal = src.join("calibration.json");
    let out = run_ok(&["accuracy", s(&dir), "--data", s(&cal)]);
    assert!(
        out.contains("argmax agreement (fixed point vs float): 32/32 (100.0 %)"),
        "{out}"
    );
    // labels inside the data file, and --json
    let mut data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cal).expect("read")).expect("json");
    data["labels"] = serde_json::json!(vec![7; 32]);
    let with_labels = tmp.path().join("data.json");
    std::fs::write(&with_labels, data.to_string()).expect("write");
    let out = run_ok(&["accuracy", s(&dir), "--data", s(&with_labels), "--json"]);
    let r: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(r["samples"], 32);
    assert_eq!(r["argmax_agree"], 32);
    assert!(r["max_abs_error"][0].as_f64().expect("f") < 0.01);
    // fixed and float predictions agree everywhere, so their label accuracies do too
    assert_eq!(r["float_label_accuracy_pct"], r["fixed_label_accuracy_pct"]);
    assert!(r["float_label_accuracy_pct"].as_f64().expect("pct") > 0.0);
    // a labels file with the wrong count is an error (exit 2)
    let bad = tmp.path().join("labels.json");
    std::fs::write(&bad, "[1, 2, 3]").expect("write");
    let o = zkinfer(&["accuracy", s(&dir), "--data", s(&cal), "--labels", s(&bad)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 labels for 32 samples"));
}

#[test]
fn prove_argmax_makes_the_class_the_public_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = model_dir("cnn_bn");
    let dir = tmp.path().join("am");
    let out = pipeline(
        &src.join("network.onnx"),
        Some(&src.join("calibration.json")),
        &src.join("input.json"),
        &dir,
        &["--prove-argmax"],
    );
    let proof = dir.join("proof.json");
    let class = expected_argmax("cnn_bn");
    assert!(out.contains(&format!("predicted class: {class}")), "{out}");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).expect("read")).expect("json");
    assert_eq!(p["outputs"][0]["values"], serde_json::json!([class]));
    assert_eq!(p["outputs"][0]["name"], "argmax");
}
