//! `prove`: input → fixed-point inference → proof.json.

use super::{files, read_build, read_input, PipelineError, Progress};
use crate::artifact::{self, Commitment, OutputField, ProofFile, COMMITMENT_FORMAT, PROOF_FORMAT};
use crate::circuit::{instance_field, CircuitWitness, ModelCircuit};
use crate::keys::{self, VerifierSrs};
use crate::witness;
use halo2_proofs::halo2curves::ff::PrimeField;
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
}

/// Proves the model of build folder `dir` on the input file `input`, writing `out`.
pub fn prove(
    dir: &Path,
    input: &Path,
    out: &Path,
    progress: &dyn Progress,
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
    let cw = CircuitWitness::new(&model, settings.shape, &trace)?;
    let instance = instance_field(&cw.instance);
    progress.step("loading proving key");
    let srs = keys::srs_from_bytes(&artifact::read_bytes(&dir.join(files::SRS))?, "srs.bin")?;
    let pk = keys::pk_from_bytes(
        &artifact::read_bytes(&dir.join(files::PK))?,
        settings.shape,
        "pk.bin",
    )?;
    progress.step(&format!("proving (k = {})", settings.k));
    let start = Instant::now();
    let proof = crate::prover::prove(
        &srs,
        &pk,
        ModelCircuit::prove(Arc::new(model), settings.shape, cw),
        &instance,
    )?;
    let prove_time = start.elapsed();
    // Self-check (milliseconds): never hand out a proof that does not verify.
    crate::verifier::verify(&VerifierSrs::from_srs(&srs), pk.get_vk(), &instance, &proof).map_err(
        |e| {
            PipelineError::Inconsistent(format!(
                "internal error: the fresh proof does not verify: {e}"
            ))
        },
    )?;
    let proof = ProofFile {
        format: PROOF_FORMAT.to_string(),
        commitment: commitment.digest,
        outputs: OutputField::split(&settings, &trace.output()),
        model_name: settings.model_name,
        input: trace.input(),
        instances: instance.iter().map(|f| hex::encode(f.to_repr())).collect(),
        proof: hex::encode(proof),
    };
    artifact::write_json(out, &proof)?;
    Ok(ProveReport {
        proof,
        prove_time,
        k: settings.k,
    })
}
