//! Every JSON artifact parser on arbitrary bytes: settings.json, model.json, commitment.json,
//! proof.json, the signature, rotation and revocation files, and input JSON (written to a
//! temp file, as the CLI reads them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zkinfer::artifact::{self, *};
use zkinfer::signing::{self, Revocations, Rotation, SignatureFile};

fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir")).path()
}

fuzz_target!(|data: &[u8]| {
    let f = scratch().join("f.json");
    std::fs::write(&f, data).expect("write");
    let _ = artifact::read_json::<Settings>(&f, SETTINGS_FORMAT);
    let _ = artifact::read_json::<ModelFile>(&f, MODEL_FORMAT);
    let _ = artifact::read_json_canonical::<Commitment>(&f, COMMITMENT_FORMAT);
    let _ = artifact::read_json_canonical::<ProofFile>(&f, PROOF_FORMAT);
    let _ = artifact::read_json::<SignatureFile>(&f, signing::SIGNATURE_FORMAT);
    let _ = artifact::read_json::<Rotation>(&f, signing::ROTATION_FORMAT);
    let _ = artifact::read_json::<Revocations>(&f, signing::REVOCATION_FORMAT);
    let _ = zkinfer::pipeline::read_input(&f, &[64]);
    let _ = zkinfer::pipeline::read_input(&f, &[2, 3]);
});
