//! ONNX loading (tract's protobuf parse, then zkinfer's lowering) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir")).path()
}

fuzz_target!(|data: &[u8]| {
    let f = scratch().join("m.onnx");
    std::fs::write(&f, data).expect("write");
    let _ = zkinfer::onnx::load_onnx(&f);
});
