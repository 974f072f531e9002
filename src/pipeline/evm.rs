//! `zkinfer evm`: the Solidity verifier of a build folder, and running it on a proof.

use super::{files, PipelineError};
use crate::artifact::{self, Commitment, ProofFile, Settings, COMMITMENT_FORMAT, PROOF_FORMAT};
use crate::evm::{self, CallOutcome, EvmError};
use crate::keys::{self, VerifierSrs};
use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format tag of `verifier.json`.
pub const VERIFIER_FORMAT: &str = "zkinfer/evm-verifier/v1";

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
    /// Keccak-256 of the runtime bytecode (what `EXTCODEHASH` returns for a deployed copy).
    pub runtime_code_keccak256: String,
    /// Runtime bytecode size (EIP-170 allows 24,576).
    pub runtime_bytes: usize,
    /// Whether the runtime bytecode fits EIP-170 (deployable on Ethereum mainnet). When not,
    /// only chains without the limit take the contract (zkinfer does not split it yet).
    pub fits_eip170: bool,
    /// Deployment bytecode size.
    pub deployment_bytes: usize,
    /// The compiler that made the bytecode.
    pub solc: String,
    /// The public values the contract range-checks: (first index, count, signed bits).
    pub range_checks: Vec<(usize, usize, u32)>,
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
/// the build folder `dir` into `out`, compiling with `solc`. Refuses a build with private
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
    let compiled = evm::compile_solidity(solc, &code)?;
    let fits_eip170 = compiled.runtime.len() <= evm::MAX_RUNTIME_BYTES;
    // deploy once in the in-process EVM: the code a chain would hold
    let (runtime, _) = evm::deploy_and_call(&compiled.deployment, &[], !fits_eip170)?;
    if runtime != compiled.runtime {
        return Err(EvmError::Deploy(
            "the deployed code differs from the compiler's runtime bytecode".into(),
        )
        .into());
    }
    let verifier = VerifierFile {
        format: VERIFIER_FORMAT.to_string(),
        commitment: commitment.digest.clone(),
        model_name: settings.model_name.clone(),
        instances: n,
        calldata_bytes,
        srs_id: vsrs.id(),
        insecure_dev_srs: vsrs.is_dev(),
        runtime_code_keccak256: evm::keccak_hex(&runtime),
        runtime_bytes: runtime.len(),
        fits_eip170,
        deployment_bytes: compiled.deployment.len(),
        solc: compiled.version.clone(),
        range_checks: checks,
    };
    std::fs::create_dir_all(out).map_err(|source| artifact::ArtifactError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let json_path = out.join("verifier.json");
    let json = artifact::json_bytes(&json_path, &verifier)?;
    let bin = format!("{}\n", hex::encode(&compiled.deployment));
    artifact::write_all_atomic(&[
        (&out.join("Verifier.sol"), code.as_bytes()),
        (&out.join("Verifier.bin"), bin.as_bytes()),
        (&json_path, &json),
    ])?;
    Ok(EvmReport {
        out: out.to_path_buf(),
        verifier,
    })
}

/// What running the contract on a proof gave.
#[derive(Clone, Debug)]
pub struct EvmVerified {
    /// Accepted (with gas) or rejected (with gas and reason).
    pub outcome: CallOutcome,
    /// Calldata bytes.
    pub calldata_bytes: usize,
}

/// Deploys `evm_dir`'s verifier in an in-process EVM and calls it on the proof in
/// `proof_path` (made with `prove --evm`). `Err` for unreadable files or a proof of another
/// commitment.
pub fn evm_verify(evm_dir: &Path, proof_path: &Path) -> Result<EvmVerified, PipelineError> {
    let verifier: VerifierFile =
        artifact::read_json(&evm_dir.join("verifier.json"), VERIFIER_FORMAT)?;
    let bin_path = evm_dir.join("Verifier.bin");
    let bin = String::from_utf8(artifact::read_bytes(&bin_path)?)
        .ok()
        .and_then(|h| hex::decode(h.trim()).ok())
        .ok_or_else(|| artifact::ArtifactError::malformed(&bin_path, "not hex bytecode"))?;
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
    let proof_bytes = hex::decode(&proof.proof).map_err(|e| {
        artifact::ArtifactError::malformed(proof_path, format!("\"proof\" is not hex: {e}"))
    })?;
    let calldata = evm::calldata(&instance, &proof_bytes);
    let (runtime, outcome) = evm::deploy_and_call(&bin, &calldata, !verifier.fits_eip170)?;
    if evm::keccak_hex(&runtime) != verifier.runtime_code_keccak256 {
        return Err(PipelineError::Inconsistent(format!(
            "{}: the deployed code's hash differs from verifier.json's",
            bin_path.display()
        )));
    }
    Ok(EvmVerified {
        outcome,
        calldata_bytes: calldata.len(),
    })
}
