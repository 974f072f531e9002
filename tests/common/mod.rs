//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use zkinfer::pipeline::{self, CompileOptions, Quiet};

/// The bundled models.
pub const MODELS: [&str; 13] = [
    "mlp_tiny",
    "mlp_digits",
    "mlp_wide",
    "cnn_small",
    "cnn_bn",
    "dw_separable",
    "residual_mlp",
    "residual_conv",
    "mlp_sigmoid",
    "mlp_tanh",
    "mlp_tanh_softmax",
    "attention_tiny",
    "cnn_gelu_ln",
];

/// `models/<name>` in the repository.
pub fn model_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

/// `expected.json`'s argmax.
pub fn expected_argmax(name: &str) -> usize {
    let text =
        std::fs::read_to_string(model_dir(name).join("expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("expected.json parses");
    v["argmax"].as_u64().expect("argmax") as usize
}

/// `expected.json`'s float output.
pub fn expected_output(name: &str) -> Vec<f64> {
    let text =
        std::fs::read_to_string(model_dir(name).join("expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("expected.json parses");
    v["output"]
        .as_array()
        .expect("output")
        .iter()
        .map(|x| x.as_f64().expect("float"))
        .collect()
}

/// Compiles a bundled model (with its calibration data) into `out`.
pub fn compile(name: &str, out: &Path) -> pipeline::CompileReport {
    let src = model_dir(name);
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), out, &opts).expect("compile")
}

/// A build folder with keys, made once per test binary per model.
pub fn built(name: &'static str) -> &'static Path {
    static DIRS: OnceLock<std::sync::Mutex<Vec<(&'static str, &'static Path)>>> = OnceLock::new();
    let dirs = DIRS.get_or_init(Default::default);
    let mut dirs = dirs.lock().expect("lock");
    if let Some((_, d)) = dirs.iter().find(|(n, _)| *n == name) {
        return d;
    }
    let root = Box::leak(Box::new(tempfile::tempdir().expect("tempdir")));
    let dir: &'static Path = Box::leak(root.path().join(name).into_boxed_path());
    compile(name, dir);
    pipeline::setup(dir, None, &Quiet).expect("setup");
    dirs.push((name, dir));
    dir
}

/// Runs the real `zkinfer` binary.
pub fn zkinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .output()
        .expect("run zkinfer")
}

/// `zkinfer verify` of `proof` against `commitment` and `vk`, with `extra` arguments.
pub fn verify_with(commitment: &Path, vk: &Path, proof: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "verify",
        "--commitment",
        s(commitment),
        "--vk",
        s(vk),
        "--proof",
        s(proof),
    ];
    args.extend_from_slice(extra);
    zkinfer(&args)
}

/// `zkinfer verify` of `proof` against a build folder's own commitment.json and vk.bin.
pub fn verify_build(dir: &Path, proof: &Path) -> Output {
    verify_with(
        &dir.join("commitment.json"),
        &dir.join("vk.bin"),
        proof,
        &[],
    )
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Exit code, stdout and stderr in one string (for assertion messages).
pub fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// JSON as zkinfer writes it (pretty, a final newline) through `T`'s own field order, which
/// is what `verify` accepts; compact JSON if `v` no longer fits `T` (a malformed edit).
pub fn canonical_as<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: &serde_json::Value,
) -> Vec<u8> {
    match serde_json::from_value::<T>(v.clone()) {
        Ok(t) => {
            let mut b = serde_json::to_vec_pretty(&t).expect("json");
            b.push(b'\n');
            b
        }
        Err(_) => serde_json::to_vec(v).expect("json"),
    }
}
