//! The binary key parsers on arbitrary bytes: pk.bin and vk.bin (for the circuit shape and k
//! of the seed build, mlp_tiny), the verifier SRS, an SRS file and a `.ptau` file. Errors are fine; a panic or
//! an abort (an allocation sized by a corrupted length) is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zkinfer::artifact::Settings;
use zkinfer::keys;

fn settings() -> &'static Settings {
    static S: OnceLock<Settings> = OnceLock::new();
    S.get_or_init(|| {
        serde_json::from_str(include_str!("../seeds/files/settings.json")).expect("settings")
    })
}

fuzz_target!(|data: &[u8]| {
    let s = settings();
    let _ = keys::pk_from_bytes(data, s.shape, "pk");
    let _ = keys::vk_from_bytes(data, s.shape, s.k, "vk");
    let _ = keys::VerifierSrs::from_bytes(data);
    let _ = keys::srs_from_bytes(data, "srs");
    let _ = zkinfer::ptau::read_verifier_srs(&mut std::io::Cursor::new(data), "ptau");
    let _ = zkinfer::ptau::read_srs(&mut std::io::Cursor::new(data), None, "ptau");
});
