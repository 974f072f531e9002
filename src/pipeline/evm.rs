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

/// The range checks `zkinfer verify` makes on public values (the circuit relies on them:
/// public inputs within the activation range, outputs within `output_bits`), as Yul placed at
/// the start of the verifier's code: a value `v` passes when `v < 2^(b−1)` or
/// `v ≥ p − 2^(b−1)` (a negative integer).
fn range_check_yul(checks: &[(usize, usize, u32)]) -> String {
    let p = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
    let mut yul = String::from(
        "\n            // zkinfer: public inputs and outputs within their compiled ranges\n",
    );
    for &(first, count, bits) in checks {
        if count == 0 {
            continue;
        }
        yul.push_str(&format!(
            "            for {{ let i := {first} }} lt(i, {end}) {{ i := add(i, 1) }} {{\n                let v := calldataload(mul(i, 0x20))\n                if and(iszero(lt(v, shl({b1}, 1))), lt(v, sub({p}, shl({b1}, 1)))) {{ revert(0, 0) }}\n            }}\n",
            end = first + count,
            b1 = bits - 1,
        ));
    }
    yul
}

/// Inserts the range checks into the generated contract's assembly block, before the
/// verifier's own code.
fn with_range_checks(code: &str, checks: &[(usize, usize, u32)]) -> Result<String, EvmError> {
    const ANCHOR: &str = "let success := true";
    let at = code.find(ANCHOR).ok_or_else(|| {
        EvmError::Generate(format!("`{ANCHOR}` not found in the generated verifier"))
    })?;
    Ok(format!(
        "{}{}            {}",
        &code[..at],
        range_check_yul(checks).trim_start(),
        &code[at..]
    ))
}

/// Writes `Verifier.sol`, `Verifier.bin` (deployment bytecode, hex) and `verifier.json` for
/// the build folder `dir` into `out`, compiling with `solc`.
pub fn evm_generate(dir: &Path, out: &Path, solc: &Path) -> Result<EvmReport, PipelineError> {
    let commitment: Commitment =
        artifact::read_json(&dir.join(files::COMMITMENT), COMMITMENT_FORMAT)?;
    let settings = &commitment.body.settings;
    let vk_path = dir.join(files::VK);
    let (srs_bytes, vk_bytes) =
        super::verify::split_vk(&vk_path, &artifact::read_bytes(&vk_path)?)?;
    let vsrs = VerifierSrs::from_bytes(&srs_bytes).map_err(|e| {
        artifact::ArtifactError::malformed(&vk_path, format!("its SRS is unreadable: {e}"))
    })?;
    let vk = keys::vk_from_bytes(
        &vk_bytes,
        settings.shape,
        settings.k,
        &vk_path.display().to_string(),
    )?;
    if keys::vk_repr(&vk) != commitment.body.vk_repr {
        return Err(PipelineError::Inconsistent(format!(
            "{}: vk.bin does not match commitment.json; run `zkinfer setup` again",
            dir.display()
        )));
    }
    let (n_hash, n_in, n_out, n_out_hash) = instance_layout(settings);
    let n = n_hash + n_in + n_out + n_out_hash;
    let checks = vec![
        (n_hash, n_in, settings.activation_bits),
        (n_hash + n_in, n_out, settings.output_bits),
    ];
    let code = with_range_checks(&evm::verifier_code(&vsrs, &vk, n)?, &checks)?;
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
            &proof.commitment[..proof.commitment.len().min(16)],
            &verifier.commitment[..verifier.commitment.len().min(16)]
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
