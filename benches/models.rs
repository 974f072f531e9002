//! Per-model benches of the user-facing steps (each the library call the CLI makes, files
//! included): witness (the fixed-point inference, bit-exact with the circuit), setup (keygen),
//! prove and verify, on every bundled model (or those named in ZKINFER_BENCH_MODELS,
//! comma-separated), dev SRS:
//! `cargo bench --bench models` (`-- prove` for one step).

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};
use zkinfer::pipeline::{self, CompileOptions, Quiet};

fn models() -> Vec<String> {
    if let Ok(list) = std::env::var("ZKINFER_BENCH_MODELS") {
        return list.split(',').map(str::to_string).collect();
    }
    let mut v: Vec<String> = std::fs::read_dir("models")
        .expect("models/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("network.onnx").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn build(name: &str, root: &Path) -> PathBuf {
    let src = Path::new("models").join(name);
    let dir = root.join(name);
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), &dir, &opts).expect("compile");
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    dir
}

fn bench(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("tempdir");
    for name in models() {
        let dir = build(&name, root.path());
        let input = Path::new("models").join(&name).join("input.json");
        let proof = dir.join("proof.json");
        pipeline::prove(&dir, &input, &proof, &Quiet).expect("prove");
        let mut g = c.benchmark_group(name.as_str());
        g.sample_size(10);
        g.bench_function("witness (fixed point and float on input.json)", |b| {
            b.iter(|| pipeline::accuracy(&dir, &input, None, |_, _| {}).expect("witness"))
        });
        g.bench_function("setup", |b| {
            b.iter(|| pipeline::setup(&dir, None, &Quiet).expect("setup"))
        });
        g.bench_function("prove", |b| {
            b.iter(|| pipeline::prove(&dir, &input, &proof, &Quiet).expect("prove"))
        });
        g.bench_function("verify", |b| {
            b.iter(|| {
                pipeline::verify(&dir.join("commitment.json"), &dir.join("vk.bin"), &proof)
                    .expect("verify")
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
