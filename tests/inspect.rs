//! `zkinfer inspect`: the layout the plan chose and estimates checked against the real keys
//! and proofs (sizes only: timings are measured by the benches, never asserted).

mod common;

use common::{built, describe, s, zkinfer};
use zkinfer::pipeline::{self, Quiet};

fn within(est: u64, real: u64, margin: f64) -> bool {
    let (e, r) = (est as f64, real as f64);
    (e - r).abs() <= margin * r
}

#[test]
fn inspect_names_each_layers_layout_and_estimates_key_and_proof_sizes() {
    for (name, layout) in [("mlp_wide", "freivalds"), ("mlp_tanh_softmax", "dense")] {
        let dir = built(name);
        let r = pipeline::inspect(dir).expect("inspect");
        assert!(!r.layers.is_empty());
        let linear: Vec<_> = r
            .layers
            .iter()
            .filter(|l| l.op.starts_with("linear"))
            .collect();
        assert!(
            linear.iter().all(|l| l.layout.contains(layout)),
            "{name}: {:?}",
            linear.iter().map(|l| &l.layout).collect::<Vec<_>>()
        );
        let pk = std::fs::metadata(dir.join("pk.bin")).expect("pk").len();
        assert!(
            within(r.est_pk_bytes, pk, 0.25),
            "{name}: estimated pk {} vs {pk}",
            r.est_pk_bytes
        );
        let proof = dir.join("inspect-proof.json");
        let input = common::model_dir(name).join("input.json");
        pipeline::prove(dir, &input, &proof, &Quiet).expect("prove");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&proof).expect("read")).expect("json");
        let bytes = json["proof"].as_str().expect("hex").len() as u64 / 2;
        assert!(
            within(r.est_proof_bytes, bytes, 0.15),
            "{name}: estimated proof {} vs {bytes}",
            r.est_proof_bytes
        );
        // the CLI prints the same, as text and JSON
        let o = zkinfer(&["inspect", s(dir)]);
        assert!(o.status.success(), "{}", describe(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains(layout) && text.contains("estimates"),
            "{text}"
        );
        let o = zkinfer(&["inspect", s(dir), "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(j["k"].as_u64(), Some(u64::from(r.k)));
    }
}

#[test]
fn inspect_of_a_missing_folder_is_a_clear_error() {
    let o = zkinfer(&["inspect", "/nonexistent/build"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such build folder"));
}

/// `compile --max-proof-bytes`: attention_tiny's fastest layout (k = 11) puts its products
/// beside their rescale rows and proves within 4 KB; with a 3,900-byte budget compile takes
/// k = 12 with every chip in the rescale columns, and the real proof fits. An impossible
/// budget is a clear error (exit 2) that writes nothing.
#[test]
fn a_proof_budget_gives_a_proof_within_it() {
    use zkinfer::pipeline::CompileOptions;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = common::model_dir("attention_tiny");
    let proof_bytes = |dir: &std::path::Path| {
        pipeline::setup(dir, None, &Quiet).expect("setup");
        let proof = dir.join("proof.json");
        pipeline::prove(dir, &src.join("input.json"), &proof, &Quiet).expect("prove");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&proof).expect("read")).expect("json");
        json["proof"].as_str().expect("hex").len() / 2
    };
    let fast_dir = tmp.path().join("fast");
    common::compile("attention_tiny", &fast_dir);
    let fast = pipeline::inspect(&fast_dir).expect("inspect");
    assert!(fast.product_beside_rescale && !fast.product_in_rescale);
    assert!(fast.est_proof_bytes > 3900, "{}", fast.est_proof_bytes);
    let bytes = proof_bytes(&fast_dir);
    assert!(bytes <= 4096, "{bytes} bytes");
    let dir = tmp.path().join("small");
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        max_proof_bytes: Some(3900),
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), &dir, &opts).expect("compile");
    let r = pipeline::inspect(&dir).expect("inspect");
    assert!(
        r.est_proof_bytes <= 3900 && r.k > fast.k,
        "{} at k = {}",
        r.est_proof_bytes,
        r.k
    );
    assert!(r.func_in_rescale && r.product_in_rescale && !r.product_beside_rescale);
    let bytes = proof_bytes(&dir);
    assert!(bytes <= 3900, "{bytes} bytes");

    let none = tmp.path().join("none");
    let o = zkinfer(&[
        "compile",
        s(&src.join("network.onnx")),
        "-o",
        s(&none),
        "--max-proof-bytes",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at most 100 bytes"), "{err}");
    assert!(!none.exists(), "nothing written");
}
