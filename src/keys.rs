//! Keys stage: the structured reference string (SRS), key generation, and key files.
//! The halo2 backend (KZG on BN254, halo2-axiom) stays behind this module, [`crate::prover`]
//! and [`crate::verifier`].

use crate::circuit::{CircuitShape, ModelCircuit};
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine},
    plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey},
    poly::{
        commitment::{Params, ParamsProver},
        kzg::commitment::ParamsKZG,
    },
    SerdeCurveAffine, SerdeFormat,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read};

/// KZG parameters (the SRS) on BN254.
pub type Srs = ParamsKZG<Bn256>;

/// Seed of the insecure development SRS: anyone can recompute its toxic waste.
const DEV_SRS_SEED: [u8; 32] = *b"zkinfer INSECURE development SRS";
/// Largest `k` for an SRS.
pub const MAX_SRS_K: u32 = 26;

/// Errors of the keys stage.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// SRS file unusable.
    #[error("SRS {what}: {msg}")]
    BadSrs {
        /// Which SRS.
        what: String,
        /// Why.
        msg: String,
    },
    /// SRS smaller than the circuit.
    #[error("the SRS has k = {have}, the circuit needs k = {need}: use a larger SRS")]
    SrsTooSmall {
        /// SRS k.
        have: u32,
        /// Needed k.
        need: u32,
    },
    /// halo2 refused to generate keys.
    #[error("key generation failed: {0}")]
    Keygen(String),
    /// A key file that does not parse.
    #[error("{what} is not a valid zkinfer key: {msg}")]
    BadKey {
        /// Which key.
        what: String,
        /// Why.
        msg: String,
    },
}

/// The deterministic, INSECURE development SRS of size `2^k`.
pub fn dev_srs(k: u32) -> Result<Srs, KeysError> {
    if !(1..=MAX_SRS_K).contains(&k) {
        return Err(KeysError::BadSrs {
            what: format!("k = {k}"),
            msg: format!("k must be 1..={MAX_SRS_K}"),
        });
    }
    Ok(ParamsKZG::setup(k, ChaCha20Rng::from_seed(DEV_SRS_SEED)))
}

/// Serializes an SRS (halo2 KZG raw-bytes format, as published trusted-setup files use).
pub fn srs_to_bytes(srs: &Srs) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = srs.write_custom(&mut out, SerdeFormat::RawBytes);
    out
}

/// Parses an SRS, checking every point.
pub fn srs_from_bytes(bytes: &[u8], what: &str) -> Result<Srs, KeysError> {
    let bad = |msg: String| KeysError::BadSrs {
        what: what.to_string(),
        msg,
    };
    let k = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("too short".into()))?;
    if !(1..=MAX_SRS_K).contains(&k) {
        return Err(bad(format!(
            "header says k = {k}, expected 1..={MAX_SRS_K}"
        )));
    }
    let expect = 4 + 2 * (1usize << k) * 64 + 2 * 128;
    if bytes.len() != expect {
        return Err(bad(format!(
            "{} bytes, a k = {k} SRS in raw-bytes format has {expect}",
            bytes.len()
        )));
    }
    Srs::read_custom(&mut Cursor::new(bytes), SerdeFormat::RawBytes).map_err(|e| bad(e.to_string()))
}

/// Cuts `srs` down to `k` (error if smaller).
pub fn fit_srs(mut srs: Srs, k: u32) -> Result<Srs, KeysError> {
    if srs.k() < k {
        return Err(KeysError::SrsTooSmall {
            have: srs.k(),
            need: k,
        });
    }
    if srs.k() > k {
        srs.downsize(k);
    }
    Ok(srs)
}

/// The part of the SRS a verifier needs: `n = 2^k`, `g₀`, `g₂` and `s·g₂`.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifierSrs {
    /// Size exponent.
    pub k: u32,
    g0: G1Affine,
    g2: G2Affine,
    s_g2: G2Affine,
}

impl VerifierSrs {
    const LEN: usize = 4 + 64 + 128 + 128;

    /// Extracts the verifier part.
    pub fn from_srs(srs: &Srs) -> Self {
        Self {
            k: srs.k(),
            g0: srs.get_g()[0],
            g2: srs.g2(),
            s_g2: srs.s_g2(),
        }
    }
    /// From its points (the caller has checked them).
    pub(crate) fn from_points(k: u32, g0: G1Affine, g2: G2Affine, s_g2: G2Affine) -> Self {
        Self { k, g0, g2, s_g2 }
    }
    /// `(g₀, g₂, s·g₂)`.
    pub fn points(&self) -> (G1Affine, G2Affine, G2Affine) {
        (self.g0, self.g2, self.s_g2)
    }
    /// Serializes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.k.to_le_bytes().to_vec();
        let _ = self.g0.write(&mut out, SerdeFormat::RawBytes);
        let _ = self.g2.write(&mut out, SerdeFormat::RawBytes);
        let _ = self.s_g2.write(&mut out, SerdeFormat::RawBytes);
        out
    }
    /// Parses, checking the points.
    pub fn from_bytes(bytes: &[u8]) -> std::io::Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "verifier SRS has the wrong length",
            ));
        }
        let mut r = Cursor::new(bytes);
        let mut k = [0u8; 4];
        r.read_exact(&mut k)?;
        let k = u32::from_le_bytes(k);
        if !(1..=MAX_SRS_K).contains(&k) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "verifier SRS k out of range",
            ));
        }
        let srs = Self {
            k,
            g0: G1Affine::read(&mut r, SerdeFormat::RawBytes)?,
            g2: G2Affine::read(&mut r, SerdeFormat::RawBytes)?,
            s_g2: G2Affine::read(&mut r, SerdeFormat::RawBytes)?,
        };
        // one encoding per SRS (its id is the digest of this encoding)
        if srs.to_bytes() != bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "verifier SRS is not in its canonical encoding",
            ));
        }
        Ok(srs)
    }
    /// SHA-256 of the serialized form (bound into the model commitment).
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.to_bytes()))
    }
    /// KZG parameters usable for verification only (no commitment key).
    pub fn params(&self) -> Srs {
        // The verifier reads n, g[0], g2 and s_g2. halo2 has no constructor from parts alone
        // (`from_parts` is a method), so the receiver is read from a one-point encoding of
        // these points (checked when this was made): no toy SRS computed per verification,
        // which took a G2 multiplication, about a fifth of a small proof's verification.
        let mut bytes = 0u32.to_le_bytes().to_vec();
        for g in [self.g0, self.g0] {
            let _ = g.write(&mut bytes, SerdeFormat::RawBytesUnchecked);
        }
        let _ = self.g2.write(&mut bytes, SerdeFormat::RawBytesUnchecked);
        let _ = self.s_g2.write(&mut bytes, SerdeFormat::RawBytesUnchecked);
        let base = ParamsKZG::<Bn256>::read_custom(
            &mut Cursor::new(bytes),
            SerdeFormat::RawBytesUnchecked,
        )
        .expect("a one-point KZG encoding reads back");
        base.from_parts(self.k, vec![self.g0], Some(vec![]), self.g2, self.s_g2)
    }
    /// The SRS id: SHA-256 of `g₀ ‖ g₂ ‖ τ·g₂`, which identify a ceremony independently of
    /// the size `k` it was cut down to. Recipients compare it with a ceremony they trust.
    pub fn id(&self) -> String {
        let mut out = Vec::with_capacity(Self::LEN - 4);
        let _ = self.g0.write(&mut out, SerdeFormat::RawBytes);
        let _ = self.g2.write(&mut out, SerdeFormat::RawBytes);
        let _ = self.s_g2.write(&mut out, SerdeFormat::RawBytes);
        hex::encode(Sha256::digest(out))
    }
    /// Whether this is the insecure development SRS (same first points as [`dev_srs`]).
    pub fn is_dev(&self) -> bool {
        dev_srs(1).is_ok_and(|d| d.s_g2() == self.s_g2)
    }
}

/// Generates the verifying and proving keys (deterministic for a given SRS and circuit).
pub fn keygen(srs: &Srs, circuit: &ModelCircuit) -> Result<ProvingKey<G1Affine>, KeysError> {
    let vk = keygen_vk(srs, circuit).map_err(|e| KeysError::Keygen(format!("{e:?}")))?;
    keygen_pk(srs, vk, circuit).map_err(|e| KeysError::Keygen(format!("{e:?}")))
}

/// Serializes a verifying key (compressed points).
pub fn vk_to_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    vk.to_bytes(SerdeFormat::Processed)
}

/// Parses a verifying key for a circuit of `shape` and size `k`, without panicking on bad data.
pub fn vk_from_bytes(
    bytes: &[u8],
    shape: CircuitShape,
    k: u32,
    what: &str,
) -> Result<VerifyingKey<G1Affine>, KeysError> {
    let bad = |msg: String| KeysError::BadKey {
        what: what.to_string(),
        msg,
    };
    // Layout: version byte, k (u32 LE), ... — check k before halo2 sizes anything by it.
    let file_k = bytes
        .get(1..5)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("too short".into()))?;
    if file_k != k {
        return Err(bad(format!(
            "it is for a circuit of k = {file_k}, the commitment says k = {k}"
        )));
    }
    let mut cursor = Cursor::new(bytes);
    let vk = guarded(|| {
        VerifyingKey::read::<_, ModelCircuit>(&mut cursor, SerdeFormat::Processed, shape)
    })
    .map_err(bad)?
    .map_err(|e| bad(e.to_string()))?;
    // one encoding per key: nothing after it, and each point in its canonical encoding
    // (halo2curves reads a compressed point with a stray infinity bit as the same point)
    if cursor.position() != bytes.len() as u64 {
        return Err(bad(format!(
            "{} bytes after the key",
            bytes.len() as u64 - cursor.position()
        )));
    }
    if vk.to_bytes(SerdeFormat::Processed) != bytes {
        return Err(bad("the key is not in its canonical encoding".into()));
    }
    Ok(vk)
}

/// pk.bin's first bytes: the format, then the body's length (u64 LE) and SHA-256.
const PK_MAGIC: &[u8; 16] = b"zkinfer-pk/v2\0\0\0";

/// Serializes a proving key: [`PK_MAGIC`], the body's length and SHA-256, then halo2's raw
/// bytes. The checksum is checked before halo2 reads a length from the body: a corrupted
/// length would make it allocate whatever it says (an abort, not an error).
pub fn pk_to_bytes(pk: &ProvingKey<G1Affine>) -> Vec<u8> {
    let body = pk.to_bytes(SerdeFormat::RawBytes);
    let mut out = Vec::with_capacity(body.len() + 56);
    out.extend_from_slice(PK_MAGIC);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    out
}

/// Parses a proving key.
pub fn pk_from_bytes(
    bytes: &[u8],
    shape: CircuitShape,
    what: &str,
) -> Result<ProvingKey<G1Affine>, KeysError> {
    let bad = |msg: String| KeysError::BadKey {
        what: what.to_string(),
        msg,
    };
    let body = bytes.strip_prefix(PK_MAGIC.as_slice()).ok_or_else(|| {
        bad("not a zkinfer proving key of this version (run `zkinfer setup` again)".into())
    })?;
    let (len, rest) = body
        .split_first_chunk::<8>()
        .ok_or_else(|| bad("truncated".into()))?;
    let (sum, body) = rest
        .split_first_chunk::<32>()
        .ok_or_else(|| bad("truncated".into()))?;
    if u64::from_le_bytes(*len) != body.len() as u64 || Sha256::digest(body).as_slice() != sum {
        return Err(bad(
            "corrupted (its length or checksum does not match): run `zkinfer setup` again".into(),
        ));
    }
    guarded(|| {
        ProvingKey::read::<_, ModelCircuit>(&mut Cursor::new(body), SerdeFormat::RawBytes, shape)
    })
    .map_err(bad)?
    .map_err(|e| bad(e.to_string()))
}

/// The verifying key's transcript representation (a hash of its pinned form) as hex.
pub fn vk_repr(vk: &VerifyingKey<G1Affine>) -> String {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let repr: <Fr as PrimeField>::Repr = vk.transcript_repr().to_repr();
    hex::encode(repr)
}

/// Runs `f`, turning a panic inside the backend (malformed key data) into an error.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the backend rejected the data".to_string())
    })
}
