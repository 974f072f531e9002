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
