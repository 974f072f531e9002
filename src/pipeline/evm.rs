//! `zkinfer evm`: the Solidity verifier of a build folder, and running it on a proof.

use super::{files, PipelineError};
use crate::artifact::{
    self, Commitment, OutputField, ProofFile, Settings, TensorSettings, COMMITMENT_FORMAT,
    PROOF_FORMAT,
};
use crate::evm::{self, CallOutcome, EvmError};
use crate::keys::{self, VerifierSrs};
use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format tag of `verifier.json`.
pub const VERIFIER_FORMAT: &str = "zkinfer/evm-verifier/v2";

/// One part of a verifier cut to fit EIP-170 (see [`evm::split`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierPart {
    /// Contract name in `VerifierParts.sol`.
    pub contract: String,
    /// File (in the same folder) holding its deployment bytecode, hex.
    pub bin: String,
    /// Keccak-256 of its runtime bytecode (the entry contract checks it before each call).
    /// A part is never a verifier on its own: it trusts the memory its caller hands it, so
    /// pin the entry contract's `runtime_code_keccak256`, never a part's.
    pub part_code_keccak256: String,
    /// Runtime bytecode size.
    pub runtime_bytes: usize,
    /// Deployment bytecode size.
    pub deployment_bytes: usize,
}

/// `verifier.json`: which commitment a contract verifies, and how to recognise it on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierFile {
    /// Format tag.
    pub format: String,
    /// Digest of the model commitment the contract verifies proofs of.
    pub commitment: String,
    /// Model name.
    pub model_name: String,
    /// Public values the contract takes (32-byte words before the proof).
    pub instances: usize,
    /// The calldata length the contract takes (public values and proof), exactly.
    pub calldata_bytes: usize,
    /// The id of the SRS the keys were made with (`zkinfer params id`).
    pub srs_id: String,
    /// Made with zkinfer's insecure development SRS: anyone can forge proofs it accepts.
    pub insecure_dev_srs: bool,
    /// Keccak-256 of the entry contract's runtime bytecode (what `EXTCODEHASH` returns for a
    /// deployed copy). With parts, the entry contract checks theirs, so this pins them too.
    pub runtime_code_keccak256: String,
    /// The entry contract's runtime bytecode size (EIP-170 allows 24,576).
    pub runtime_bytes: usize,
    /// The entry contract's deployment bytecode size (`Verifier.bin`, without the parts'
    /// addresses its constructor takes).
    pub deployment_bytes: usize,
    /// The parts the entry contract calls in order, deployed before it; empty when the
    /// verifier fits one contract.
    pub parts: Vec<VerifierPart>,
    /// What the runtime bytecode of the verifier in one contract would be.
    pub single_contract_runtime_bytes: usize,
    /// The compiler that made the bytecode.
    pub solc: String,
    /// The public values the contract range-checks: (first index, count, signed bits): the
    /// public inputs, then the public outputs.
    pub range_checks: Vec<(usize, usize, u32)>,
    /// The model's outputs (names, shapes, scales), to read the public outputs of a proof.
    pub outputs: Vec<TensorSettings>,
}

/// What `evm` wrote.
#[derive(Clone, Debug)]
pub struct EvmReport {
    /// The output folder.
    pub out: PathBuf,
    /// `verifier.json`'s contents.
    pub verifier: VerifierFile,
}

/// Public values: (input hash, public inputs, public outputs, output hash) counts.
fn instance_layout(s: &Settings) -> (usize, usize, usize, usize) {
    let sh = &s.shape;
    (
        usize::from(sh.hashed_input),
        if sh.private_input { 0 } else { s.input_len },
        if sh.hashed_output { 0 } else { s.output_len },
        usize::from(sh.hashed_output),
    )
}

/// The BN254 scalar field modulus `r`, as the generated code writes it.
const R_HEX: &str = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

/// Yul placed at the start of the verifier's code, checking what snark-verifier's code does
/// not and `zkinfer verify` does:
/// - the calldata is exactly as long as the verifier reads (no trailing or missing bytes);
/// - the range checks the circuit relies on: public inputs within the activation range,
///   outputs within `output_bits` (`v < 2^(b−1)` or `r − 2^(b−1) ≤ v < r`);
/// - [`harden`] routes every scalar word through `zkinfer_fq`, which refuses `v ≥ r` (the
///   generated code reduces them mod `r`, so each public value and proof scalar would have
///   several accepted encodings, and a public value `w + r` would pass as `w`).
fn prelude(checks: &[(usize, usize, u32)], calldata_len: usize) -> String {
    let mut yul = format!(
        "// zkinfer: exact calldata length, canonical scalars, public values in range
            function zkinfer_fq(v) -> r {{
                if iszero(lt(v, {R_HEX})) {{ revert(0, 0) }}
                r := v
            }}
            if iszero(eq(calldatasize(), {calldata_len:#x})) {{ revert(0, 0) }}
"
    );
    for &(first, count, bits) in checks {
        if count == 0 {
            continue;
        }
        yul.push_str(&format!(
            "            for {{ let i := {first} }} lt(i, {end}) {{ i := add(i, 1) }} {{
                let v := calldataload(mul(i, 0x20))
                let b := shl({b1}, 1)
                if iszero(or(lt(v, b), and(iszero(lt(v, sub({R_HEX}, b))), lt(v, {R_HEX})))) {{ revert(0, 0) }}
            }}
",
            end = first + count,
            b1 = bits - 1,
        ));
    }
    yul.push_str("            ");
    yul
}

/// Hardens the generated verifier (see [`prelude`]): every `mod(calldataload(X), f_q)` becomes
/// `zkinfer_fq(calldataload(X))`, and the prelude goes before the verifier's own code. Returns
/// the code and the calldata length it reads.
fn harden(
    code: &str,
    checks: &[(usize, usize, u32)],
    n_instances: usize,
) -> Result<(String, usize), EvmError> {
    const ANCHOR: &str = "let success := true";
    let bad = |m: &str| EvmError::Generate(format!("unexpected generated verifier: {m}"));
    // the largest literal calldata offset read, plus one word
    let mut end = 0usize;
    let mut rest = code;
    while let Some(at) = rest.find("calldataload(0x") {
        let hex: String = rest[at + "calldataload(0x".len()..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        let off = usize::from_str_radix(&hex, 16).map_err(|_| bad("a calldata offset"))?;
        end = end.max(off + 32);
        rest = &rest[at + 1..];
    }
    let scalars = code.matches("mod(calldataload(").count();
    let with_fq = code.matches("), f_q)").count();
    let hardened = code.replace("mod(calldataload(", "zkinfer_fq(calldataload(");
    // `zkinfer_fq(calldataload(X), f_q)` → `zkinfer_fq(calldataload(X))`: only the reads
    let mut out = String::with_capacity(hardened.len());
    let mut rest = hardened.as_str();
    let mut fixed = 0;
    while let Some(at) = rest.find("zkinfer_fq(calldataload(") {
        let head = at + "zkinfer_fq(calldataload(".len();
        let close = rest[head..].find(')').ok_or_else(|| bad("a scalar read"))? + head;
        if !rest[close..].starts_with("), f_q)") {
            return Err(bad("a scalar read"));
        }
        out.push_str(&rest[..close]);
        out.push_str("))");
        rest = &rest[close + "), f_q)".len()..];
        fixed += 1;
    }
    out.push_str(rest);
    if scalars <= n_instances || fixed != scalars || with_fq < scalars || end < 32 * n_instances {
        return Err(bad("the scalar reads"));
    }
    let at = out.find(ANCHOR).ok_or_else(|| bad(ANCHOR))?;
    Ok((
        format!("{}{}{}", &out[..at], prelude(checks, end), &out[at..]),
        end,
    ))
}

/// Writes `Verifier.sol`, `Verifier.bin` (deployment bytecode, hex) and `verifier.json` for
/// the build folder `dir` into `out`, compiling with `solc`. A verifier over EIP-170's 24,576
/// bytes is cut into parts (`VerifierParts.sol`, `Halo2VerifierPart<i>.bin`) that the entry
/// contract in `Verifier.sol` calls in order (see [`evm::split`]). Refuses a build with private
/// weights (the contract cannot check their link to the commitment: it would accept proofs made
/// with any weights) and, unless `allow_dev_srs`, keys made with the insecure development SRS.
pub fn evm_generate(
    dir: &Path,
    out: &Path,
    solc: &Path,
    allow_dev_srs: bool,
) -> Result<EvmReport, PipelineError> {
    let commitment_path = dir.join(files::COMMITMENT);
    let commitment: Commitment = artifact::read_json(&commitment_path, COMMITMENT_FORMAT)?;
    let body = &commitment.body;
    let settings = &body.settings;
    let refuse = |m: String| {
        Err(PipelineError::Inconsistent(format!(
            "{}: {m}",
            dir.display()
        )))
    };
    if body.digest() != commitment.digest {
        return refuse("commitment.json's digest does not match its contents (altered?)".into());
    }
    if settings.shape.private_weights {
        return refuse("the commitment has private weights: an EVM verifier cannot check their link to the weight commitment, so it would accept proofs made with any weights of this architecture; verify such proofs with `zkinfer verify`".into());
    }
    let bits_ok = |b: u32| (2..=63).contains(&b);
    if !bits_ok(settings.activation_bits) || !bits_ok(settings.output_bits) {
        return refuse("settings out of range (bit widths)".into());
    }
    let vk_path = dir.join(files::VK);
    let (srs_bytes, vk_bytes) =
        super::verify::split_vk(&vk_path, &artifact::read_bytes(&vk_path)?)?;
    let vsrs = VerifierSrs::from_bytes(&srs_bytes).map_err(|e| {
        artifact::ArtifactError::malformed(&vk_path, format!("its SRS is unreadable: {e}"))
    })?;
    if vsrs.digest() != body.srs.digest
        || vsrs.k != settings.k
        || vsrs.is_dev() != body.srs.insecure_dev
    {
        return refuse("vk.bin carries another SRS than commitment.json names".into());
    }
    if vsrs.is_dev() && !allow_dev_srs {
        return refuse("the keys were made with zkinfer's insecure development SRS: anyone could forge proofs this contract accepts. Set up with a trusted-setup SRS (see params/README.md), or pass --insecure-dev-srs for tests".into());
    }
    let vk = keys::vk_from_bytes(
        &vk_bytes,
        settings.shape,
        settings.k,
        &vk_path.display().to_string(),
    )?;
    if keys::vk_repr(&vk) != body.vk_repr {
        return refuse("vk.bin does not match commitment.json; run `zkinfer setup` again".into());
    }
    let (n_hash, n_in, n_out, n_out_hash) = instance_layout(settings);
    let n = n_hash + n_in + n_out + n_out_hash;
    let checks = vec![
        (n_hash, n_in, settings.activation_bits),
        (n_hash + n_in, n_out, settings.output_bits),
    ];
    let (code, calldata_bytes) = harden(&evm::verifier_code(&vsrs, &vk, n)?, &checks, n)?;
    let cut = cut_to_fit(solc, &code, calldata_bytes, &commitment.digest)?;
    // deploy once in the in-process EVM (mainnet rules): the code a chain would hold
    let (deployed, _) = evm::deploy_and_call(&cut.contracts, &[])?;
    if deployed.entry != cut.entry_runtime || deployed.parts != cut.part_runtimes {
        return Err(EvmError::Deploy(
            "the deployed code differs from the compiler's runtime bytecode".into(),
        )
        .into());
    }
    let parts: Vec<VerifierPart> = (0..cut.part_runtimes.len())
        .map(|i| VerifierPart {
            contract: evm::split::part_name(i + 1),
            bin: format!("{}.bin", evm::split::part_name(i + 1)),
            part_code_keccak256: evm::keccak_hex(&cut.part_runtimes[i]),
            runtime_bytes: cut.part_runtimes[i].len(),
            deployment_bytes: cut.contracts.parts[i].len(),
        })
        .collect();
    let verifier = VerifierFile {
        format: VERIFIER_FORMAT.to_string(),
        commitment: commitment.digest.clone(),
        model_name: settings.model_name.clone(),
        instances: n,
        calldata_bytes,
        srs_id: vsrs.id(),
        insecure_dev_srs: vsrs.is_dev(),
        runtime_code_keccak256: evm::keccak_hex(&cut.entry_runtime),
        runtime_bytes: cut.entry_runtime.len(),
        deployment_bytes: cut.contracts.entry.len(),
        parts,
        single_contract_runtime_bytes: cut.single_runtime_bytes,
        solc: cut.solc.clone(),
        range_checks: checks,
        outputs: settings.outputs.clone(),
    };
    std::fs::create_dir_all(out).map_err(|source| artifact::ArtifactError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let json_path = out.join("verifier.json");
    let json = artifact::json_bytes(&json_path, &verifier)?;
    let hex_line = |b: &[u8]| format!("{}\n", hex::encode(b)).into_bytes();
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            out.join("Verifier.sol"),
            cut.entry_source.clone().into_bytes(),
        ),
        (out.join("Verifier.bin"), hex_line(&cut.contracts.entry)),
    ];
    if let Some(src) = &cut.parts_source {
        files.push((out.join(PARTS_SOURCE), src.clone().into_bytes()));
    }
    for (part, code) in verifier.parts.iter().zip(&cut.contracts.parts) {
        files.push((out.join(&part.bin), hex_line(code)));
    }
    files.push((json_path, json));
    let refs: Vec<(&Path, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_path(), b.as_slice()))
        .collect();
    artifact::write_all_atomic(&refs)?;
    remove_stale_parts(out, &verifier.parts);
    Ok(EvmReport {
        out: out.to_path_buf(),
        verifier,
    })
}

/// Source file of the parts.
const PARTS_SOURCE: &str = "VerifierParts.sol";
/// Aim for parts this large (under EIP-170's 24,576 bytes: each part repeats the functions).
const PART_TARGET_BYTES: usize = 20_000;
/// Most parts tried.
const MAX_PARTS: usize = 16;

/// A verifier compiled into contracts that each fit EIP-170.
struct Cut {
    entry_source: String,
    parts_source: Option<String>,
    contracts: evm::Contracts,
    entry_runtime: Vec<u8>,
    part_runtimes: Vec<Vec<u8>>,
    single_runtime_bytes: usize,
    solc: String,
}

/// Compiles `code` as one contract and, when its runtime bytecode exceeds EIP-170, cuts it
/// into the fewest parts (from an estimate up) that each fit, plus the entry contract.
fn cut_to_fit(solc: &Path, code: &str, calldata_len: usize, digest: &str) -> Result<Cut, EvmError> {
    let entry_of = |mut compiled: std::collections::BTreeMap<String, evm::Compiled>| {
        compiled
            .remove("Halo2Verifier")
            .ok_or_else(|| EvmError::Solc("no contract Halo2Verifier in the output".into()))
    };
    let single = entry_of(evm::compile_solidity(solc, "Verifier.sol", code)?)?;
    let single_runtime_bytes = single.runtime.len();
    if single_runtime_bytes <= evm::MAX_RUNTIME_BYTES {
        return Ok(Cut {
            entry_source: code.to_string(),
            parts_source: None,
            contracts: evm::Contracts {
                parts: Vec::new(),
                entry: single.deployment,
            },
            entry_runtime: single.runtime,
            part_runtimes: Vec::new(),
            single_runtime_bytes,
            solc: single.version,
        });
    }
    let parsed = evm::split::parse(code)?;
    let mut n = single_runtime_bytes.div_ceil(PART_TARGET_BYTES).max(2);
    let (parts_source, mut compiled) = loop {
        if n > MAX_PARTS.min(parsed.statements()) {
            return Err(EvmError::Generate(format!(
                "the verifier ({single_runtime_bytes} bytes of runtime code) does not fit EIP-170 in {MAX_PARTS} parts"
            )));
        }
        // a cut can fail on a very uneven line of statements: try more parts
        let Ok(src) = parsed.parts_source(n, calldata_len) else {
            n += 1;
            continue;
        };
        let compiled = evm::compile_solidity(solc, PARTS_SOURCE, &src)?;
        let fits = (1..=n).all(|i| {
            compiled
                .get(&evm::split::part_name(i))
                .is_some_and(|c| c.runtime.len() <= evm::MAX_RUNTIME_BYTES)
        });
        if fits {
            break (src, compiled);
        }
        n += 1;
    };
    let mut parts = Vec::with_capacity(n);
    for i in 1..=n {
        parts.push(compiled.remove(&evm::split::part_name(i)).ok_or_else(|| {
            EvmError::Solc(format!("no {} in the output", evm::split::part_name(i)))
        })?);
    }
    let hashes: Vec<String> = parts.iter().map(|p| evm::keccak_hex(&p.runtime)).collect();
    let entry_source = evm::split::entry_source(&hashes, calldata_len, digest);
    let entry = entry_of(evm::compile_solidity(solc, "Verifier.sol", &entry_source)?)?;
    if entry.runtime.len() > evm::MAX_RUNTIME_BYTES {
        return Err(EvmError::Generate(
            "the entry contract exceeds EIP-170".into(),
        ));
    }
    Ok(Cut {
        entry_source,
        parts_source: Some(parts_source),
        contracts: evm::Contracts {
            parts: parts.iter().map(|p| p.deployment.clone()).collect(),
            entry: entry.deployment,
        },
        entry_runtime: entry.runtime,
        part_runtimes: parts.into_iter().map(|p| p.runtime).collect(),
        single_runtime_bytes,
        solc: entry.version,
    })
}

/// Removes part files an earlier `zkinfer evm` left in `out` that the new verifier does not
/// have (best effort: verifier.json lists the files that count).
fn remove_stale_parts(out: &Path, parts: &[VerifierPart]) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let is_part = name.starts_with("Halo2VerifierPart") && name.ends_with(".bin");
        let stale_source = name == PARTS_SOURCE && parts.is_empty();
        if (is_part && !parts.iter().any(|p| p.bin == name)) || stale_source {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads the verifier `zkinfer evm` wrote to `evm_dir`: verifier.json and the deployment
/// bytecode of the entry contract and its parts.
pub fn evm_contracts(evm_dir: &Path) -> Result<(VerifierFile, evm::Contracts), PipelineError> {
    let verifier: VerifierFile =
        artifact::read_json(&evm_dir.join("verifier.json"), VERIFIER_FORMAT)?;
    let read_hex = |name: &str| -> Result<Vec<u8>, PipelineError> {
        let path = evm_dir.join(name);
        Ok(String::from_utf8(artifact::read_bytes(&path)?)
            .ok()
            .and_then(|h| hex::decode(h.trim()).ok())
            .ok_or_else(|| artifact::ArtifactError::malformed(&path, "not hex bytecode"))?)
    };
    // the part files are named by position: verifier.json cannot point elsewhere
    for (i, part) in verifier.parts.iter().enumerate() {
        let name = evm::split::part_name(i + 1);
        if part.contract != name || part.bin != format!("{name}.bin") {
            return Err(artifact::ArtifactError::malformed(
                &evm_dir.join("verifier.json"),
                format!("part {} must be {name} in {name}.bin", i + 1),
            )
            .into());
        }
    }
    let entry = read_hex("Verifier.bin")?;
    let parts = verifier
        .parts
        .iter()
        .map(|p| read_hex(&p.bin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((verifier, evm::Contracts { parts, entry }))
}

/// What running the contract on a proof gave.
#[derive(Clone, Debug)]
pub struct EvmVerified {
    /// Accepted (with gas) or rejected (with gas and reason).
    pub outcome: CallOutcome,
    /// Calldata bytes.
    pub calldata_bytes: usize,
    /// The outputs the public values state (none when the output is hashed).
    pub outputs: Vec<OutputField>,
    /// The input hash the proof is about, when the input is hashed.
    pub input_hash: Option<String>,
    /// The output hash the proof is about, when the output is hashed.
    pub output_hash: Option<String>,
}

/// Deploys `evm_dir`'s verifier in an in-process EVM and calls it on the proof in
/// `proof_path` (made with `prove --evm`). `Err` for unreadable files or a proof of another
/// commitment.
pub fn evm_verify(evm_dir: &Path, proof_path: &Path) -> Result<EvmVerified, PipelineError> {
    let (verifier, contracts) = evm_contracts(evm_dir)?;
    let proof: ProofFile = artifact::read_json(proof_path, PROOF_FORMAT)?;
    if proof.commitment != verifier.commitment {
        return Err(PipelineError::Inconsistent(format!(
            "{}: the proof is for commitment {}, the verifier for {}",
            proof_path.display(),
            proof.commitment.get(..16).unwrap_or(&proof.commitment),
            verifier
                .commitment
                .get(..16)
                .unwrap_or(&verifier.commitment)
        )));
    }
    if proof.transcript.as_deref() != Some(artifact::TRANSCRIPT_KECCAK) {
        return Err(PipelineError::Inconsistent(format!(
            "{}: a Blake2b proof, which no EVM verifier accepts: prove with --evm",
            proof_path.display()
        )));
    }
    let instance = proof
        .instances
        .iter()
        .map(|h| {
            let bytes: [u8; 32] = hex::decode(h).ok()?.try_into().ok()?;
            Option::<Fr>::from(Fr::from_repr(bytes))
        })
        .collect::<Option<Vec<Fr>>>()
        .ok_or_else(|| {
            artifact::ArtifactError::malformed(
                proof_path,
                "\"instances\" must be 32-byte field elements in hex",
            )
        })?;
    if instance.len() != verifier.instances {
        return Err(PipelineError::Inconsistent(format!(
            "{}: {} public values, the verifier takes {}",
            proof_path.display(),
            instance.len(),
            verifier.instances
        )));
    }
    let (outputs, input_hash, output_hash) = read_public_values(&verifier, &proof, &instance)
        .map_err(|m| PipelineError::Inconsistent(format!("{}: {m}", proof_path.display())))?;
    let proof_bytes = hex::decode(&proof.proof).map_err(|e| {
        artifact::ArtifactError::malformed(proof_path, format!("\"proof\" is not hex: {e}"))
    })?;
    let calldata = evm::calldata(&instance, &proof_bytes);
    let (deployed, outcome) = evm::deploy_and_call(&contracts, &calldata)?;
    let hashes_match = evm::keccak_hex(&deployed.entry) == verifier.runtime_code_keccak256
        && deployed
            .parts
            .iter()
            .zip(&verifier.parts)
            .all(|(code, p)| evm::keccak_hex(code) == p.part_code_keccak256);
    if !hashes_match {
        return Err(PipelineError::Inconsistent(format!(
            "{}: the deployed code's hashes differ from verifier.json's",
            evm_dir.display()
        )));
    }
    Ok(EvmVerified {
        outcome,
        calldata_bytes: calldata.len(),
        outputs,
        input_hash,
        output_hash,
    })
}

/// Reads the public values as verifier.json lays them out (input hash, public inputs, public
/// outputs, output hash) and checks that proof.json's input and output fields are what they
/// state, as `zkinfer verify` does: the fields a reader looks at cannot differ from what the
/// contract checks. Returns the outputs and the hashes.
#[allow(clippy::type_complexity)]
fn read_public_values(
    verifier: &VerifierFile,
    proof: &ProofFile,
    instance: &[Fr],
) -> Result<(Vec<OutputField>, Option<String>, Option<String>), String> {
    let [(n_hash, n_in, _), (first_out, n_out, _)] = verifier.range_checks[..] else {
        return Err("verifier.json's range_checks are not (inputs, outputs)".into());
    };
    let expected_outputs: Option<usize> = verifier.outputs.iter().try_fold(0usize, |sum, o| {
        let n = o.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        sum.checked_add(n)
    });
    let n_out_hash = instance
        .len()
        .checked_sub(first_out + n_out)
        .filter(|&h| h <= 1 && n_hash <= 1 && first_out == n_hash + n_in)
        .ok_or("verifier.json's layout of the public values is inconsistent")?;
    if (n_out > 0 && expected_outputs != Some(n_out)) || (n_out == 0 && n_out_hash == 0) {
        return Err("verifier.json's outputs do not match its public values".into());
    }
    let ints = |range: std::ops::Range<usize>| -> Result<Vec<i64>, String> {
        instance[range]
            .iter()
            .map(zkinfer_circuits::fixed::from_field)
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| "a public input or output is not a small integer".to_string())
    };
    let input = ints(n_hash..n_hash + n_in)?;
    let output = ints(first_out..first_out + n_out)?;
    let outputs = if n_out > 0 {
        OutputField::split_with(&verifier.outputs, &output)
    } else {
        Vec::new()
    };
    let same = proof.outputs.len() == outputs.len()
        && proof
            .outputs
            .iter()
            .zip(&outputs)
            .all(|(a, b)| a.same_as(b));
    if input != proof.input || !same {
        return Err(
            "the input/output fields of the proof file differ from its public instances (edited?)"
                .into(),
        );
    }
    let input_hash = (n_hash == 1).then(|| crate::hash::to_hex(&instance[0]));
    let output_hash = (n_out_hash == 1).then(|| crate::hash::to_hex(&instance[instance.len() - 1]));
    Ok((outputs, input_hash, output_hash))
}
