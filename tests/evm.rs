//! The on-chain flow: `zkinfer evm` (Solidity verifier, compiled by solcjs 0.8.19 from the
//! npm registry, installed by scripts/install-solc.sh: nothing is downloaded here), `prove
//! --evm` and `evm verify` (revm, 30 M gas). For every bundled model and each privacy mode: the
//! contract accepts the proof and `zkinfer verify` does too; a flipped proof byte, a changed
//! public value, an out-of-range public value, a public value or proof scalar written as
//! `v + r`, calldata one byte longer or shorter and a Blake2b proof are rejected. Gas and
//! bytecode sizes are printed (benches/evm.sh reports them), not asserted.

mod common;

use common::{built, describe, model_dir, s, zkinfer, MODELS};
use halo2_proofs::halo2curves::{bn256::Fr, ff::Field};
use std::path::{Path, PathBuf};
use zkinfer::evm::{self, CallOutcome};

fn solc() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/solc/solc.js");
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/solc/node_modules/solc")
            .is_dir(),
        "no Solidity compiler: run scripts/install-solc.sh first (the README's test command does)"
    );
    p
}

fn instances_of(proof: &serde_json::Value) -> Vec<Fr> {
    proof["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|h| zkinfer::hash::from_hex(h.as_str().expect("hex")).expect("field element"))
        .collect()
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
}

fn rejected(contracts: &evm::Contracts, calldata: &[u8]) -> bool {
    matches!(
        evm::deploy_and_call(contracts, calldata)
            .expect("deploys")
            .1,
        CallOutcome::Rejected { .. }
    )
}

/// Adds the scalar field modulus `r` to a 32-byte big-endian word (no overflow for `v < r`).
fn add_r(word: &mut [u8]) {
    let r = hex::decode("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")
        .expect("hex");
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let sum = u16::from(word[i]) + u16::from(r[i]) + carry;
        word[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
}

/// The most gas a call with `calldata` uses when it reverts within its first 10,000 gas of
/// execution: the intrinsic cost (21,000 + 4 per zero byte + 16 per other byte), or EIP-7623's
/// calldata floor (21,000 + 10 per token, a zero byte one token, another four) when higher.
fn early_revert_gas(calldata: &[u8]) -> u64 {
    let zeros = calldata.iter().filter(|&&b| b == 0).count() as u64;
    let others = calldata.len() as u64 - zeros;
    (21_000 + 4 * zeros + 16 * others + 10_000).max(21_000 + 10 * (zeros + 4 * others))
}

/// Generates the verifier of `dir`, proves `input` with --evm and checks acceptance and the
/// rejections. Returns (runtime bytes of one contract, parts, gas).
fn check_model(name: &str, dir: &Path, input: &Path, t: &Path) -> (usize, usize, u64) {
    let evm_dir = t.join(format!("{name}.evm"));
    let o = evm_of(dir, &evm_dir);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", describe(&o));
    let verifier = read_json(&evm_dir.join("verifier.json"));
    let commitment = read_json(&dir.join("commitment.json"));
    assert_eq!(verifier["commitment"], commitment["digest"], "{name}");
    let (file, contracts) = zkinfer::pipeline::evm_contracts(&evm_dir).expect("contracts");
    // every contract fits EIP-170 (the deployment in revm enforces it too)
    assert!(file.runtime_bytes <= evm::MAX_RUNTIME_BYTES, "{name}");
    for part in &file.parts {
        assert!(
            part.runtime_bytes <= evm::MAX_RUNTIME_BYTES,
            "{name}: {part:?}"
        );
    }
    assert_eq!(
        file.parts.is_empty(),
        file.single_contract_runtime_bytes <= evm::MAX_RUNTIME_BYTES,
        "{name}: cut only when one contract does not fit"
    );

    let proof_path = t.join(format!("{name}.proof.json"));
    let mut args = vec![
        "prove",
        s(dir),
        "--input",
        s(input),
        "-o",
        s(&proof_path),
        "--evm",
    ];
    let salt = "0000000000000000000000000000000000000000000000000000000000000007";
    args.extend(["--input-salt", salt, "--output-salt", salt]);
    let o = zkinfer(&args);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", describe(&o));
    let o = zkinfer(&["evm", "verify", s(&evm_dir), "--proof", s(&proof_path)]);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", describe(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("ACCEPTED"), "{name}: {out}");
    assert!(
        out.contains("predicted class: ") || out.contains("output hash "),
        "{name}: what the proof states is printed: {out}"
    );
    // proof.json's display fields edited: evm verify refuses the file, as verify does
    let mut edited = read_json(&proof_path);
    if edited["outputs"].as_array().is_some_and(|o| !o.is_empty()) {
        edited["outputs"][0]["values"][0] =
            (edited["outputs"][0]["values"][0].as_i64().expect("value") + 1).into();
    } else {
        edited["input"][0] = (edited["input"][0].as_i64().expect("input") + 1).into();
    }
    let edited_path = t.join(format!("{name}.edited.json"));
    std::fs::write(&edited_path, edited.to_string()).expect("write");
    let o = zkinfer(&["evm", "verify", s(&evm_dir), "--proof", s(&edited_path)]);
    assert_eq!(o.status.code(), Some(2), "{name}: {}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("differ from its public instances"),
        "{name}: {}",
        describe(&o)
    );
    let gas: u64 = out
        .split("gas used ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|g| g.parse().ok())
        .expect("gas");
    // the native verifier accepts the Keccak proof too
    let o = common::verify_build(dir, &proof_path);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", describe(&o));

    let proof = read_json(&proof_path);
    let instance = instances_of(&proof);
    let bytes = hex::decode(proof["proof"].as_str().expect("proof")).expect("hex");
    let calldata = evm::calldata(&instance, &bytes);
    let mut calldata_file = proof_path.clone().into_os_string();
    calldata_file.push(".calldata");
    assert_eq!(
        std::fs::read_to_string(&calldata_file)
            .expect("calldata")
            .trim(),
        hex::encode(&calldata),
        "{name}: the calldata file"
    );
    // a flipped byte at the start, middle and end of the proof
    for at in [0, bytes.len() / 2, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[at] ^= 1;
        assert!(
            rejected(&contracts, &evm::calldata(&instance, &b)),
            "{name}: byte {at}"
        );
    }
    // calldata one byte longer or shorter
    let mut longer = calldata.clone();
    longer.push(0);
    assert!(rejected(&contracts, &longer), "{name}: appended byte");
    assert!(
        rejected(&contracts, &calldata[..calldata.len() - 1]),
        "{name}: truncated"
    );
    // a public value and a proof scalar written as v + r (the same field element)
    let sol_file = if file.parts.is_empty() {
        "Verifier.sol"
    } else {
        "VerifierParts.sol"
    };
    let sol = std::fs::read_to_string(evm_dir.join(sol_file)).expect("sol");
    let scalar_at = sol
        .match_indices("zkinfer_fq(calldataload(0x")
        .map(|(i, m)| {
            let hex: String = sol[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            usize::from_str_radix(&hex, 16).expect("offset")
        })
        .find(|&off| off >= 32 * instance.len())
        .expect("a proof scalar read");
    for at in [32 * (instance.len() - 1), scalar_at] {
        let mut data = calldata.clone();
        add_r(&mut data[at..at + 32]);
        assert!(rejected(&contracts, &data), "{name}: word at {at} + r");
    }
    // a changed public value (the last one: an output or the output hash)
    let mut other = instance.clone();
    let last = other.len() - 1;
    other[last] += Fr::ONE;
    assert!(
        rejected(&contracts, &evm::calldata(&other, &bytes)),
        "{name}: instance"
    );
    // a public value just outside its compiled range: the contract's range check reverts
    // before the proof is read (a small fraction of the honest call's gas)
    for check in verifier["range_checks"].as_array().expect("range checks") {
        let (first, count, bits) = (
            check[0].as_u64().expect("n") as usize,
            check[1].as_u64().expect("n"),
            check[2].as_u64().expect("n") as u32,
        );
        if count == 0 {
            continue;
        }
        for v in [
            Fr::from(1u64 << (bits - 1)),
            -Fr::from(1u64 << (bits - 1)) - Fr::ONE,
        ] {
            let mut far = instance.clone();
            far[first] = v;
            let data = evm::calldata(&far, &bytes);
            let (_, outcome) = evm::deploy_and_call(&contracts, &data).expect("deploys");
            match outcome {
                CallOutcome::Rejected { gas_used, .. } => assert!(
                    gas_used <= early_revert_gas(&data),
                    "{name}: the range check did not fire first ({gas_used} gas)"
                ),
                CallOutcome::Accepted { .. } => panic!("{name}: an out-of-range value accepted"),
            }
        }
    }
    // a Blake2b proof of the same statement
    let blake = t.join(format!("{name}.blake.json"));
    let mut args = vec!["prove", s(dir), "--input", s(input), "-o", s(&blake)];
    args.extend(["--input-salt", salt, "--output-salt", salt]);
    let o = zkinfer(&args);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", describe(&o));
    let blake_bytes =
        hex::decode(read_json(&blake)["proof"].as_str().expect("proof")).expect("hex");
    assert!(
        rejected(&contracts, &evm::calldata(&instance, &blake_bytes)),
        "{name}: Blake2b proof"
    );
    let o = zkinfer(&["evm", "verify", s(&evm_dir), "--proof", s(&blake)]);
    assert_eq!(o.status.code(), Some(2), "{name}: {}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("prove with --evm"));
    if contracts.parts.len() >= 2 {
        // the entry contract given other contracts than its parts rejects the honest proof:
        // the parts in another order, or a part replaced by one that accepts anything
        let mut swapped = contracts.clone();
        swapped.parts.swap(0, 1);
        assert!(rejected(&swapped, &calldata), "{name}: parts swapped");
        for i in 0..contracts.parts.len() {
            let mut fake = contracts.clone();
            fake.parts[i] = ACCEPT_ANYTHING.to_vec();
            assert!(rejected(&fake, &calldata), "{name}: part {} faked", i + 1);
        }
    }
    (file.single_contract_runtime_bytes, file.parts.len(), gas)
}

/// Deployment code of a contract whose runtime code is one STOP: every call to it succeeds.
const ACCEPT_ANYTHING: [u8; 10] = [
    0x60, 0x00, 0x60, 0x00, 0x53, // mstore8(0, 0)
    0x60, 0x01, 0x60, 0x00, 0xf3, // return(0, 1)
];

#[test]
fn every_bundled_model_verifies_on_the_evm_and_forgeries_do_not() {
    let solc = solc();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut table = Vec::new();
    for name in MODELS {
        let dir = built(name);
        let input = model_dir(name).join("input.json");
        table.push((name, check_model(name, dir, &input, tmp.path())));
    }
    println!("| model | runtime bytes in one contract | parts | gas |");
    for (name, (bytes, parts, gas)) in table {
        println!("| {name} | {bytes} | {parts} | {gas} |");
    }
    // a compiler that is not there: exit 2, a message, no panic
    let o = zkinfer(&[
        "evm",
        s(built("mlp_tiny")),
        "-o",
        s(&tmp.path().join("nosolc")),
        "--solc",
        "/nonexistent/solc",
        "--insecure-dev-srs",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no Solidity compiler"));
    assert!(!tmp.path().join("nosolc").join("verifier.json").exists());
    let _ = solc;
}

#[test]
fn each_privacy_mode_verifies_on_the_evm() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = model_dir("mlp_tiny");
    for (mode, flags) in [
        ("private input", vec!["--input", "private"]),
        ("hashed input", vec!["--input", "hashed"]),
        ("hashed output", vec!["--output-visibility", "hashed"]),
    ] {
        let dir = tmp.path().join(mode.replace(' ', "_"));
        let onnx = src.join("network.onnx");
        let cal = src.join("calibration.json");
        let mut args = vec!["compile", s(&onnx), "-o", s(&dir), "--calibration", s(&cal)];
        args.extend(flags.iter().copied());
        let o = zkinfer(&args);
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", describe(&o));
        let o = zkinfer(&["setup", s(&dir), "--insecure-dev-srs"]);
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", describe(&o));
        let (bytes, parts, gas) = check_model(mode, &dir, &src.join("input.json"), tmp.path());
        println!("{mode}: {bytes} bytes in one contract, {parts} parts, gas {gas}");
    }
}

/// Private weights: no contract (it could not check the weights' link to the commitment and
/// would accept proofs made with any weights), but `prove --evm` and `zkinfer verify` work,
/// link included. Keys made with the development SRS need --insecure-dev-srs.
#[test]
fn private_weights_and_the_dev_srs_are_refused_a_contract() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = model_dir("mlp_tiny");
    let dir = tmp.path().join("private");
    let onnx = src.join("network.onnx");
    let cal = src.join("calibration.json");
    let o = zkinfer(&[
        "compile",
        s(&onnx),
        "-o",
        s(&dir),
        "--calibration",
        s(&cal),
        "--weights",
        "private",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = zkinfer(&["setup", s(&dir), "--insecure-dev-srs"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let out = tmp.path().join("evm");
    let o = evm_of(&dir, &out);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("private weights"));
    assert!(!out.exists());
    let proof = tmp.path().join("p.json");
    let input = src.join("input.json");
    let o = prove_evm(&dir, &input, &proof);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let o = common::verify_build(&dir, &proof);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    // the development SRS without the flag
    let o = zkinfer(&[
        "evm",
        s(built("mlp_tiny")),
        "-o",
        s(&out),
        "--solc",
        s(&solc()),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("insecure development SRS"));
    assert!(!out.exists());
}

/// `zkinfer prove DIR --input INPUT -o OUT --evm`.
fn prove_evm(dir: &Path, input: &Path, out: &Path) -> std::process::Output {
    zkinfer(&["prove", s(dir), "--input", s(input), "-o", s(out), "--evm"])
}

/// `zkinfer evm` of the build folder `dir` (development SRS allowed) into `out`.
fn evm_of(dir: &Path, out: &Path) -> std::process::Output {
    zkinfer(&[
        "evm",
        s(dir),
        "-o",
        s(out),
        "--solc",
        s(&solc()),
        "--insecure-dev-srs",
    ])
}

/// Golden file: mlp_tiny's verifier contract (its runtime code hash) must not drift.
/// Regenerate on purpose with `ZKINFER_BLESS=1 cargo test --test evm golden`.
#[test]
fn golden_mlp_tiny_verifier_code_hash_is_stable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("evm");
    let o = evm_of(built("mlp_tiny"), &out);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let hash = read_json(&out.join("verifier.json"))["runtime_code_keccak256"]
        .as_str()
        .expect("hash")
        .to_string();
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mlp_tiny/verifier.keccak256");
    if std::env::var("ZKINFER_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&golden, format!("{hash}\n")).expect("write");
        return;
    }
    // regenerating into the folder gives the same files and removes a stale part file
    let stale = out.join("Halo2VerifierPart9.bin");
    std::fs::write(&stale, "00\n").expect("write");
    let before: Vec<Vec<u8>> = ["Verifier.sol", "Verifier.bin", "verifier.json"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).expect("read"))
        .collect();
    let o = evm_of(built("mlp_tiny"), &out);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    for (f, b) in ["Verifier.sol", "Verifier.bin", "verifier.json"]
        .iter()
        .zip(before)
    {
        assert_eq!(std::fs::read(out.join(f)).expect("read"), b, "{f} differs");
    }
    assert!(!stale.exists(), "a stale part file stayed");
    // verifier.json cannot point at bytecode outside the folder
    let mut v = read_json(&out.join("verifier.json"));
    v["parts"][0]["bin"] = "../../outside.bin".into();
    std::fs::write(out.join("verifier.json"), v.to_string()).expect("write");
    let o = zkinfer(&["evm", "verify", s(&out), "--proof", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("must be Halo2VerifierPart1"),
        "{}",
        describe(&o)
    );
    let want = std::fs::read_to_string(&golden).expect("golden verifier hash");
    assert_eq!(
        hash,
        want.trim(),
        "mlp_tiny's EVM verifier changed; if on purpose, rerun with ZKINFER_BLESS=1 and review"
    );
}

/// An EVM proof with a point at infinity (encoded `(0, 0)`, which the contract's point check
/// refuses) is refused natively too, naming it.
#[test]
fn a_point_at_infinity_is_refused_natively_as_on_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = built("mlp_tiny");
    let proof = tmp.path().join("p.json");
    let input = model_dir("mlp_tiny").join("input.json");
    let o = prove_evm(dir, &input, &proof);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let mut file: zkinfer::artifact::ProofFile =
        serde_json::from_slice(&std::fs::read(&proof).expect("read")).expect("proof");
    file.proof.replace_range(..128, &"0".repeat(128));
    let forged = tmp.path().join("forged.json");
    std::fs::write(
        &forged,
        zkinfer::artifact::json_bytes(&forged, &file).expect("json"),
    )
    .expect("write");
    let o = common::verify_build(dir, &forged);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        describe(&o).contains("point at infinity"),
        "{}",
        describe(&o)
    );
}
