//! End-to-end with the real binary on mlp_tiny: prove and verify accept; tampering is rejected
//! with exit 1; bad input files exit 2 with a message and leave no output file.

mod common;

use common::{built, describe, model_dir, s, zkinfer};
use std::path::{Path, PathBuf};

struct Proved {
    dir: &'static Path,
    proof: PathBuf,
    _tmp: tempfile::TempDir,
}

fn proved() -> Proved {
    let dir = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    let proof = tmp.path().join("proof.json");
    let input = model_dir("mlp_tiny").join("input.json");
    let out = zkinfer(&["prove", s(dir), "--input", s(&input), "-o", s(&proof)]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "predicted class: {}",
            common::expected_argmax("mlp_tiny")
        )),
        "{stdout}"
    );
    Proved {
        dir,
        proof,
        _tmp: tmp,
    }
}

/// `zkinfer verify` arguments for a proof against its own model's commitment and vk.
fn verify_args(p: &Proved) -> Vec<String> {
    let (c, vk) = (p.dir.join("commitment.json"), p.dir.join("vk.bin"));
    [
        "verify",
        "--commitment",
        s(&c),
        "--vk",
        s(&vk),
        "--proof",
        s(&p.proof),
    ]
    .map(String::from)
    .to_vec()
}

fn verify(commitment: &Path, vk: &Path, proof: &Path) -> std::process::Output {
    common::verify_with(commitment, vk, proof, &[])
}

/// Asserts `out` is a rejection (exit 1) whose reason mentions `why`.
fn assert_rejected(out: &std::process::Output, why: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(why),
        "expected a rejection mentioning {why:?}: {}",
        describe(out)
    );
}

fn edit_proof(p: &Proved, name: &str, f: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p.proof).expect("read")).expect("json");
    f(&mut v);
    let path = p.proof.with_file_name(name);
    std::fs::write(
        &path,
        common::canonical_as::<zkinfer::artifact::ProofFile>(&v),
    )
    .expect("write");
    path
}

#[test]
fn prove_then_verify_accepts() {
    let p = proved();
    let out = verify(
        &p.dir.join("commitment.json"),
        &p.dir.join("vk.bin"),
        &p.proof,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("proof accepted") && stdout.contains("predicted class: 7"),
        "{stdout}"
    );
}

#[test]
fn a_point_with_a_stray_infinity_bit_is_rejected() {
    // halo2curves reads a compressed G1 point whose infinity bit is set as the same point
    // when x != 0: the proof, the vk and the SRS must each have one encoding only
    let p = proved();
    let path = edit_proof(&p, "infinity.json", |v| {
        let mut bytes = hex::decode(v["proof"].as_str().expect("hex")).expect("hex");
        bytes[31] ^= 0x80; // the first advice commitment's top bit
        v["proof"] = hex::encode(bytes).into();
    });
    let out = verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &path);
    assert_rejected(&out, "canonical encoding");
    // every point of vk.bin: the same flip anywhere is refused, never accepted
    let vk = std::fs::read(p.dir.join("vk.bin")).expect("vk");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut tried = 0;
    for at in (31..vk.len()).step_by(32).take(24) {
        let mut m = vk.clone();
        m[at] ^= 0x80;
        let f = tmp.path().join("vk.bin");
        std::fs::write(&f, &m).expect("write");
        let out = verify(&p.dir.join("commitment.json"), &f, &p.proof);
        assert!(
            matches!(out.status.code(), Some(1) | Some(2)),
            "vk byte {at}: {}",
            describe(&out)
        );
        tried += 1;
    }
    assert!(tried > 10);
}

#[test]
fn flipped_proof_byte_is_rejected() {
    let p = proved();
    for at in [0usize, 300, 900] {
        let path = edit_proof(&p, &format!("flip{at}.json"), |v| {
            let mut bytes = hex::decode(v["proof"].as_str().expect("hex")).expect("hex");
            let i = at.min(bytes.len() - 1);
            bytes[i] ^= 0x01;
            v["proof"] = hex::encode(bytes).into();
        });
        let out = verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &path);
        assert_eq!(out.status.code(), Some(1), "byte {at}: {}", describe(&out));
    }
}

#[test]
fn changed_output_is_rejected() {
    let p = proved();
    // the output field alone
    let path = edit_proof(&p, "out.json", |v| {
        let x = v["outputs"][0]["values"][3].as_i64().expect("int");
        v["outputs"][0]["values"][3] = (x + 1).into();
    });
    let out = verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &path);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // the public instance and the output field together: the proof itself must fail
    let path = edit_proof(&p, "inst.json", |v| {
        let n = v["instances"].as_array().expect("array").len();
        let mut bytes = hex::decode(v["instances"][n - 1].as_str().expect("hex")).expect("hex");
        bytes[0] = bytes[0].wrapping_add(1);
        v["instances"][n - 1] = hex::encode(bytes).into();
        let m = v["outputs"][0]["values"].as_array().expect("array").len();
        let x = v["outputs"][0]["values"][m - 1].as_i64().expect("int");
        v["outputs"][0]["values"][m - 1] = (x + 1).into();
        let scale = v["outputs"][0]["scale"].as_u64().expect("scale") as i32;
        v["outputs"][0]["floats"][m - 1] = ((x + 1) as f64 / 2f64.powi(scale)).into();
    });
    let out = verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &path);
    assert_rejected(&out, "does not verify");
}

#[test]
fn public_values_outside_the_compiled_range_are_rejected() {
    // The final layer's values skip the ReLU table; the verifier's range check bounds them.
    let p = proved();
    for (slot, value) in [("last", 1i64 << 40), ("first", -(1i64 << 30))] {
        let path = edit_proof(&p, &format!("range-{slot}.json"), |v| {
            let n = v["instances"].as_array().expect("array").len();
            let i = if slot == "last" { n - 1 } else { 0 };
            let mut bytes = [0u8; 32];
            if value >= 0 {
                bytes[..8].copy_from_slice(&value.to_le_bytes());
            } else {
                // p - |value| for BN254's scalar field, via the field type
                use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
                bytes = (-Fr::from(value.unsigned_abs())).to_repr();
            }
            v["instances"][i] = hex::encode(bytes).into();
        });
        let out = verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &path);
        assert_rejected(&out, "outside the compiled range");
    }
}

#[test]
fn other_models_commitment_and_vk_are_rejected() {
    let p = proved();
    let other = built("mlp_digits");
    let out = verify(
        &other.join("commitment.json"),
        &p.dir.join("vk.bin"),
        &p.proof,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "other commitment: {}",
        describe(&out)
    );
    let out = verify(
        &p.dir.join("commitment.json"),
        &other.join("vk.bin"),
        &p.proof,
    );
    assert_eq!(out.status.code(), Some(1), "other vk: {}", describe(&out));
    // a commitment whose contents were edited (digest no longer matches)
    let mut c: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.join("commitment.json")).expect("read"),
    )
    .expect("json");
    c["model_name"] = "something-else".into();
    let edited = p.proof.with_file_name("commitment-edited.json");
    std::fs::write(
        &edited,
        common::canonical_as::<zkinfer::artifact::Commitment>(&c),
    )
    .expect("write");
    let out = verify(&edited, &p.dir.join("vk.bin"), &p.proof);
    assert_eq!(
        out.status.code(),
        Some(1),
        "edited commitment: {}",
        describe(&out)
    );
}

#[test]
fn self_consistent_commitment_with_absurd_settings_exits_2_without_panicking() {
    use zkinfer::artifact::{Commitment, COMMITMENT_FORMAT};
    let p = proved();
    for field in [
        "lanes",
        "freivalds",
        "k",
        "table_bits",
        "banks 0",
        "banks 5",
        "banks without the chip",
        "balance without split checks",
        "function chip placed without one",
        "product chip placed without one",
    ] {
        let mut c: Commitment =
            zkinfer::artifact::read_json(&p.dir.join("commitment.json"), COMMITMENT_FORMAT)
                .expect("read");
        let shape = &mut c.body.settings.shape;
        match field {
            "lanes" => shape.lanes = 1_000_000,
            "freivalds" => shape.freivalds = 1_000_000_000,
            "banks 0" => shape.freivalds_banks = 0,
            "banks 5" => shape.freivalds_banks = 5,
            "balance without split checks" => {
                shape.freivalds_banks = 2;
                shape.freivalds_split = false;
                shape.freivalds_balance = true;
            }
            "banks without the chip" => {
                shape.freivalds = 0;
                shape.freivalds_banks = 2;
            }
            // the circuit would be the same, under a second settings digest
            "function chip placed without one" => {
                shape.funcs = false;
                shape.func_in_rescale = true;
            }
            "product chip placed without one" => {
                shape.products = false;
                shape.product_in_rescale = true;
            }
            "k" => c.body.settings.k = 200,
            _ => c.body.settings.table_bits = 0,
        }
        c.digest = c.body.digest();
        let path = p
            .proof
            .with_file_name(format!("absurd-{}.json", field.replace(' ', "-")));
        zkinfer::artifact::write_json(&path, &c).expect("write");
        let out = verify(&path, &p.dir.join("vk.bin"), &p.proof);
        assert_eq!(out.status.code(), Some(2), "{field}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("out of range"),
            "{}",
            describe(&out)
        );
    }
}

#[test]
fn bad_files_exit_2_and_write_nothing() {
    let dir = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_path = tmp.path().join("proof.json");
    let prove = |input: &Path| zkinfer(&["prove", s(dir), "--input", s(input), "-o", s(&out_path)]);

    let missing = tmp.path().join("nope.json");
    let o = prove(&missing);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nope.json"),
        "{}",
        describe(&o)
    );

    let malformed = tmp.path().join("malformed.json");
    std::fs::write(&malformed, b"{\"input_data\": [[0.1, 0.2,").expect("write");
    let o = prove(&malformed);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("JSON"),
        "{}",
        describe(&o)
    );

    let short = tmp.path().join("short.json");
    std::fs::write(
        &short,
        serde_json::json!({"input_data": [vec![0.5; 63]]}).to_string(),
    )
    .expect("write");
    let o = prove(&short);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("63 values"),
        "{}",
        describe(&o)
    );
    assert!(
        !out_path.exists(),
        "a failed prove must not leave {}",
        out_path.display()
    );

    // every unsupported node is named at once
    let build = tmp.path().join("unsupported");
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops/unsupported_many.onnx");
    let o = zkinfer(&["compile", s(&model), "-o", s(&build)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`Floor` at node `floor1`") && err.contains("at node `round2`"),
        "{}",
        describe(&o)
    );
    assert!(
        !build.exists(),
        "a failed compile must not create {}",
        build.display()
    );

    // verify: missing and malformed files are exit 2
    let p = proved();
    let o = verify(&missing, &p.dir.join("vk.bin"), &p.proof);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let o = verify(
        &p.dir.join("commitment.json"),
        &p.dir.join("vk.bin"),
        &malformed,
    );
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let o = verify(&p.dir.join("commitment.json"), &malformed, &p.proof);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
}

#[test]
fn setup_with_an_srs_file_matches_the_dev_srs_and_rejects_bad_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dev = built("mlp_tiny");
    let k: u32 = {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dev.join("settings.json")).expect("read"),
        )
        .expect("json");
        v["k"].as_u64().expect("k") as u32
    };
    // a larger SRS file is cut down to the circuit's k: same keys as the built-in dev SRS
    let srs = tmp.path().join("dev.srs");
    let o = zkinfer(&["params", "gen", "--k", &(k + 1).to_string(), "-o", s(&srs)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("INSECURE"),
        "{}",
        describe(&o)
    );
    let build = tmp.path().join("tiny");
    std::fs::create_dir_all(&build).expect("mkdir");
    for f in ["settings.json", "model.json"] {
        std::fs::copy(dev.join(f), build.join(f)).expect("copy");
    }
    let o = zkinfer(&["setup", s(&build), "--srs", s(&srs), "--insecure-dev-srs"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let read = |p: &Path| std::fs::read(p).expect("read");
    assert_eq!(
        read(&build.join("commitment.json")),
        read(&dev.join("commitment.json"))
    );
    assert_eq!(read(&build.join("vk.bin")), read(&dev.join("vk.bin")));

    // too small, truncated: exit 2 naming the problem, and no key written
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir_all(&fresh).expect("mkdir");
    for f in ["settings.json", "model.json"] {
        std::fs::copy(dev.join(f), fresh.join(f)).expect("copy");
    }
    let small = tmp.path().join("small.srs");
    let o = zkinfer(&[
        "params",
        "gen",
        "--k",
        &(k - 1).to_string(),
        "-o",
        s(&small),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = zkinfer(&["setup", s(&fresh), "--srs", s(&small), "--insecure-dev-srs"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("larger SRS"),
        "{}",
        describe(&o)
    );
    let bytes = read(&srs);
    let cut = tmp.path().join("cut.srs");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let o = zkinfer(&["setup", s(&fresh), "--srs", s(&cut), "--insecure-dev-srs"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cut.srs"),
        "{}",
        describe(&o)
    );
    assert!(!fresh.join("pk.bin").exists() && !fresh.join("commitment.json").exists());
}

#[test]
fn trailing_bytes_after_the_proof_are_rejected() {
    let p = proved();
    let path = edit_proof(&p, "trailing.json", |v| {
        let hex = format!("{}00", v["proof"].as_str().expect("hex"));
        v["proof"] = hex.into();
    });
    let out = verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &path);
    assert_rejected(&out, "trailing bytes");
}

#[test]
fn commitment_hiding_its_dev_srs_is_rejected() {
    // The flag is only a claim of the commitment's author: the verifier recomputes it.
    let p = proved();
    let text = std::fs::read_to_string(p.dir.join("commitment.json")).expect("read");
    let mut c: zkinfer::artifact::Commitment = serde_json::from_str(&text).expect("json");
    assert!(c.body.srs.insecure_dev);
    c.body.srs.insecure_dev = false;
    c.digest = c.body.digest();
    let forged = p.proof.with_file_name("commitment-not-dev.json");
    std::fs::write(
        &forged,
        common::canonical_as::<zkinfer::artifact::Commitment>(
            &serde_json::to_value(&c).expect("json"),
        ),
    )
    .expect("write");
    let digest = c.digest.clone();
    let proof = edit_proof(&p, "claims-forged.json", |v| {
        v["commitment"] = digest.into()
    });
    let out = verify(&forged, &p.dir.join("vk.bin"), &proof);
    assert_rejected(&out, "insecure development SRS");
}

#[test]
fn trusted_srs_option_accepts_only_the_named_srs() {
    let p = proved();
    let tmp = tempfile::tempdir().expect("tempdir");
    let srs = tmp.path().join("dev.srs");
    let o = zkinfer(&["params", "gen", "--k", "4", "-o", s(&srs)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = zkinfer(&["params", "id", s(&srs)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let id = stdout
        .split_whitespace()
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no id in {stdout}"))
        .to_string();
    let run = |trusted: &str| {
        let mut args = verify_args(&p);
        args.extend(["--trusted-srs".to_string(), trusted.to_string()]);
        zkinfer(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // the id does not depend on k: a k = 4 file names the same SRS the keys were made with
    let out = run(&id);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let out = run(&"0".repeat(64));
    assert_rejected(&out, "not a trusted one");
    // an unreadable SRS file for `params id`
    let junk = tmp.path().join("junk.srs");
    std::fs::write(&junk, b"junk").expect("write");
    let o = zkinfer(&["params", "id", s(&junk)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
}

#[test]
fn a_closed_stdout_ends_the_command_without_a_panic() {
    // `zkinfer verify … | head -1`: the reader goes away before the output is written.
    let p = proved();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(verify_args(&p))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && out.status.code() != Some(101),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_build_folder_from_the_chain_format_is_a_clear_error() {
    // model.json v1 (the chain of dense layers before the graph IR): prove says what to do
    let dir = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    let old = tmp.path().join("old");
    std::fs::create_dir_all(&old).expect("mkdir");
    for f in [
        "settings.json",
        "commitment.json",
        "pk.bin",
        "vk.bin",
        "srs.bin",
    ] {
        std::fs::copy(dir.join(f), old.join(f)).expect("copy");
    }
    std::fs::write(
        old.join("model.json"),
        r#"{"format": "zkinfer/model/v1", "model": {"input_shape": [1, 64], "layers": []}}"#,
    )
    .expect("write");
    let proof = tmp.path().join("proof.json");
    let input = model_dir("mlp_tiny").join("input.json");
    let o = zkinfer(&["prove", s(&old), "--input", s(&input), "-o", s(&proof)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("zkinfer/model/v1") && err.contains("zkinfer compile"),
        "{}",
        describe(&o)
    );
    assert!(!proof.exists());
}

#[test]
fn an_edited_settings_json_is_refused_before_anything_is_allocated() {
    // setup and prove re-derive settings.json from model.json and the plan's choices: an
    // edited output scale, an absurd lane count or Freivalds width is a clear error (exit 2)
    let dir = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 4] = [
        ("output scale", |v| v["outputs"][0]["scale"] = 3.into()),
        ("lanes", |v| {
            v["shape"]["lanes"] = 0.into();
            v["plan"]["shape"]["lanes"] = 0.into();
        }),
        ("Freivalds width", |v| {
            v["shape"]["freivalds"] = 1_000_000_000u64.into();
            v["plan"]["shape"]["freivalds"] = 1_000_000_000u64.into();
        }),
        ("top-level shape only", |v| v["shape"]["lanes"] = 7.into()),
    ];
    for (what, edit) in edits {
        let build = tmp.path().join(what.replace(' ', "_"));
        std::fs::create_dir_all(&build).expect("mkdir");
        std::fs::copy(dir.join("model.json"), build.join("model.json")).expect("copy");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("settings.json")).expect("read"))
                .expect("json");
        edit(&mut v);
        std::fs::write(build.join("settings.json"), v.to_string()).expect("write");
        let o = zkinfer(&["setup", s(&build), "--insecure-dev-srs"]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("settings.json") && !err.contains("panicked"),
            "{what}: {}",
            describe(&o)
        );
        assert!(!build.join("pk.bin").exists(), "{what}: no key written");
    }
}

#[test]
fn expect_digest_accepts_only_the_pinned_commitment() {
    let p = proved();
    let c: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.join("commitment.json")).expect("read"),
    )
    .expect("json");
    let digest = c["digest"].as_str().expect("digest").to_string();
    let run = |pinned: &str| {
        let mut args = verify_args(&p);
        args.extend(["--expect-digest".to_string(), pinned.to_string()]);
        zkinfer(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(&format!("0x{}", digest.to_uppercase()));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mut other = digest.clone().into_bytes();
    other[10] = if other[10] == b'0' { b'1' } else { b'0' };
    let out = run(std::str::from_utf8(&other).expect("utf-8"));
    assert_rejected(&out, "not the one expected (--expect-digest)");
}

#[test]
fn setup_refuses_the_dev_srs_unless_asked() {
    let dev = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    let build = tmp.path().join("b");
    std::fs::create_dir_all(&build).expect("mkdir");
    for f in ["settings.json", "model.json"] {
        std::fs::copy(dev.join(f), build.join(f)).expect("copy");
    }
    let no_keys = |why: &str| {
        for f in ["pk.bin", "vk.bin", "commitment.json", "srs.bin"] {
            assert!(!build.join(f).exists(), "{why}: {f} written");
        }
    };
    let o = zkinfer(&["setup", s(&build)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("insecure development SRS (no --srs given)"),
        "{}",
        describe(&o)
    );
    no_keys("no --srs");
    // the development SRS as a file is refused too
    let k = std::fs::read_to_string(build.join("settings.json")).expect("settings");
    let k: serde_json::Value = serde_json::from_str(&k).expect("json");
    let srs = tmp.path().join("dev.srs");
    let o = zkinfer(&["params", "gen", "--k", &k["k"].to_string(), "-o", s(&srs)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = zkinfer(&["setup", s(&build), "--srs", s(&srs)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("dev.srs is zkinfer's development SRS"),
        "{}",
        describe(&o)
    );
    no_keys("--srs dev.srs");
    let o = zkinfer(&["setup", s(&build), "--insecure-dev-srs"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(build.join("commitment.json").exists());
}

#[test]
fn keys_and_commitment_are_byte_identical_across_thread_counts() {
    let dev = built("mlp_tiny");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut made = vec![];
    for threads in ["1", "2", "3"] {
        let build = tmp.path().join(format!("t{threads}"));
        std::fs::create_dir_all(&build).expect("mkdir");
        for f in ["settings.json", "model.json"] {
            std::fs::copy(dev.join(f), build.join(f)).expect("copy");
        }
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
            .args(["setup", s(&build), "--insecure-dev-srs"])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
        let read = |f: &str| std::fs::read(build.join(f)).expect("read");
        made.push((read("vk.bin"), read("commitment.json")));
    }
    assert!(made.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(made[0].0, std::fs::read(dev.join("vk.bin")).expect("vk"));
}

#[test]
fn signed_commitments_rotation_and_revocation() {
    let p = proved();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let key = |name: &str| {
        let k = t.join(format!("{name}.pem"));
        let o = zkinfer(&["keys", "gen", "-o", s(&k)]);
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&k).expect("key").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the private key is owner-only");
        }
        let text = std::fs::read_to_string(&k).expect("key");
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
        (k, t.join(format!("{name}.pub.pem")))
    };
    let (old, old_pub) = key("old");
    let (new, new_pub) = key("new");
    // never over an existing key
    let o = zkinfer(&["keys", "gen", "-o", s(&old)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    // the build folder is shared by other tests: sign a copy of the commitment
    let dir = t.join("published");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in ["commitment.json", "vk.bin"] {
        std::fs::copy(p.dir.join(f), dir.join(f)).expect("copy");
    }
    let sign = |k: &Path| {
        let o = zkinfer(&["sign", s(&dir), "--key", s(k)]);
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    };
    let run = |extra: &[&str]| {
        common::verify_with(
            &dir.join("commitment.json"),
            &dir.join("vk.bin"),
            &p.proof,
            extra,
        )
    };
    sign(&old);
    let o = run(&["--signer", s(&old_pub)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("commitment signed by"));
    assert_rejected(&run(&["--signer", s(&new_pub)]), "not by the trusted key");
    // rotation: signed by the new key, trusted through the statement the old key signed
    sign(&new);
    assert_rejected(&run(&["--signer", s(&old_pub)]), "not by the trusted key");
    let rotation = t.join("rotation.json");
    let o = zkinfer(&[
        "keys",
        "rotate",
        "--old",
        s(&old),
        "--new",
        s(&new),
        "-o",
        s(&rotation),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = run(&["--signer", s(&old_pub), "--rotation", s(&rotation)]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    // revoking the new key, or the commitment, rejects
    let digest = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(dir.join("commitment.json")).expect("c"),
    )
    .expect("json")["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let sig: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("commitment.sig.json")).expect("sig"),
    )
    .expect("json");
    let list = |keys: &[&str], commitments: &[&str]| {
        let f = t.join("revoked.json");
        let v = serde_json::json!({"format": "zkinfer/revocations/v1", "keys": keys, "commitments": commitments});
        std::fs::write(&f, v.to_string()).expect("write");
        f
    };
    let revoked = list(&[sig["signer"].as_str().expect("signer")], &[]);
    assert_rejected(
        &run(&[
            "--signer",
            s(&old_pub),
            "--rotation",
            s(&rotation),
            "--revoked",
            s(&revoked),
        ]),
        "revoked",
    );
    let revoked = list(&[], &[&digest]);
    assert_rejected(&run(&["--revoked", s(&revoked)]), "revoked");
    // a signature edited to another signer, or a missing signature file
    let mut forged = sig.clone();
    forged["signer"] = serde_json::Value::String("00".repeat(32));
    std::fs::write(dir.join("commitment.sig.json"), forged.to_string()).expect("write");
    let o = run(&["--signer", s(&old_pub), "--rotation", s(&rotation)]);
    assert!(
        matches!(o.status.code(), Some(1) | Some(2)),
        "{}",
        describe(&o)
    );
    std::fs::remove_file(dir.join("commitment.sig.json")).expect("rm");
    let o = run(&["--signer", s(&old_pub)]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("commitment.sig.json"));
}

#[test]
fn a_proof_file_has_one_spelling() {
    let p = proved();
    let text = std::fs::read_to_string(&p.proof).expect("read");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let run = |name: &str, bytes: &[u8]| {
        let f = p.proof.with_file_name(name);
        std::fs::write(&f, bytes).expect("write");
        verify(&p.dir.join("commitment.json"), &p.dir.join("vk.bin"), &f)
    };
    // the same content re-formatted, with a duplicated key, or with uppercase hex
    let compact = serde_json::to_vec(&v).expect("json");
    let duplicated = text.replacen("{", "{\n  \"model_name\": \"other\",", 1);
    let mut upper = v.clone();
    upper["proof"] = upper["proof"].as_str().expect("hex").to_uppercase().into();
    for (name, bytes, why) in [
        ("compact.json", compact, "byte for byte"),
        ("duplicated.json", duplicated.into_bytes(), "byte for byte"),
        (
            "upper.json",
            common::canonical_as::<zkinfer::artifact::ProofFile>(&upper),
            "lowercase",
        ),
    ] {
        let o = run(name, &bytes);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", describe(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(why),
            "{name}: {}",
            describe(&o)
        );
    }
    // the file as written verifies
    let o = run("same.json", text.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
}
