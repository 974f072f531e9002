//! The whole `verify` on an arbitrary proof.json against mlp_tiny's real commitment and vk
//! (compiled and set up once per process): must return accepted or rejected, never panic,
//! and never accept a proof of another output than the honest one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use zkinfer::pipeline::{self, CompileOptions, Quiet};

struct Build {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    honest: Vec<u8>,
}

fn build() -> &'static Build {
    static B: OnceLock<Build> = OnceLock::new();
    B.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("m");
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/mlp_tiny");
        let opts = CompileOptions {
            calibration: Some(src.join("calibration.json")),
            ..Default::default()
        };
        pipeline::compile(&src.join("network.onnx"), &dir, &opts).expect("compile");
        pipeline::setup(&dir, None, &Quiet).expect("setup");
        let proof = dir.join("honest.json");
        pipeline::prove(&dir, &src.join("input.json"), &proof, &Quiet).expect("prove");
        let honest = std::fs::read(&proof).expect("read");
        Build {
            _tmp: tmp,
            dir,
            honest,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let b = build();
    let f = b.dir.join("fuzzed.json");
    std::fs::write(&f, data).expect("write");
    let r = pipeline::verify(&b.dir.join("commitment.json"), &b.dir.join("vk.bin"), &f);
    // another valid proof of the honest statement may be accepted (the seed is one: keygen is
    // deterministic, proofs are not); a proof of any other output is a forgery
    if let Ok(v) = r {
        let honest: zkinfer::artifact::ProofFile =
            serde_json::from_slice(&b.honest).expect("honest proof");
        assert!(
            v.outputs.len() == honest.outputs.len()
                && v.outputs.iter().zip(&honest.outputs).all(|(a, h)| a.same_as(h)),
            "a fuzzed proof of another output was accepted"
        );
    }
});
