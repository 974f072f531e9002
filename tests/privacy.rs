//! Privacy modes: private weights bound by a salted weight commitment, private input.

mod common;

use common::{model_dir, s, zkinfer};
use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::Path;
use std::sync::Arc;
use zkinfer::artifact::{self, Commitment, ModelFile, ProofFile, COMMITMENT_FORMAT, MODEL_FORMAT};
use zkinfer::circuit::{instance_field, CircuitWitness, ModelCircuit};
use zkinfer::ops::QuantOp;
use zkinfer::pipeline::{self, CompileOptions, Quiet};
use zkinfer::plan::Privacy;
use zkinfer::weights::{self, Salt};
use zkinfer::{keys, witness};

fn compile_private(name: &str, dir: &Path, privacy: Privacy) {
    let src = model_dir(name);
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        privacy,
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), dir, &opts).expect("compile");
}

const PRIVATE_WEIGHTS: Privacy = Privacy {
    weights: true,
    input: false,
    hashed_input: false,
    hashed_output: false,
};

fn verify(dir: &Path, commitment: &Path, proof: &Path) -> std::process::Output {
    common::verify_with(commitment, &dir.join("vk.bin"), proof, &[])
}

/// `verify` of `proof` against `dir`'s commitment and key with one more flag and its value.
fn verify_pinned(dir: &Path, proof: &Path, flag: &str, value: &str) -> std::process::Output {
    common::verify_with(
        &dir.join("commitment.json"),
        &dir.join("vk.bin"),
        proof,
        &[flag, value],
    )
}

/// `zkinfer prove` of build `dir` on bundled model `model`'s input, writing `proof`.
fn prove_cli(dir: &Path, model: &str, proof: &Path) -> std::process::Output {
    zkinfer(&[
        "prove",
        s(dir),
        "--input",
        s(&model_dir(model).join("input.json")),
        "-o",
        s(proof),
    ])
}

fn commitment(dir: &Path) -> Commitment {
    artifact::read_json(&dir.join("commitment.json"), COMMITMENT_FORMAT).expect("commitment")
}

fn read_model(dir: &Path) -> ModelFile {
    artifact::read_json(&dir.join("model.json"), MODEL_FORMAT).expect("model.json")
}

/// Every quantized weight and bias of the model's linear nodes.
fn weight_integers(dir: &Path) -> Vec<i64> {
    let m = read_model(dir).model;
    let mut out = Vec::new();
    for n in &m.graph.nodes {
        if let QuantOp::Linear(l) = &n.op {
            for g in &l.groups {
                out.extend(g.w.iter().flatten());
                out.extend(&g.bias);
            }
        }
    }
    out
}

/// Every integer in a JSON file outside the fields that are public by design: `settings`
/// (derived from the architecture), `input` and `outputs` (public values), and the weight
/// commitment's column indices, `first_blind_row` and the SRS's `k` (layout).
fn json_numbers(bytes: &[u8]) -> std::collections::HashSet<i64> {
    fn walk(v: &serde_json::Value, out: &mut std::collections::HashSet<i64>) {
        match v {
            serde_json::Value::Number(n) => {
                out.extend(n.as_i64());
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o
                .iter()
                .filter(|(k, _)| {
                    ![
                        "settings",
                        "input",
                        "outputs",
                        "columns",
                        "first_blind_row",
                        "srs",
                    ]
                    .contains(&k.as_str())
                })
                .for_each(|(_, x)| walk(x, out)),
            _ => {}
        }
    }
    let mut out = std::collections::HashSet::new();
    walk(&serde_json::from_slice(bytes).expect("json"), &mut out);
    out
}

/// The 32-byte elements (64 hex digits, aligned) of every hex string in a JSON file.
fn json_hex_elements(bytes: &[u8]) -> std::collections::HashSet<String> {
    fn walk(v: &serde_json::Value, out: &mut std::collections::HashSet<String>) {
        match v {
            serde_json::Value::String(t) if t.len() % 64 == 0 => {
                out.extend((0..t.len() / 64).map(|i| t[64 * i..64 * (i + 1)].to_string()));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = std::collections::HashSet::new();
    walk(&serde_json::from_slice(bytes).expect("json"), &mut out);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn private_weights_verify_and_no_weight_appears_in_what_is_published() {
    // mlp_tanh_softmax on the dense chip, mlp_wide's layers on the Freivalds chip,
    // residual_conv's on two Freivalds banks
    for (name, freivalds) in [
        ("mlp_tanh_softmax", false),
        ("mlp_wide", true),
        ("residual_conv", true),
    ] {
        no_weight_published(name, freivalds);
    }
}

fn no_weight_published(name: &str, freivalds: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(name);
    compile_private(name, &dir, PRIVATE_WEIGHTS);
    assert_eq!(
        artifact::read_json::<artifact::Settings>(
            &dir.join("settings.json"),
            artifact::SETTINGS_FORMAT
        )
        .expect("settings")
        .shape
        .freivalds
            > 0,
        freivalds,
        "{name}"
    );
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let input = model_dir(name).join("input.json");
    let proof = dir.join("proof.json");
    pipeline::prove(&dir, &input, &proof, &Quiet).expect("prove");
    let out = verify(&dir, &dir.join("commitment.json"), &proof);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("weights private"), "{stdout}");

    // what a recipient gets: vk.bin, commitment.json, proof.json
    let published: Vec<(String, Vec<u8>)> = ["vk.bin", "commitment.json", "proof.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).expect("read")))
        .collect();
    let weights = weight_integers(&dir);
    assert!(weights.len() > 500, "{} weights", weights.len());
    // the public input and output values are in the proof's instances by design: a weight
    // equal to one of them (mlp_tanh_softmax's structural 1.0 = 65536 and a pixel of 1.0)
    // says nothing
    let proof_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).expect("read")).expect("json");
    let mut public: std::collections::HashSet<i64> = proof_json["input"]
        .as_array()
        .expect("input")
        .iter()
        .filter_map(|v| v.as_i64())
        .collect();
    for o in proof_json["outputs"].as_array().expect("outputs") {
        public.extend(
            o["values"]
                .as_array()
                .expect("values")
                .iter()
                .filter_map(|v| v.as_i64()),
        );
    }
    let weights: Vec<i64> = weights
        .into_iter()
        .filter(|w| !public.contains(w))
        .collect();
    let mut distinctive = 0;
    // weights of at least 4 digits (small integers' encodings occur in any file by chance)
    for &w in weights.iter().filter(|w| w.abs() >= 1000) {
        let field = Fr::from(w.unsigned_abs());
        let field = if w < 0 { -field } else { field };
        let repr = field.to_repr();
        for (name, bytes) in &published {
            if name == "vk.bin" {
                // the key is the SRS's points, then halo2's: version, k, selector flag and
                // count (10 bytes), then 32-byte point encodings. Compared element by
                // element: an all-zero fixed column's commitment (the identity, 31 zero
                // bytes) after a point ending in a weight's two bytes spells its encoding
                // across the boundary.
                let srs_len = u32::from_le_bytes(bytes[8..12].try_into().expect("len"));
                let key = &bytes[12 + srs_len as usize + 10..];
                assert!(
                    key.chunks_exact(32).all(|e| e != repr.as_slice()),
                    "{name} contains weight {w}'s field encoding"
                );
                continue;
            }
            assert!(
                !contains(bytes, &repr),
                "{name} contains weight {w}'s field encoding"
            );
            // in hex: as a field element of a hex string (32-byte aligned: the proof's
            // elements are, and "…1015" before a zero element is not the weight 5392)
            if name.ends_with(".json") {
                let hexed = hex::encode(repr);
                assert!(
                    !json_hex_elements(bytes).contains(&hexed),
                    "{name} contains weight {w}'s field encoding in hex"
                );
            }
            // as a JSON number anywhere but where the format puts public values (the
            // settings, derived from the architecture; the public input and outputs)
            if name.ends_with(".json") {
                let numbers = json_numbers(bytes);
                assert!(!numbers.contains(&w), "{name} contains weight {w}");
                distinctive += 1;
            }
        }
    }
    assert!(
        distinctive > 100,
        "{distinctive} distinctive weights checked"
    );
    // the source file's digest would hash the weights: not published either
    assert!(commitment(&dir).body.model_sha256.is_empty());
}

/// The build folder `b`: a copy of `a` whose model has one weight changed by one unit.
fn with_one_weight_changed(a: &Path, b: &Path) {
    std::fs::create_dir_all(b).expect("mkdir");
    for f in [
        "model.json",
        "settings.json",
        "network.onnx",
        "weights.salt",
    ] {
        std::fs::copy(a.join(f), b.join(f)).expect("copy");
    }
    let mut m = read_model(b);
    let QuantOp::Linear(l) = &mut m.model.graph.nodes[0].op else {
        panic!("first node is linear")
    };
    // (row 3, input 5 where the group has them: a convolution's corner reads fewer; the
    // second group where there are several: a convolution's second position is the second
    // Freivalds bank's first check)
    let at = l.groups.len().min(2) - 1;
    let g = &mut l.groups[at];
    let row = 3.min(g.w.len() - 1);
    let col = 5.min(g.w[row].len() - 1);
    g.w[row][col] += 1;
    artifact::write_json(&b.join("model.json"), &m).expect("write");
}

/// Build folders `a` (`name`, private weights, set up) and `b` (one weight changed, the
/// same salt file, set up) under `root`.
fn two_weight_versions(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    two_weight_versions_of("mlp_tiny", root)
}

fn two_weight_versions_of(name: &str, root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (a, b) = (root.join("a"), root.join("b"));
    compile_private(name, &a, PRIVATE_WEIGHTS);
    pipeline::setup(&a, None, &Quiet).expect("setup a");
    with_one_weight_changed(&a, &b);
    pipeline::setup(&b, None, &Quiet).expect("setup b");
    (a, b)
}

#[test]
fn a_changed_weight_is_bound_by_the_commitment_and_the_key_depends_only_on_the_architecture() {
    // the dense chip (mlp_tiny), the Freivalds chip (mlp_wide), two Freivalds banks
    // (residual_conv)
    for name in ["mlp_tiny", "mlp_wide", "residual_conv"] {
        changed_weight_is_bound(name);
    }
}

fn changed_weight_is_bound(name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_weight_versions_of(name, tmp.path());
    if name == "residual_conv" {
        // every bank's weight columns are committed, and lead the second phase
        let settings = commitment(&a).body.settings;
        let shape = settings.shape;
        assert!(shape.freivalds_banks >= 2, "{shape:?}");
        let wc = commitment(&a).body.weights.expect("weight commitment");
        let mut cs = halo2_proofs::plonk::ConstraintSystem::<Fr>::default();
        let config = zkinfer::circuit::configure(&mut cs, shape);
        assert!(config.weight_columns_lead(&cs));
        let advice: Vec<usize> = config.weight_columns().iter().map(|c| c.index()).collect();
        assert_eq!(wc.columns, advice);
        // the changed weight sits in the second bank's columns (the dense chip's come
        // first, then each bank's K)
        let of = |dir: &Path| {
            weights::weight_columns(Arc::new(read_model(dir).model), shape, settings.k)
                .expect("columns")
                .1
        };
        let (va, vb) = (of(&a), of(&b));
        let changed: Vec<usize> = (0..va.len()).filter(|&c| va[c] != vb[c]).collect();
        let dense = if shape.dense { shape.lanes } else { 0 };
        let second_bank = dense + shape.freivalds..dense + 2 * shape.freivalds;
        assert!(
            changed.len() == 1 && second_bank.contains(&changed[0]),
            "changed columns {changed:?}, second bank {second_bank:?}"
        );
    }
    // same architecture, different weights: byte-identical verifying keys, other commitments
    let vk_a = std::fs::read(a.join("vk.bin")).expect("vk a");
    assert_eq!(vk_a, std::fs::read(b.join("vk.bin")).expect("vk b"));
    let (ca, cb) = (commitment(&a), commitment(&b));
    assert_ne!(ca.body.weights, cb.body.weights);

    // b proven honestly verifies against its own commitment, not against a's
    let input = model_dir(name).join("input.json");
    let proof = b.join("proof.json");
    pipeline::prove(&b, &input, &proof, &Quiet).expect("prove b");
    assert!(verify(&b, &b.join("commitment.json"), &proof)
        .status
        .success());
    let out = verify(&a, &a.join("commitment.json"), &proof);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // a prover holding b's weights and a's salt tries to link b's proof to a's commitment: the
    // best link it can make (its true blinding minus a's salts) fails
    let settings = ca.body.settings.clone();
    let model = Arc::new(read_model(&b).model);
    let values = pipeline_input(&input, &settings);
    let q = witness::quantize_input(&model, &values).expect("quantize");
    let trace = witness::run(&model, q).expect("run");
    let cw = CircuitWitness::new(&model, settings.shape, &trace).expect("witness");
    let instance = instance_field(&cw.instance);
    let (srs, pk) = keys_of(&b, &settings);
    let rng = ChaCha20Rng::from_seed([7; 32]);
    let mut replay = rng.clone();
    let circuit = ModelCircuit::prove(model.clone(), settings.shape, cw);
    let bytes = zkinfer::prover::prove(&srs, &pk, circuit, &instance, rng).expect("prove");
    let wa = ca.body.weights.as_ref().expect("weight commitment");
    let m = pk.get_vk().cs().blinding_factors() + 1;
    let fresh = weights::replay_blinds(
        &mut replay,
        pk.get_vk().cs().num_advice_columns(),
        m,
        &wa.columns,
    );
    let salt = Salt::read(&a.join("weights.salt")).expect("salt");
    let vsrs = keys::VerifierSrs::from_srs(&srs);
    let ctx = pipeline::link_context(&ca.digest, &instance, &bytes);
    let (_, cols_b) =
        weights::weight_columns(model.clone(), settings.shape, settings.k).expect("columns");
    let model_a = Arc::new(read_model(&a).model);
    let (_, cols_a) =
        weights::weight_columns(model_a, settings.shape, settings.k).expect("columns");
    // its best attempt: δ against a's true salts
    let forged =
        weights::prove_link(wa, &salt, &cols_a, &fresh, &ctx, &mut rand_core::OsRng).expect("link");
    let err = weights::verify_link(wa, settings.k, &vsrs, &forged, &bytes, false, &ctx)
        .expect_err("b's weights against a's commitment");
    assert!(err.to_string().contains("not the committed one"), "{err}");
    // the same proof links to b's commitment
    let wb = cb.body.weights.as_ref().expect("weight commitment");
    let ctx = pipeline::link_context(&cb.digest, &instance, &bytes);
    let link =
        weights::prove_link(wb, &salt, &cols_b, &fresh, &ctx, &mut rand_core::OsRng).expect("link");
    weights::verify_link(wb, settings.k, &vsrs, &link, &bytes, false, &ctx).expect("b links to b");
    // the columns are checked in one batch: an edit to any one column's response, or two
    // columns' announcements swapped, still fails, and the failure names the column
    let last = wb.columns.len() - 1;
    let mut edited = link.clone();
    edited.z[last][0] = hex::encode((Fr::from(1) + Fr::from(2)).to_repr());
    let err = weights::verify_link(wb, settings.k, &vsrs, &edited, &bytes, false, &ctx)
        .expect_err("an edited response");
    let named = format!("weight column {} ", wb.columns[last]);
    assert!(err.to_string().contains(&named), "{err}");
    let mut swapped = link.clone();
    swapped.a.swap(0, last);
    let err = weights::verify_link(wb, settings.k, &vsrs, &swapped, &bytes, false, &ctx)
        .expect_err("swapped announcements");
    assert!(err.to_string().contains("not the committed one"), "{err}");
    // the same two edits in two columns with responses shifted to cancel in a plain sum
    let mut cancel = link.clone();
    let shift = Fr::from(5);
    let plus = |h: &str| {
        let v: [u8; 32] = hex::decode(h).expect("hex").try_into().expect("32 bytes");
        Fr::from_repr(v).expect("field")
    };
    cancel.z[0][0] = hex::encode((plus(&cancel.z[0][0]) + shift).to_repr());
    cancel.z[last][0] = hex::encode((plus(&cancel.z[last][0]) - shift).to_repr());
    weights::verify_link(wb, settings.k, &vsrs, &cancel, &bytes, false, &ctx)
        .expect_err("edits that cancel in an unweighted sum");
}

/// The SRS and proving key `setup` wrote to `dir`.
fn keys_of(
    dir: &Path,
    settings: &artifact::Settings,
) -> (
    keys::Srs,
    halo2_proofs::plonk::ProvingKey<halo2_proofs::halo2curves::bn256::G1Affine>,
) {
    let srs = keys::srs_from_bytes(&std::fs::read(dir.join("srs.bin")).expect("srs"), "srs")
        .expect("srs");
    let pk = keys::pk_from_bytes(
        &std::fs::read(dir.join("pk.bin")).expect("pk"),
        settings.shape,
        "pk",
    )
    .expect("pk");
    (srs, pk)
}

fn pipeline_input(path: &Path, settings: &artifact::Settings) -> Vec<f64> {
    let lens: Vec<usize> = settings
        .inputs
        .iter()
        .map(|i| i.shape.iter().product())
        .collect();
    pipeline::read_input(path, &lens).expect("input")
}

#[test]
fn salts_hide_the_weights_and_every_proof_commits_to_them_afresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    compile_private("mlp_tiny", &dir, PRIVATE_WEIGHTS);
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let first = commitment(&dir);
    // setup again keeps the salt: the same commitment
    pipeline::setup(&dir, None, &Quiet).expect("setup again");
    assert_eq!(commitment(&dir), first);
    // a new salt: another commitment to the same weights
    std::fs::remove_file(dir.join("weights.salt")).expect("rm salt");
    pipeline::setup(&dir, None, &Quiet).expect("setup with a new salt");
    let second = commitment(&dir);
    let (w1, w2) = (
        first.body.weights.expect("w1"),
        second.body.weights.clone().expect("w2"),
    );
    assert_eq!(w1.columns, w2.columns);
    for (c1, c2) in w1.commitments.iter().zip(&w2.commitments) {
        assert_ne!(c1, c2);
    }
    // two proofs (two inputs): fresh weight-column commitments, unlike each other and the
    // published one, so their openings are of differently blinded polynomials
    let mut fresh = Vec::new();
    for (i, sample) in [0usize, 5].iter().enumerate() {
        let input = tmp.path().join(format!("in{i}.json"));
        write_sample(
            &model_dir("mlp_tiny").join("calibration.json"),
            *sample,
            64,
            &input,
        );
        let proof = tmp.path().join(format!("proof{i}.json"));
        pipeline::prove(&dir, &input, &proof, &Quiet).expect("prove");
        assert!(verify(&dir, &dir.join("commitment.json"), &proof)
            .status
            .success());
        let p: ProofFile = artifact::read_json(&proof, artifact::PROOF_FORMAT).expect("proof");
        let bytes = hex::decode(&p.proof).expect("hex");
        fresh.push(weights::fresh_commitments(&bytes, &w2.columns, false).expect("fresh"));
    }
    for c in 0..w2.columns.len() {
        assert_ne!(fresh[0][c], fresh[1][c]);
        for f in &fresh {
            assert_ne!(
                hex::encode(halo2_proofs::halo2curves::group::GroupEncoding::to_bytes(
                    &f[c]
                )),
                w2.commitments[c]
            );
        }
    }
}

fn write_sample(calibration: &Path, index: usize, len: usize, out: &Path) {
    let text = std::fs::read_to_string(calibration).expect("calibration");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let flat: Vec<f64> = v["input_data"]
        .as_array()
        .expect("lists")
        .iter()
        .flat_map(|l| {
            l.as_array()
                .expect("list")
                .iter()
                .map(|x| x.as_f64().expect("f64"))
        })
        .collect();
    let sample = &flat[index * len..(index + 1) * len];
    std::fs::write(
        out,
        serde_json::json!({ "input_data": [sample] }).to_string(),
    )
    .expect("write");
}

#[test]
fn a_private_input_is_not_in_the_proof() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    compile_private(
        "cnn_small",
        &dir,
        Privacy {
            weights: false,
            input: true,
            hashed_input: false,
            hashed_output: false,
        },
    );
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let proof = dir.join("proof.json");
    let report = pipeline::prove(
        &dir,
        &model_dir("cnn_small").join("input.json"),
        &proof,
        &Quiet,
    )
    .expect("prove");
    let p = &report.proof;
    assert!(p.input.is_empty());
    assert_eq!(p.instances.len(), 10, "only the outputs are public");
    let out = verify(&dir, &dir.join("commitment.json"), &proof);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("input private"));
    // an input value slipped into the file is refused, as is an edited output
    let mut edited = p.clone();
    edited.input = vec![0; 64];
    artifact::write_json(&proof, &edited).expect("write");
    assert_eq!(
        verify(&dir, &dir.join("commitment.json"), &proof)
            .status
            .code(),
        Some(1)
    );
    let mut edited = p.clone();
    edited.outputs[0].values[0] += 1;
    artifact::write_json(&proof, &edited).expect("write");
    assert_eq!(
        verify(&dir, &dir.join("commitment.json"), &proof)
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn proving_with_private_weights_needs_the_salt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    compile_private("mlp_tiny", &dir, PRIVATE_WEIGHTS);
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    std::fs::remove_file(dir.join("weights.salt")).expect("rm");
    let out = prove_cli(&dir, "mlp_tiny", &dir.join("proof.json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("weights.salt"));
    assert!(!dir.join("proof.json").exists());
}

#[test]
fn a_hashed_input_is_bound_to_its_hash_and_salt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    compile_private(
        "mlp_tiny",
        &dir,
        Privacy {
            weights: false,
            input: true,
            hashed_input: true,
            hashed_output: false,
        },
    );
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let cal = model_dir("mlp_tiny").join("calibration.json");
    let (a, b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    write_sample(&cal, 1, 64, &a);
    write_sample(&cal, 2, 64, &b);
    let proof = tmp.path().join("proof.json");
    let out = zkinfer(&["prove", s(&dir), "--input", s(&a), "-o", s(&proof)]);
    assert!(out.status.success(), "{}", common::describe(&out));
    let salt = std::fs::read_to_string(tmp.path().join("proof.json.salt")).expect("salt");
    let p: ProofFile = artifact::read_json(&proof, artifact::PROOF_FORMAT).expect("proof");
    assert!(p.input.is_empty());
    let hash_of = |input: &Path, salt: &str| {
        let out = zkinfer(&[
            "hash-input",
            s(&dir),
            "--input",
            s(input),
            "--salt",
            salt.trim(),
        ]);
        assert!(out.status.success(), "{}", common::describe(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // the proof's public hash is the one hash-input computes from the input and salt
    let ha = hash_of(&a, &salt);
    assert_eq!(p.instances[0], ha);
    let with_hash = |h: &str| verify_pinned(&dir, &proof, "--input-hash", h);
    let ok = with_hash(&ha);
    assert!(ok.status.success(), "{}", common::describe(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&format!("input hashed {ha}")));
    // input b's hash (same salt), or a's under another salt: rejected
    let hb = hash_of(&b, &salt);
    assert_ne!(ha, hb);
    assert_eq!(with_hash(&hb).status.code(), Some(1));
    let other_salt = "01".repeat(31) + "00";
    assert_ne!(hash_of(&a, &other_salt), ha);
    assert_eq!(with_hash(&hash_of(&a, &other_salt)).status.code(), Some(1));
    // a proof whose public hash was edited does not verify
    let mut edited = p.clone();
    edited.instances[0] = hb.clone();
    artifact::write_json(&proof, &edited).expect("write");
    assert_eq!(with_hash(&hb).status.code(), Some(1));
}

#[test]
fn two_weight_versions_under_one_salt_file_share_no_blinding() {
    // the difference of two commitments must not be a commitment to the weight change alone,
    // in the changed column or in any other (an unchanged column's commitments must differ
    // too, or they would show which columns changed)
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_weight_versions(tmp.path());
    let settings = commitment(&a).body.settings;
    let cols = |d: &Path| {
        weights::weight_columns(Arc::new(read_model(d).model), settings.shape, settings.k)
            .expect("columns")
            .1
    };
    let (ca, cb) = (cols(&a), cols(&b));
    let unchanged = ca.iter().zip(&cb).filter(|(x, y)| x == y).count();
    assert!(
        unchanged > 0 && unchanged < ca.len(),
        "the test needs a changed and an unchanged weight column ({unchanged} of {} unchanged)",
        ca.len()
    );
    let (srs, pk) = keys_of(&a, &settings);
    let domain = pk.get_vk().get_domain();
    let wa = commitment(&a).body.weights.expect("wa");
    let wb = commitment(&b).body.weights.expect("wb");
    let point = |h: &str| {
        let bytes: [u8; 32] = hex::decode(h).expect("hex").try_into().expect("32");
        let mut repr = <halo2_proofs::halo2curves::bn256::G1Affine as halo2_proofs::halo2curves::group::GroupEncoding>::Repr::default();
        repr.as_mut().copy_from_slice(&bytes);
        Option::<halo2_proofs::halo2curves::bn256::G1Affine>::from(
            <halo2_proofs::halo2curves::bn256::G1Affine as halo2_proofs::halo2curves::group::GroupEncoding>::from_bytes(&repr),
        )
        .expect("point")
    };
    use halo2_proofs::halo2curves::group::{prime::PrimeCurveAffine, Curve};
    for c in 0..ca.len() {
        let diff: Vec<Fr> = ca[c].iter().zip(&cb[c]).map(|(x, y)| *y - *x).collect();
        let d = weights::commit_values(&srs, domain, diff);
        let got = (point(&wb.commitments[c]).to_curve() - point(&wa.commitments[c]).to_curve())
            .to_affine();
        assert_ne!(
            got, d,
            "column {c}: the commitments differ by exactly the weight change"
        );
    }
}

#[test]
fn gadget_constants_stay_in_the_verifying_key_with_private_weights() {
    // the argmax and max gadgets' own coefficients must not become owner-chosen witnesses:
    // the private weight columns hold exactly the model's parameters
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    let src = model_dir("cnn_bn");
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        privacy: PRIVATE_WEIGHTS,
        prove_argmax: true,
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), &dir, &opts).expect("compile");
    let m = read_model(&dir).model;
    assert!(m
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, QuantOp::ArgMax(_))));
    assert!(m
        .graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, QuantOp::Max(_))));
    let settings: artifact::Settings =
        artifact::read_json(&dir.join("settings.json"), artifact::SETTINGS_FORMAT).expect("s");
    let (_, cols) =
        weights::weight_columns(Arc::new(m.clone()), settings.shape, settings.k).expect("cols");
    // a parameter cell holds w + 2^62 (a zero weight's cell is 2^62), an unused one 0: every
    // used cell is a small positive integer, cheap to commit to
    assert!(settings.shape.weight_offset);
    let offset = Fr::from(1u64 << 62);
    let small = |v: &Fr| v.to_repr().as_ref()[8..].iter().all(|&b| b == 0);
    let zero = <Fr as halo2_proofs::halo2curves::ff::Field>::ZERO;
    assert!(cols.iter().flatten().all(small));
    let in_columns = cols
        .iter()
        .flatten()
        .filter(|v| **v != zero && **v != offset)
        .count();
    let parameters: usize = m
        .graph
        .nodes
        .iter()
        .map(|n| match &n.op {
            QuantOp::Linear(l) => l
                .groups
                .iter()
                .map(|g| {
                    g.w.iter().flatten().filter(|w| **w != 0).count()
                        + g.bias.iter().filter(|b| **b != 0).count()
                })
                .sum(),
            QuantOp::Gather(g) => g.consts().iter().filter(|c| **c != 0).count(),
            _ => 0,
        })
        .sum();
    assert_eq!(in_columns, parameters);
}

#[test]
fn a_hashed_output_is_not_in_the_proof_and_binds_its_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    compile_private(
        "cnn_small",
        &dir,
        Privacy {
            hashed_output: true,
            ..Default::default()
        },
    );
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let proof = tmp.path().join("proof.json");
    let out = prove_cli(&dir, "cnn_small", &proof);
    assert!(out.status.success(), "{}", common::describe(&out));
    let p: ProofFile = artifact::read_json(&proof, artifact::PROOF_FORMAT).expect("proof");
    assert!(p.outputs.is_empty(), "no output value in proof.json");
    assert_eq!(
        p.instances.len(),
        64 + 1,
        "the public input, then the output hash"
    );
    let file = tmp.path().join("proof.json.output.json");
    let hash_of = |f: &Path| {
        let out = zkinfer(&["hash-output", s(&dir), "--file", s(f)]);
        assert!(out.status.success(), "{}", common::describe(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let h = hash_of(&file);
    assert_eq!(p.instances[64], h);
    let with_hash = |h: &str| verify_pinned(&dir, &proof, "--output-hash", h);
    let ok = with_hash(&h);
    assert!(ok.status.success(), "{}", common::describe(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&format!("output hashed {h}")));
    // claimed values other than the proven ones hash differently and are rejected
    let read = || -> zkinfer::hash::HashedOutputFile {
        artifact::read_json(&file, zkinfer::hash::HASHED_OUTPUT_FORMAT).expect("output file")
    };
    let settings: artifact::Settings =
        artifact::read_json(&dir.join("settings.json"), artifact::SETTINGS_FORMAT).expect("s");
    let other = tmp.path().join("other.json");
    let mut f = read();
    f.outputs[0].values[7] += 1;
    f.outputs = zkinfer::artifact::OutputField::split(&settings, &f.outputs[0].values);
    artifact::write_json(&other, &f).expect("write");
    let h2 = hash_of(&other);
    assert_ne!(h, h2);
    assert_eq!(with_hash(&h2).status.code(), Some(1));
    // a file claiming other floats or another class for the same values, or values that
    // carry into the next packing slot (same hash), is refused by hash-output
    let refused = |f: &zkinfer::hash::HashedOutputFile| {
        artifact::write_json(&other, f).expect("write");
        let out = zkinfer(&["hash-output", s(&dir), "--file", s(&other)]);
        out.status.code() == Some(2)
    };
    let mut f = read();
    f.outputs[0].predicted_class = 9;
    assert!(refused(&f));
    let mut f = read();
    f.outputs[0].floats[3] += 1.0;
    assert!(refused(&f));
    let mut f = read();
    f.outputs[0].values[7] -= 1;
    f.outputs[0].values[8] += 1 << settings.activation_bits;
    f.outputs = zkinfer::artifact::OutputField::split(&settings, &f.outputs[0].values);
    assert!(refused(&f));
}

#[test]
fn a_commitment_made_for_other_weights_is_refused_by_prove() {
    // the prover commits to its weight columns from the published commitment (their usable
    // rows' part, with the salts taken out): a commitment.json of other weights must give an
    // error naming it, not a proof
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_weight_versions_of("mlp_wide", tmp.path());
    std::fs::copy(a.join("commitment.json"), b.join("commitment.json")).expect("copy");
    let proof = b.join("proof.json");
    let out = prove_cli(&b, "mlp_wide", &proof);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("commitment.json"), "{err}");
    assert!(!proof.exists());
    // with its own commitment the same build proves, and the proof verifies
    let out = prove_cli(&a, "mlp_wide", &a.join("proof.json"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        verify(&a, &a.join("commitment.json"), &a.join("proof.json"))
            .status
            .success()
    );
}

#[test]
fn a_crafted_weight_commitment_is_an_error_not_a_panic() {
    // commitment.json is a file anyone can edit (digest recomputed): blinding rows past the
    // column, an overflowing row index, thousands of bases. prove sizes its tables by them only
    // after checking them against the circuit: a clear error, exit 2, no proof.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    compile_private("mlp_tiny", &dir, PRIVATE_WEIGHTS);
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let good = commitment(&dir);
    let edits: [&dyn Fn(&mut weights::WeightCommitment); 3] = [
        &|w| w.first_blind_row += 1,
        &|w| w.first_blind_row = usize::MAX - 3,
        &|w| {
            let b = w.bases[0].clone();
            w.bases.resize(100_000, b);
        },
    ];
    for (i, edit) in edits.iter().enumerate() {
        let mut c = good.clone();
        edit(c.body.weights.as_mut().expect("weight commitment"));
        c.digest = c.body.digest();
        artifact::write_json(&dir.join("commitment.json"), &c).expect("write");
        let proof = dir.join("proof.json");
        let out = prove_cli(&dir, "mlp_tiny", &proof);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "edit {i}: {err}");
        assert!(err.contains("commitment.json"), "edit {i}: {err}");
        assert!(!err.contains("panicked"), "edit {i}: {err}");
        assert!(!proof.exists(), "edit {i}");
    }
}
