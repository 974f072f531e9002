//! Prove stage: halo2 KZG (SHPLONK) proof creation with a Blake2b transcript.

use crate::circuit::ModelCircuit;
use crate::keys::Srs;
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, ProvingKey},
    poly::kzg::{commitment::KZGCommitmentScheme, multiopen::ProverSHPLONK},
    transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
};
use rand_core::RngCore;

/// Errors of the prove stage.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// halo2 failed (an unsatisfiable witness, or keys for another circuit).
    #[error(
        "proving failed: {0} (are the proving key and SRS from `zkinfer setup` of this model?)"
    )]
    Backend(String),
}

/// Creates a proof for `circuit` with public `instance`, drawing its blinding from `rng` (a
/// cryptographic rng: the private-weight link replays it, see [`crate::weights`]).
pub fn prove(
    srs: &Srs,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instance: &[Fr],
    rng: impl RngCore,
) -> Result<Vec<u8>, ProveError> {
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    let instances: &[&[Fr]] = &[instance];
    crate::keys::guarded(|| {
        create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            Challenge255<G1Affine>,
            _,
            _,
            _,
        >(srs, pk, &[circuit], &[instances], rng, &mut transcript)
    })
    .map_err(ProveError::Backend)?
    .map_err(|e| ProveError::Backend(format!("{e:?}")))?;
    Ok(transcript.finalize())
}
