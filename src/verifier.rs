//! Verify stage: halo2 KZG (SHPLONK) proof verification.

use crate::keys::VerifierSrs;
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{verify_proof, VerifyingKey},
    poly::kzg::{
        commitment::KZGCommitmentScheme, multiopen::VerifierSHPLONK, strategy::SingleStrategy,
    },
    transcript::{Blake2bRead, Challenge255, TranscriptReadBuffer},
};

/// Checks `proof` for public `instance` against `vk`. `Err` carries a one-line reason.
pub fn verify(
    srs: &VerifierSrs,
    vk: &VerifyingKey<G1Affine>,
    instance: &[Fr],
    proof: &[u8],
) -> Result<(), String> {
    let params = srs.params();
    let strategy = SingleStrategy::new(&params);
    let mut rest = proof;
    let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(&mut rest);
    let instances: &[&[Fr]] = &[instance];
    let checked = crate::keys::guarded(|| {
        verify_proof::<
            KZGCommitmentScheme<Bn256>,
            VerifierSHPLONK<'_, Bn256>,
            Challenge255<G1Affine>,
            _,
            _,
        >(&params, vk, strategy, &[instances], &mut transcript)
    })
    .map_err(|p| format!("the proof is malformed ({p})"))?
    .map_err(|e| format!("the proof does not verify ({e:?})"));
    checked?;
    // halo2 stops reading once it has what it needs: refuse extra bytes so proofs are unique.
    if !rest.is_empty() {
        return Err(format!(
            "the proof has {} trailing bytes after a complete proof",
            rest.len()
        ));
    }
    Ok(())
}
