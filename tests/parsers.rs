//! Every parser on a deterministic corpus of mutated files (seeded bit and byte flips,
//! truncations, extensions, swapped and duplicated spans, size fields set to huge values):
//! settings.json + model.json (through `inspect`, which reads and re-derives a build folder),
//! pk.bin, vk.bin, the SRS file, a snarkjs .ptau file, input JSON and ONNX. Each must return a value or an error,
//! never panic, never abort on an absurd allocation. The test prints its counts.

mod common;

use common::{built, model_dir};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use zkinfer::artifact::{self, Settings, SETTINGS_FORMAT};
use zkinfer::{keys, pipeline};

struct Rng(ChaCha20Rng);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
}

/// One mutation of `b`.
fn mutate(rng: &mut Rng, b: &[u8]) -> Vec<u8> {
    let mut m = b.to_vec();
    let n = m.len().max(1);
    match rng.below(8) {
        0 | 1 => {
            if !m.is_empty() {
                let i = rng.below(n);
                m[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            if !m.is_empty() {
                let i = rng.below(n);
                m[i] = rng.0.next_u32() as u8;
            }
        }
        3 => m.truncate(rng.below(n)),
        4 => {
            for _ in 0..1 + rng.below(32) {
                m.push(rng.0.next_u32() as u8);
            }
        }
        5 => {
            // a little-endian u32/u64 size field set to something huge
            if m.len() >= 8 {
                let i = rng.below(m.len() - 7);
                if rng.below(2) == 0 {
                    m[i..i + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
                } else {
                    m[i..i + 8].copy_from_slice(&0x0fff_ffff_ffff_ffffu64.to_le_bytes());
                }
            }
        }
        6 => {
            // a span duplicated
            if m.len() > 2 {
                let (a, len) = (rng.below(m.len() - 1), 1 + rng.below(16));
                let span: Vec<u8> = m[a..(a + len).min(m.len())].to_vec();
                let at = rng.below(m.len());
                m.splice(at..at, span);
            }
        }
        _ => {
            // a digit changed (JSON numbers: sizes, shapes, scales)
            let digits: Vec<usize> = (0..m.len()).filter(|&i| m[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let i = digits[rng.below(digits.len())];
                m[i] = b"0123456789"[rng.below(10)];
                if rng.below(3) == 0 {
                    m.splice(i..i, b"99999999".iter().copied());
                }
            }
        }
    }
    m
}

/// Runs `parse` on `cases` mutants of `original`; panics name the parser and the case.
fn corpus(
    what: &str,
    original: &[u8],
    cases: usize,
    seed: u64,
    parse: impl Fn(&[u8]) -> bool,
) -> (usize, usize) {
    let mut rng = Rng(ChaCha20Rng::seed_from_u64(seed));
    let mut accepted = 0;
    for case in 0..cases {
        let mut m = mutate(&mut rng, original);
        while m == original {
            m = mutate(&mut rng, original);
        }
        match catch_unwind(AssertUnwindSafe(|| parse(&m))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("{what}: the parser panicked on case {case}"),
        }
    }
    println!(
        "{what}: {cases} mutants, {accepted} parsed, {} refused, no panic",
        cases - accepted
    );
    (cases, accepted)
}

#[test]
fn parsers_refuse_mutants_without_panicking() {
    let dir = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let read = |p: &Path| std::fs::read(p).expect("read");
    let settings: Settings =
        artifact::read_json(&dir.join("settings.json"), SETTINGS_FORMAT).expect("settings");
    let shape = settings.shape;
    let mut total = 0;

    // settings.json and model.json, through a build folder
    for (i, f) in ["settings.json", "model.json"].iter().enumerate() {
        let original = read(&dir.join(f));
        let b = t.join(format!("build{i}"));
        std::fs::create_dir_all(&b).expect("mkdir");
        for g in ["settings.json", "model.json"] {
            std::fs::copy(dir.join(g), b.join(g)).expect("copy");
        }
        total += corpus(f, &original, 1500, 10 + i as u64, |m| {
            std::fs::write(b.join(f), m).expect("write");
            pipeline::inspect(&b).is_ok()
        })
        .0;
    }
    let pk = read(&dir.join("pk.bin"));
    total += corpus("pk.bin", &pk, 300, 20, |m| {
        keys::pk_from_bytes(m, shape, "pk").is_ok()
    })
    .0;
    let vk_file = read(&dir.join("vk.bin"));
    let vk_path = t.join("vk.bin");
    let c = dir.join("commitment.json");
    let proof = t.join("proof.json");
    let o = common::zkinfer(&[
        "prove",
        common::s(dir),
        "--input",
        common::s(&model_dir("mlp_tiny").join("input.json")),
        "-o",
        common::s(&proof),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", common::describe(&o));
    total += corpus("vk.bin", &vk_file, 1500, 21, |m| {
        std::fs::write(&vk_path, m).expect("write");
        pipeline::verify(&c, &vk_path, &proof).is_ok()
    })
    .0;
    let srs = read(&dir.join("srs.bin"));
    total += corpus("srs.bin", &srs, 300, 22, |m| {
        keys::srs_from_bytes(m, "srs").is_ok()
    })
    .0;
    let ptau = read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ptau/snarkjs_pow4_prepared.ptau"),
    );
    let import = |b: &[u8]| {
        let mut r = std::io::Cursor::new(b);
        let id = zkinfer::ptau::read_verifier_srs(&mut r, "ptau").map(|v| v.id());
        (
            id.ok(),
            zkinfer::ptau::read_srs(&mut r, None, "ptau")
                .ok()
                .map(|s| keys::srs_to_bytes(&s)),
        )
    };
    let honest = import(&ptau);
    assert!(
        honest.0.is_some() && honest.1.is_some(),
        "the fixture imports"
    );
    // bytes the importer does not read (contributions, α/β powers, Lagrange sections) may
    // change; no mutant may import as another SRS or id
    let (_, changed) = corpus("snarkjs .ptau", &ptau, 500, 25, |m| {
        let (id, srs) = import(m);
        (id.is_some() && id != honest.0) || (srs.is_some() && srs != honest.1)
    });
    total += 500;
    assert_eq!(changed, 0, "mutated .ptau files imported as another SRS");
    let input = read(&model_dir("mlp_tiny").join("input.json"));
    let input_path = t.join("input.json");
    total += corpus("input.json", &input, 1500, 23, |m| {
        std::fs::write(&input_path, m).expect("write");
        pipeline::read_input(&input_path, &[64]).is_ok()
    })
    .0;
    let onnx = read(&model_dir("cnn_small").join("network.onnx"));
    let onnx_path = t.join("network.onnx");
    total += corpus("network.onnx", &onnx, 400, 24, |m| {
        std::fs::write(&onnx_path, m).expect("write");
        zkinfer::onnx::load_onnx(&onnx_path).is_ok()
    })
    .0;
    println!("{total} mutated files through 8 parsers, no panic");
}
