//! Golden files: mlp_tiny's commitment digest and vk digest must not drift, and a committed
//! proof must keep verifying. Regenerate on purpose with `ZKINFER_BLESS=1 cargo test --test golden`.

mod common;

use common::{built, model_dir};
use std::path::{Path, PathBuf};
use zkinfer::artifact::{self, Commitment, COMMITMENT_FORMAT};
use zkinfer::pipeline::{self, Quiet};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mlp_tiny")
}

#[test]
fn mlp_tiny_commitment_vk_and_proof_are_stable() {
    let dir = built("mlp_tiny");
    let golden = golden_dir();
    let vk_digest = artifact::sha256_hex(&std::fs::read(dir.join("vk.bin")).expect("vk.bin"));
    if std::env::var("ZKINFER_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(&golden).expect("mkdir");
        std::fs::copy(dir.join("commitment.json"), golden.join("commitment.json")).expect("copy");
        std::fs::write(golden.join("vk.sha256"), format!("{vk_digest}\n")).expect("write");
        pipeline::prove(
            dir,
            &model_dir("mlp_tiny").join("input.json"),
            &golden.join("proof.json"),
            &Quiet,
        )
        .expect("prove");
        eprintln!("blessed {}", golden.display());
        return;
    }
    let fresh: Commitment =
        artifact::read_json(&dir.join("commitment.json"), COMMITMENT_FORMAT).expect("fresh");
    let gold: Commitment = artifact::read_json(&golden.join("commitment.json"), COMMITMENT_FORMAT)
        .expect("golden commitment");
    assert_eq!(
        fresh.digest, gold.digest,
        "mlp_tiny's commitment changed; if on purpose, rerun with ZKINFER_BLESS=1 and review the diff"
    );
    assert_eq!(fresh, gold);
    let gold_vk = std::fs::read_to_string(golden.join("vk.sha256")).expect("golden vk digest");
    assert_eq!(
        vk_digest,
        gold_vk.trim(),
        "vk.bin bytes changed (keygen must be deterministic)"
    );
    let verified = pipeline::verify(
        &dir.join("commitment.json"),
        &dir.join("vk.bin"),
        &golden.join("proof.json"),
    )
    .expect("the committed golden proof must keep verifying");
    assert_eq!(
        verified.outputs[0].predicted_class,
        common::expected_argmax("mlp_tiny")
    );
}
