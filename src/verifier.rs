//! Verify stage: halo2 KZG (SHPLONK) proof verification.

use crate::keys::VerifierSrs;
use halo2_proofs::halo2curves::group::GroupEncoding;
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{verify_proof, VerifyingKey},
    poly::kzg::{
        commitment::KZGCommitmentScheme, multiopen::VerifierSHPLONK, strategy::SingleStrategy,
    },
    transcript::{Blake2bRead, Challenge255, Transcript, TranscriptRead, TranscriptReadBuffer},
};
use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// The proof bytes as halo2 reads them, kept so [`Canonical`] can compare each point's bytes
/// with its encoding.
struct Tap<'a, 'b> {
    rest: &'a mut &'b [u8],
    read: Rc<RefCell<Vec<u8>>>,
}

impl Read for Tap<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.rest.read(buf)?;
        self.read.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// A transcript that accepts only the canonical encoding of each point. halo2curves reads a
/// compressed G1 point with its infinity bit set as the same point when x ≠ 0, so without
/// this one proof had 2^33 byte strings that verify (a malleable proof: one statement, many
/// "different" proofs, which defeats deduplication by proof hash).
struct Canonical<T> {
    inner: T,
    read: Rc<RefCell<Vec<u8>>>,
}

impl<T: Transcript<G1Affine, Challenge255<G1Affine>>> Transcript<G1Affine, Challenge255<G1Affine>>
    for Canonical<T>
{
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        self.inner.squeeze_challenge()
    }
    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.inner.common_point(point)
    }
    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.inner.common_scalar(scalar)
    }
}

impl<T: TranscriptRead<G1Affine, Challenge255<G1Affine>>>
    TranscriptRead<G1Affine, Challenge255<G1Affine>> for Canonical<T>
{
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let start = self.read.borrow().len();
        let point = self.inner.read_point()?;
        let read = self.read.borrow();
        if read.get(start..) != Some(point.to_bytes().as_ref()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a point is not in its canonical encoding",
            ));
        }
        Ok(point)
    }
    fn read_scalar(&mut self) -> io::Result<Fr> {
        // from_repr refuses values ≥ the modulus: scalars are canonical already
        self.inner.read_scalar()
    }
}

/// Checks `proof` for public `instance` against `vk`. `Err` carries a one-line reason.
pub fn verify(
    srs: &VerifierSrs,
    vk: &VerifyingKey<G1Affine>,
    instance: &[Fr],
    proof: &[u8],
) -> Result<(), String> {
    let params = srs.params();
    let strategy = SingleStrategy::new(&params);
    let read = Rc::new(RefCell::new(Vec::with_capacity(proof.len())));
    let mut rest = proof;
    let mut transcript = Canonical {
        inner: Blake2bRead::<_, G1Affine, Challenge255<_>>::init(Tap {
            rest: &mut rest,
            read: read.clone(),
        }),
        read,
    };
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
