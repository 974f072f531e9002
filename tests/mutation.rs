//! Mutation test: for a proof of each visibility mode, 10,000 mutations spread over the proof
//! bytes, the public instances, the claimed output and input fields, the weight link, the raw
//! text of proof.json and commitment.json, vk.bin, and commitments edited with their digest
//! recomputed (checked with the recipient's pin, `--expect-digest`). `verify` must reject
//! every one (a rejection, or an unreadable file), accept none and never panic. Field-level
//! mutations are written in the canonical form zkinfer writes, so that what rejects them is
//! the check of their content, not of their spelling.

mod common;

use common::model_dir;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use zkinfer::artifact::{Commitment, ProofFile};
use zkinfer::pipeline::{self, CompileOptions, Quiet};
use zkinfer::plan::Privacy;

const MUTATIONS: usize = 10_000;

struct Rng(ChaCha20Rng);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.0.next_u32() as u8
    }
    fn other_byte(&mut self, b: u8) -> u8 {
        b ^ (1 + self.below(255) as u8)
    }
}

/// A build folder with keys and one honest proof.
struct Proven {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    proof: Vec<u8>,
    commitment: Vec<u8>,
    vk: Vec<u8>,
}

fn proven(name: &str, privacy: Privacy) -> Proven {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    let src = model_dir(name);
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        privacy,
        ..Default::default()
    };
    pipeline::compile(&src.join("network.onnx"), &dir, &opts).expect("compile");
    pipeline::setup(&dir, None, &Quiet).expect("setup");
    let proof = dir.join("proof.json");
    pipeline::prove(&dir, &src.join("input.json"), &proof, &Quiet).expect("prove");
    let read = |f: &str| std::fs::read(dir.join(f)).expect("read");
    Proven {
        proof: read("proof.json"),
        commitment: read("commitment.json"),
        vk: read("vk.bin"),
        dir,
        _tmp: tmp,
    }
}

/// proof.json as zkinfer writes it (through its type), or compact JSON if the mutant no
/// longer fits the type.
fn proof_file(v: &Value) -> Vec<u8> {
    match serde_json::from_value::<ProofFile>(v.clone()) {
        Ok(p) => {
            let mut b = serde_json::to_vec_pretty(&p).expect("json");
            b.push(b'\n');
            b
        }
        Err(_) => serde_json::to_vec(v).expect("json"),
    }
}

/// A commitment with one field of its body edited and its digest recomputed (what anyone
/// who edits commitment.json can do), and the honest proof re-pointed at it.
fn redigested(rng: &mut Rng, c: &Commitment, proof: &Value) -> (Vec<u8>, Vec<u8>) {
    let mut c = c.clone();
    let s = &mut c.body.settings;
    match rng.below(5) {
        0 => s.outputs[0].scale += 1 + rng.below(3) as u32,
        1 => c.body.model_name.push('x'),
        2 => s.outputs[0].name.push('x'),
        3 => s.outputs[0].class_index = !s.outputs[0].class_index,
        _ => c.body.model_sha256 = "00".repeat(32),
    }
    c.digest = c.body.digest();
    let mut p = proof.clone();
    p["commitment"] = Value::String(c.digest.clone());
    p["model_name"] = Value::String(c.body.model_name.clone());
    let mut cb = serde_json::to_vec_pretty(&c).expect("json");
    cb.push(b'\n');
    (cb, proof_file(&p))
}

/// Byte-level mutation of `bytes`: a bit flip, a byte replaced, a truncation, an extension,
/// or two 32-byte words swapped. `None` if it changed nothing.
fn mutate_bytes(rng: &mut Rng, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut b = bytes.to_vec();
    let n = b.len();
    match rng.below(10) {
        0..=3 => {
            let i = rng.below(n);
            b[i] ^= 1 << rng.below(8);
        }
        4..=5 => {
            let i = rng.below(n);
            b[i] = rng.other_byte(b[i]);
        }
        6 => b.truncate(rng.below(n)),
        7 => {
            for _ in 0..1 + rng.below(64) {
                b.push(rng.byte());
            }
        }
        _ => {
            let words = n / 32;
            let (i, j) = (rng.below(words), rng.below(words));
            if i == j {
                return None;
            }
            for k in 0..32 {
                b.swap(i * 32 + k, j * 32 + k);
            }
        }
    }
    (b != bytes).then_some(b)
}

/// A field-level mutation of proof.json: instances, claimed outputs and input, the claimed
/// commitment, the model name, the weight link, swapped fields.
fn mutate_fields(rng: &mut Rng, proof: &Value) -> Option<Value> {
    let mut v = proof.clone();
    let hex_bytes = |s: &str| hex::decode(s).expect("hex");
    match rng.below(9) {
        0..=2 => {
            let inst = v["instances"].as_array_mut()?;
            let i = rng.below(inst.len());
            let mut b = hex_bytes(inst[i].as_str()?);
            match rng.below(3) {
                0 => {
                    let (i, bit) = (rng.below(32), rng.below(8));
                    b[i] ^= 1 << bit;
                }
                1 => b[0] = b[0].wrapping_add(1),
                _ => {
                    for x in &mut b {
                        *x = rng.byte();
                    }
                }
            }
            inst[i] = Value::String(hex::encode(b));
        }
        3 => {
            let inst = v["instances"].as_array_mut()?;
            match rng.below(3) {
                0 => {
                    let (i, j) = (rng.below(inst.len()), rng.below(inst.len()));
                    inst.swap(i, j);
                }
                1 => {
                    inst.pop();
                }
                _ => {
                    let last = inst.last()?.clone();
                    inst.push(last);
                }
            }
        }
        4 => {
            let outs = v["outputs"].as_array_mut()?;
            if outs.is_empty() {
                return None;
            }
            let i = rng.below(outs.len());
            let o = &mut outs[i];
            match rng.below(4) {
                0 => {
                    let vals = o["values"].as_array_mut()?;
                    let j = rng.below(vals.len());
                    let d = [1i64, -1, 1 << 20][rng.below(3)];
                    vals[j] = Value::from(vals[j].as_i64()? + d);
                }
                1 => {
                    let fl = o["floats"].as_array_mut()?;
                    let j = rng.below(fl.len());
                    let x = fl[j].as_f64()?;
                    fl[j] = Value::from(if rng.below(2) == 0 {
                        -x - 1.0
                    } else {
                        x * (1.0 + 1e-12) + 1e-300
                    });
                }
                2 => {
                    let c = o["predicted_class"].as_u64()?;
                    o["predicted_class"] = Value::from(c + 1);
                }
                _ => {
                    let s = o["scale"].as_u64()?;
                    o["scale"] = Value::from(s ^ 1);
                }
            }
        }
        5 => {
            let input = v["input"].as_array_mut()?;
            if input.is_empty() {
                return None;
            }
            let j = rng.below(input.len());
            input[j] = Value::from(input[j].as_i64()? + [1, -1][rng.below(2)]);
        }
        6 => {
            let mut c = hex_bytes(v["commitment"].as_str()?);
            let (i, bit) = (rng.below(c.len()), rng.below(8));
            c[i] ^= 1 << bit;
            v["commitment"] = Value::String(hex::encode(c));
        }
        7 => {
            v["model_name"] = Value::String(format!("{}x", v["model_name"].as_str()?));
        }
        _ => {
            let link = v.get_mut("weight_link")?;
            if rng.below(2) == 0 {
                let a = link["a"].as_array_mut()?;
                let c = rng.below(a.len());
                let mut b = hex_bytes(a[c].as_str()?);
                let (i, bit) = (rng.below(b.len()), rng.below(8));
                b[i] ^= 1 << bit;
                a[c] = Value::String(hex::encode(b));
            } else {
                let z = link["z"].as_array_mut()?;
                let i = rng.below(z.len());
                let row = z[i].as_array_mut()?;
                let j = rng.below(row.len());
                let mut b = hex_bytes(row[j].as_str()?);
                let (i, bit) = (rng.below(16), rng.below(8));
                b[i] ^= 1 << bit;
                row[j] = Value::String(hex::encode(b));
            }
        }
    }
    (v != *proof).then_some(v)
}

#[derive(Default, Debug)]
struct Tally {
    mutations: usize,
    rejected: usize,
    unreadable: usize,
    pinned: usize,
    by_target: [usize; 6],
}

fn run_mode(label: &str, name: &str, privacy: Privacy, seed: u64) -> Tally {
    let p = proven(name, privacy);
    let scratch = p.dir.join("mutants");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    let (c0, vk0, proof0) = (
        p.dir.join("commitment.json"),
        p.dir.join("vk.bin"),
        p.dir.join("proof.json"),
    );
    assert!(
        pipeline::verify(&c0, &vk0, &proof0).is_ok(),
        "{label}: the honest proof verifies"
    );
    let proof_json: Value = serde_json::from_slice(&p.proof).expect("proof json");
    let commitment: Commitment = serde_json::from_slice(&p.commitment).expect("commitment");
    let digest = commitment.digest.clone();
    let proof_bytes = hex::decode(proof_json["proof"].as_str().expect("proof")).expect("hex");
    let mut rng = Rng(ChaCha20Rng::seed_from_u64(seed));
    let mut t = Tally::default();
    let write = |f: &str, bytes: &[u8]| -> PathBuf {
        let path = scratch.join(f);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    while t.mutations < MUTATIONS {
        let target = match rng.below(100) {
            0..=39 => 0,  // proof bytes
            40..=64 => 1, // fields of proof.json
            65..=74 => 2, // proof.json text
            75..=84 => 3, // commitment.json text
            85..=94 => 4, // vk.bin
            _ => 5,       // a re-digested commitment
        };
        let (c, vk, proof): (PathBuf, PathBuf, PathBuf) = match target {
            0 => {
                let Some(b) = mutate_bytes(&mut rng, &proof_bytes) else {
                    continue;
                };
                let mut v = proof_json.clone();
                v["proof"] = Value::String(hex::encode(b));
                let f = write("proof.json", &proof_file(&v));
                (c0.clone(), vk0.clone(), f)
            }
            1 => {
                let Some(v) = mutate_fields(&mut rng, &proof_json) else {
                    continue;
                };
                let f = write("proof.json", &proof_file(&v));
                (c0.clone(), vk0.clone(), f)
            }
            2 | 3 => {
                let original = if target == 2 { &p.proof } else { &p.commitment };
                let Some(b) = mutate_bytes(&mut rng, original) else {
                    continue;
                };
                if target == 2 {
                    (c0.clone(), vk0.clone(), write("proof.json", &b))
                } else {
                    (write("commitment.json", &b), vk0.clone(), proof0.clone())
                }
            }
            4 => {
                let Some(b) = mutate_bytes(&mut rng, &p.vk) else {
                    continue;
                };
                (c0.clone(), write("vk.bin", &b), proof0.clone())
            }
            _ => {
                let (cb, pb) = redigested(&mut rng, &commitment, &proof_json);
                (
                    write("commitment.json", &cb),
                    vk0.clone(),
                    write("proof.json", &pb),
                )
            }
        };
        t.mutations += 1;
        t.by_target[target] += 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| pipeline::verify(&c, &vk, &proof)));
        match outcome {
            Err(_) => panic!(
                "{label}: verify panicked on mutation {} (target {target})",
                t.mutations
            ),
            // the recipient's pin (`verify --expect-digest`) is what refuses a commitment
            // whose body and digest were both edited
            Ok(Ok(v)) if v.digest != digest => t.pinned += 1,
            Ok(Ok(_)) => {
                let kept = |f: &Path| std::fs::read(f).expect("read mutant");
                let m: Value = serde_json::from_slice(&kept(&proof)).unwrap_or(Value::Null);
                let mb = hex::decode(m["proof"].as_str().unwrap_or("")).unwrap_or_default();
                let first_diff = mb.iter().zip(&proof_bytes).position(|(a, b)| a != b);
                eprintln!(
                    "proof bytes: len {} vs {}, first diff {first_diff:?}",
                    mb.len(),
                    proof_bytes.len()
                );
                if let Some(d) = first_diff {
                    let w = d / 32 * 32;
                    eprintln!(
                        "word {}: {} -> {}",
                        d / 32,
                        hex::encode(&proof_bytes[w..w + 32]),
                        hex::encode(&mb[w..w + 32])
                    );
                }
                panic!(
                    "{label}: mutation {} (target {target}) was ACCEPTED; mutant proof.json: {}",
                    t.mutations,
                    String::from_utf8_lossy(&kept(&proof))
                )
            }
            Ok(Err(pipeline::VerifyError::Rejected(_))) => t.rejected += 1,
            Ok(Err(pipeline::VerifyError::BadFile(_))) => t.unreadable += 1,
        }
    }
    println!(
        "{label}: {} mutations, {} rejected, {} unreadable, {} refused by the pinned digest, none accepted, no panic; proof bytes {}, proof.json fields {}, proof.json text {}, commitment.json text {}, vk.bin {}, re-digested commitments {}",
        t.mutations, t.rejected, t.unreadable, t.pinned, t.by_target[0], t.by_target[1], t.by_target[2], t.by_target[3], t.by_target[4], t.by_target[5]
    );
    for (i, n) in t.by_target.iter().enumerate() {
        assert!(
            *n >= MUTATIONS / 25,
            "{label}: target {i} got only {n} mutations"
        );
    }
    t
}

#[test]
fn fixed_weights_public_input_and_output() {
    run_mode("fixed/public/public", "mlp_tiny", Privacy::default(), 1);
}

#[test]
fn private_weights_and_hashed_input() {
    let privacy = Privacy {
        weights: true,
        input: true,
        hashed_input: true,
        hashed_output: false,
    };
    run_mode("private/hashed/public", "mlp_tiny", privacy, 2);
}

#[test]
fn private_input_and_hashed_output() {
    let privacy = Privacy {
        weights: false,
        input: true,
        hashed_input: false,
        hashed_output: true,
    };
    run_mode("fixed/private/hashed", "mlp_tiny", privacy, 3);
}
