//! `prove`: input → fixed-point inference → proof.json.

use super::{files, read_build, read_input, PipelineError, Progress};
use crate::artifact::Settings;
use crate::artifact::{self, Commitment, OutputField, ProofFile, COMMITMENT_FORMAT, PROOF_FORMAT};
use crate::circuit::{CircuitWitness, ModelCircuit};
use crate::keys::{self, VerifierSrs};
use crate::prover::{CachedParams, Committer, FixedBases};
use crate::weights::{self, Salt, WeightCommitment, WeightLink};
use crate::witness;
use halo2_proofs::halo2curves::bn256::{Fr, G1Affine};
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::plonk::ProvingKey;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What prove produced.
#[derive(Clone, Debug)]
pub struct ProveReport {
    /// The proof file written.
    pub proof: ProofFile,
    /// Proving time (halo2 `create_proof` only).
    pub prove_time: Duration,
    /// Circuit size exponent.
    pub k: u32,
    /// A hashed input's salt (keep it to show later which input the proof was about).
    pub input_salt: Option<Fr>,
    /// A hashed output's salt and values (for whoever should see the output).
    pub hashed_output: Option<(Fr, Vec<OutputField>)>,
}

/// Options of [`prove_with`].
#[derive(Clone, Debug, Default)]
pub struct ProveOptions {
    /// The salt of a hashed input (a fresh random one when absent).
    pub input_salt: Option<Fr>,
    /// The salt of a hashed output (a fresh random one when absent).
    pub output_salt: Option<Fr>,
    /// Prove with the Keccak transcript an EVM verifier replays (`prove --evm`).
    pub evm: bool,
}

/// Proves the model of build folder `dir` on the input file `input`, writing `out`.
pub fn prove(
    dir: &Path,
    input: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ProveReport, PipelineError> {
    prove_with(dir, input, out, progress, &ProveOptions::default())
}

/// [`prove`] with options.
pub fn prove_with(
    dir: &Path,
    input: &Path,
    out: &Path,
    progress: &dyn Progress,
    opts: &ProveOptions,
) -> Result<ProveReport, PipelineError> {
    let (settings, model) = read_build(dir)?;
    let commitment: Commitment =
        artifact::read_json(&dir.join(files::COMMITMENT), COMMITMENT_FORMAT)?;
    if commitment.body.settings != settings {
        return Err(PipelineError::Inconsistent(format!(
            "{}: commitment.json was made for other settings; run `zkinfer setup` again",
            dir.display()
        )));
    }
    let lens: Vec<usize> = settings
        .inputs
        .iter()
        .map(|i| artifact::numel(&i.shape).unwrap_or(usize::MAX))
        .collect();
    let values = read_input(input, &lens)?;
    let quantized = witness::quantize_input(&model, &values)?;
    let trace = witness::run(&model, quantized)?;
    let mut cw = CircuitWitness::new(&model, settings.shape, &trace)?;
    let input_salt = settings.shape.hashed_input.then(|| {
        let salt = opts.input_salt.unwrap_or_else(crate::hash::random_salt);
        cw = cw.clone().with_input_salt(salt, settings.activation_bits);
        salt
    });
    let output_salt = settings.shape.hashed_output.then(|| {
        let salt = opts.output_salt.unwrap_or_else(crate::hash::random_salt);
        cw = cw.clone().with_output_salt(salt, settings.activation_bits);
        salt
    });
    let instance = cw.instance_fields();
    progress.step("loading proving key");
    let srs = Arc::new(keys::srs_from_bytes(
        &artifact::read_bytes(&dir.join(files::SRS))?,
        "srs.bin",
    )?);
    let pk = keys::pk_from_bytes(
        &artifact::read_bytes(&dir.join(files::PK))?,
        settings.shape,
        "pk.bin",
    )?;
    let salt = if settings.shape.private_weights {
        let path = dir.join(files::SALT);
        if !path.is_file() {
            return Err(PipelineError::Inconsistent(format!(
                "{}: missing; proving with private weights needs the owner's salt from `zkinfer setup`",
                path.display()
            )));
        }
        Some(Salt::read(&path)?)
    } else {
        None
    };
    let model = Arc::new(model);
    // With private weights: the weight columns (the same in every proof) and, from the
    // published commitment and the salt, their commitments without the blinding rows.
    let private = match (&salt, &commitment.body.weights) {
        (Some(salt), Some(wc)) => {
            let (indices, columns) =
                weights::weight_columns(model.clone(), settings.shape, settings.k)?;
            if indices != wc.columns {
                return Err(PipelineError::Inconsistent(format!(
                    "{}: the circuit's weight columns differ from commitment.json's; run `zkinfer setup` again",
                    dir.display()
                )));
            }
            // the commitment's blinding rows must be this circuit's (checked before anything
            // is sized by them: commitment.json is a file anyone can edit)
            let m = pk.get_vk().cs().blinding_factors() + 1;
            let n = 1usize << settings.k;
            if wc.bases.len() != m || wc.first_blind_row.checked_add(m) != Some(n) {
                return Err(PipelineError::Inconsistent(format!(
                    "{}: its weight commitment is not for this circuit's blinding rows; run `zkinfer setup` again",
                    dir.join(files::COMMITMENT).display()
                )));
            }
            let bases = Arc::new(weights::blind_bases(wc)?);
            let digest = weights::columns_digest(&columns, bases.bases().len());
            let known = weights::known_columns(wc, salt, &columns, &digest, &bases)?;
            Some((salt, wc, digest, bases, CachedParams::new(srs.clone(), known)))
        }
        (None, None) => None,
        _ => {
            return Err(PipelineError::Inconsistent(format!(
                "{}: commitment.json and settings.json disagree on private weights; run `zkinfer setup` again",
                dir.display()
            )))
        }
    };
    progress.step(&format!("proving (k = {})", settings.k));
    let start = Instant::now();
    // a seeded cryptographic rng, so the private-weight link can replay halo2's blinding
    let rng = ChaCha20Rng::from_rng(OsRng)
        .map_err(|e| PipelineError::Inconsistent(format!("no OS randomness: {e}")))?;
    let replay = rng.clone();
    let circuit = ModelCircuit::prove(model.clone(), settings.shape, cw);
    let committer = match &private {
        Some((.., params)) => Committer::Known(params),
        None => Committer::Plain(&srs),
    };
    let proof = if opts.evm {
        crate::evm::prove(&committer, &pk, circuit, &instance, rng)?
    } else {
        crate::prover::prove_by(&committer, &pk, circuit, &instance, rng)?
    };
    let prove_time = start.elapsed();
    // Self-check (milliseconds): never hand out a proof that does not verify. (With private
    // weights the proof's weight commitments come from commitment.json and weights.salt: files
    // of other weights make a proof that does not verify, caught here.)
    let check = if opts.evm {
        crate::evm::verify
    } else {
        crate::verifier::verify
    };
    check(&VerifierSrs::from_srs(&srs), pk.get_vk(), &instance, &proof).map_err(|e| {
        PipelineError::Inconsistent(if private.is_some() {
            format!(
                "the fresh proof does not verify ({e}): are {} and {} from `zkinfer setup` of these weights? Run it again",
                dir.join(files::COMMITMENT).display(),
                dir.join(files::SALT).display()
            )
        } else {
            format!("internal error: the fresh proof does not verify: {e}")
        })
    })?;
    let weight_link = match &private {
        Some((salt, wc, digest, bases, _)) => Some(link_weights(
            &srs,
            &pk,
            &settings,
            wc,
            salt,
            (digest, bases),
            replay,
            &commitment.digest,
            &instance,
            &proof,
            opts.evm,
        )?),
        None => None,
    };
    let proof = ProofFile {
        format: PROOF_FORMAT.to_string(),
        commitment: commitment.digest,
        outputs: if settings.shape.hashed_output {
            vec![]
        } else {
            OutputField::split(&settings, &trace.output())
        },
        model_name: settings.model_name.clone(),
        input: if settings.shape.private_input {
            vec![]
        } else {
            trace.input()
        },
        instances: instance.iter().map(|f| hex::encode(f.to_repr())).collect(),
        proof: hex::encode(proof),
        weight_link,
        transcript: opts.evm.then(|| artifact::TRANSCRIPT_KECCAK.to_string()),
    };
    artifact::write_json(out, &proof)?;
    Ok(ProveReport {
        proof,
        prove_time,
        k: settings.k,
        input_salt,
        hashed_output: output_salt.map(|s| (s, OutputField::split(&settings, &trace.output()))),
    })
}

/// The bytes a weight link is bound to: the commitment digest, the public instance and the
/// proof.
pub fn link_context(digest: &str, instance: &[Fr], proof: &[u8]) -> Vec<u8> {
    let mut out = digest.as_bytes().to_vec();
    out.extend((instance.len() as u64).to_le_bytes());
    for f in instance {
        out.extend(f.to_repr());
    }
    out.extend(proof);
    out
}

/// Links a fresh proof's weight columns to the weight commitment (see [`crate::weights`]),
/// and checks the link as a verifier would: that also checks the replayed blinding
/// reproduces the proof's own commitments (a `δ` off by anything fails the link), without
/// committing to the weight columns a second time.
#[allow(clippy::too_many_arguments)]
fn link_weights(
    srs: &crate::keys::Srs,
    pk: &ProvingKey<G1Affine>,
    settings: &Settings,
    wc: &WeightCommitment,
    salt: &Salt,
    (columns_digest, bases): (&[u8; 64], &FixedBases),
    mut replay: ChaCha20Rng,
    digest: &str,
    instance: &[Fr],
    proof: &[u8],
    evm: bool,
) -> Result<WeightLink, PipelineError> {
    let vk = pk.get_vk();
    let m = vk.cs().blinding_factors() + 1;
    let internal = |what: &str| {
        PipelineError::Inconsistent(format!(
            "internal error linking the private weights: {what}"
        ))
    };
    let fresh = weights::replay_blinds(&mut replay, vk.cs().num_advice_columns(), m, &wc.columns);
    let context = link_context(digest, instance, proof);
    let link = weights::prove_link_with(
        wc,
        salt,
        columns_digest,
        bases,
        &fresh,
        &context,
        &mut OsRng,
    )?;
    weights::verify_link(
        wc,
        settings.k,
        &crate::keys::VerifierSrs::from_srs(srs),
        &link,
        proof,
        evm,
        &context,
    )
    .map_err(|e| internal(&e.to_string()))?;
    Ok(link)
}
