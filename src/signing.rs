//! Signed commitments: a model owner's Ed25519 key (PKCS#8 PEM, written 0600; its public half
//! as SPKI PEM) signs a commitment's digest in a detached signature file, and a recipient
//! accepts only commitments signed by the key they trust (`verify --signer`).
//!
//! - Rotation: a statement naming an old and a new public key, signed by both (the old key
//!   vouches for the new one, the new key shows it is held). A recipient who trusts the old
//!   key and is shown the statement trusts the new one too; chains are followed.
//! - Revocation: a list of revoked public keys and commitment digests. A revoked key is
//!   neither accepted as a signer nor followed through a rotation; a revoked commitment is
//!   rejected whoever signed it.
//!
//! Every signed message starts with its own domain tag, so a signature of one kind is never
//! valid as another.

use crate::artifact::{self, ArtifactError};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag of a signature file.
pub const SIGNATURE_FORMAT: &str = "zkinfer/signature/v1";
/// Format tag of a rotation statement.
pub const ROTATION_FORMAT: &str = "zkinfer/rotation/v1";
/// Format tag of a revocation list.
pub const REVOCATION_FORMAT: &str = "zkinfer/revocations/v1";

const COMMITMENT_DOMAIN: &[u8] = b"zkinfer/commitment-signature/v1\0";
const ROTATION_DOMAIN: &[u8] = b"zkinfer/key-rotation/v1\0";

/// Errors reading or writing keys and signature files.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// A file.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A key file that is not an Ed25519 key of the expected kind.
    #[error("{path}: {msg}")]
    BadKey {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// Refusing to overwrite a key.
    #[error("{0} exists: refusing to overwrite a key (move it away first)")]
    Exists(String),
}

/// A detached signature over a commitment digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// [`SIGNATURE_FORMAT`].
    pub format: String,
    /// The commitment digest signed (64 hex digits).
    pub digest: String,
    /// The signer's public key (32 bytes, hex).
    pub signer: String,
    /// The Ed25519 signature (64 bytes, hex).
    pub signature: String,
}

/// A statement that `new` supersedes `old`, signed by both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// [`ROTATION_FORMAT`].
    pub format: String,
    /// The old public key (hex).
    pub old: String,
    /// The new public key (hex).
    pub new: String,
    /// The old key's signature (hex).
    pub old_signature: String,
    /// The new key's signature (hex).
    pub new_signature: String,
}

/// Revoked keys and commitments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocations {
    /// [`REVOCATION_FORMAT`].
    pub format: String,
    /// Revoked public keys (hex).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Revoked commitment digests (hex).
    #[serde(default)]
    pub commitments: Vec<String>,
}

fn bad(path: &Path, msg: impl Into<String>) -> SigningError {
    SigningError::BadKey {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Lowercase hex without `0x`, as every file here spells keys and digests.
fn norm(h: &str) -> String {
    h.trim().trim_start_matches("0x").to_lowercase()
}

/// Generates a signing key: the private key to `key_path` (PKCS#8 PEM, 0600, never over an
/// existing file), the public key to `pub_path` (SPKI PEM). Returns the public key.
pub fn generate(key_path: &Path, pub_path: &Path) -> Result<VerifyingKey, SigningError> {
    for p in [key_path, pub_path] {
        if p.exists() {
            return Err(SigningError::Exists(p.display().to_string()));
        }
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| bad(key_path, e.to_string()))?;
    artifact::write_secret(key_path, pem.as_bytes())?;
    let public = key.verifying_key();
    let pub_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| bad(pub_path, e.to_string()))?;
    artifact::write_atomic(pub_path, pub_pem.as_bytes())?;
    Ok(public)
}

/// Reads a private key (PKCS#8 PEM).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, SigningError> {
    let text =
        String::from_utf8(artifact::read_bytes(path)?).map_err(|_| bad(path, "not a PEM file"))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        bad(
            path,
            format!("not an Ed25519 private key (PKCS#8 PEM): {e}"),
        )
    })
}

/// Reads a public key (SPKI PEM).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, SigningError> {
    let text =
        String::from_utf8(artifact::read_bytes(path)?).map_err(|_| bad(path, "not a PEM file"))?;
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| bad(path, format!("not an Ed25519 public key (SPKI PEM): {e}")))
}

/// The public key as the files spell it.
pub fn key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

fn commitment_message(digest: &str) -> Vec<u8> {
    [COMMITMENT_DOMAIN, norm(digest).as_bytes()].concat()
}

fn rotation_message(old: &str, new: &str) -> Vec<u8> {
    [
        ROTATION_DOMAIN,
        norm(old).as_bytes(),
        b"\0",
        norm(new).as_bytes(),
    ]
    .concat()
}

/// Signs a commitment digest.
pub fn sign_commitment(key: &SigningKey, digest: &str) -> SignatureFile {
    SignatureFile {
        format: SIGNATURE_FORMAT.into(),
        digest: norm(digest),
        signer: key_hex(&key.verifying_key()),
        signature: hex::encode(key.sign(&commitment_message(digest)).to_bytes()),
    }
}

/// The statement that `new` supersedes `old`, signed by both.
pub fn rotate(old: &SigningKey, new: &SigningKey) -> Rotation {
    let (o, n) = (key_hex(&old.verifying_key()), key_hex(&new.verifying_key()));
    let msg = rotation_message(&o, &n);
    Rotation {
        format: ROTATION_FORMAT.into(),
        old_signature: hex::encode(old.sign(&msg).to_bytes()),
        new_signature: hex::encode(new.sign(&msg).to_bytes()),
        old: o,
        new: n,
    }
}

fn public(h: &str) -> Option<VerifyingKey> {
    let b: [u8; 32] = hex::decode(norm(h)).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&b).ok()
}

fn signed_by(key: &VerifyingKey, msg: &[u8], sig: &str) -> bool {
    let Some(bytes) = hex::decode(norm(sig))
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    // verify_strict: no small-order keys, canonical signatures only (one valid encoding)
    key.verify_strict(msg, &Signature::from_bytes(&bytes))
        .is_ok()
}

impl Rotation {
    /// Whether both signatures hold.
    pub fn valid(&self) -> bool {
        let (Some(o), Some(n)) = (public(&self.old), public(&self.new)) else {
            return false;
        };
        let msg = rotation_message(&self.old, &self.new);
        self.format == ROTATION_FORMAT
            && o != n
            && signed_by(&o, &msg, &self.old_signature)
            && signed_by(&n, &msg, &self.new_signature)
    }
}

/// Checks that `sig` signs the commitment `digest` with `trusted` or a key `trusted` handed
/// over to through `rotations`, none of them (nor the commitment) revoked. `Err` says why not.
pub fn check(
    sig: &SignatureFile,
    digest: &str,
    trusted: &VerifyingKey,
    rotations: &[Rotation],
    revoked: &Revocations,
) -> Result<String, String> {
    let digest = norm(digest);
    let revoked_keys: Vec<String> = revoked.keys.iter().map(|k| norm(k)).collect();
    if revoked.commitments.iter().any(|c| norm(c) == digest) {
        return Err(format!("commitment {digest} is revoked"));
    }
    if sig.format != SIGNATURE_FORMAT {
        return Err(format!("the signature file is not {SIGNATURE_FORMAT}"));
    }
    if norm(&sig.digest) != digest {
        return Err(format!(
            "the signature is for commitment {}, not {digest}",
            norm(&sig.digest)
        ));
    }
    // the keys trust reaches: the trusted one, then every valid rotation from a reached key
    let mut reached = vec![key_hex(trusted)];
    if revoked_keys.contains(&reached[0]) {
        return Err(format!("the trusted key {} is revoked", reached[0]));
    }
    loop {
        let next = rotations.iter().find(|r| {
            reached.contains(&norm(&r.old))
                && !reached.contains(&norm(&r.new))
                && !revoked_keys.contains(&norm(&r.new))
                && r.valid()
        });
        match next {
            Some(r) => reached.push(norm(&r.new)),
            None => break,
        }
    }
    let signer = norm(&sig.signer);
    if revoked_keys.contains(&signer) {
        return Err(format!("the signing key {signer} is revoked"));
    }
    if !reached.contains(&signer) {
        return Err(format!(
            "the commitment is signed by {signer}, not by the trusted key{}",
            if reached.len() > 1 {
                " or a key it rotated to"
            } else {
                ""
            }
        ));
    }
    let key = public(&signer).ok_or("the signer is not an Ed25519 public key")?;
    if !signed_by(&key, &commitment_message(&digest), &sig.signature) {
        return Err("the signature does not verify".into());
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn key(seed: u64) -> SigningKey {
        SigningKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
    }

    const D: &str = "2a9ea7d4d64e442fdb070d6c48edeb339f71586f528f50ab3a2ea8a90895ff46";
    const E: &str = "1a9ea7d4d64e442fdb070d6c48edeb339f71586f528f50ab3a2ea8a90895ff46";

    #[test]
    fn a_signature_holds_only_for_its_key_and_digest() {
        let (a, b) = (key(1), key(2));
        let none = Revocations::default();
        let sig = sign_commitment(&a, D);
        // Ed25519 is deterministic: the same key and digest, the same signature file
        assert_eq!(sig, sign_commitment(&a, D));
        assert!(check(&sig, D, &a.verifying_key(), &[], &none).is_ok());
        assert!(check(&sig, &D.to_uppercase(), &a.verifying_key(), &[], &none).is_ok());
        assert!(check(&sig, E, &a.verifying_key(), &[], &none).is_err());
        assert!(check(&sig, D, &b.verifying_key(), &[], &none).is_err());
        // a signature moved to another digest, or a signer swapped in, does not verify
        let mut moved = sig.clone();
        moved.digest = E.into();
        assert!(check(&moved, E, &a.verifying_key(), &[], &none).is_err());
        let mut claimed = sign_commitment(&b, D);
        claimed.signer = key_hex(&a.verifying_key());
        assert!(check(&claimed, D, &a.verifying_key(), &[], &none).is_err());
        // every single-bit flip of the signature is refused
        let bytes = hex::decode(&sig.signature).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut m = bytes.clone();
            m[i / 8] ^= 1 << (i % 8);
            let mut s = sig.clone();
            s.signature = hex::encode(m);
            assert!(
                check(&s, D, &a.verifying_key(), &[], &none).is_err(),
                "bit {i}"
            );
        }
    }

    #[test]
    fn rotation_hands_trust_on_and_revocation_takes_it_back() {
        let (a, b, c, x) = (key(1), key(2), key(3), key(9));
        let none = Revocations::default();
        let by_c = sign_commitment(&c, D);
        let ab = rotate(&a, &b);
        let bc = rotate(&b, &c);
        assert!(ab.valid() && bc.valid());
        // a chain a -> b -> c, given in any order
        assert!(check(
            &by_c,
            D,
            &a.verifying_key(),
            &[bc.clone(), ab.clone()],
            &none
        )
        .is_ok());
        assert!(check(
            &by_c,
            D,
            &a.verifying_key(),
            std::slice::from_ref(&bc),
            &none
        )
        .is_err());
        // a statement signed by the new key alone, or by an outsider, hands nothing on
        let mut forged = rotate(&x, &c);
        forged.old = key_hex(&a.verifying_key());
        assert!(!forged.valid());
        assert!(check(&by_c, D, &a.verifying_key(), &[forged], &none).is_err());
        // revoking the middle key cuts the chain; revoking the commitment rejects it anyway
        let revoked = Revocations {
            format: REVOCATION_FORMAT.into(),
            keys: vec![key_hex(&b.verifying_key())],
            commitments: vec![],
        };
        let err = check(
            &by_c,
            D,
            &a.verifying_key(),
            &[ab.clone(), bc.clone()],
            &revoked,
        );
        assert!(err.is_err(), "{err:?}");
        let by_a = sign_commitment(&a, D);
        let revoked = Revocations {
            format: REVOCATION_FORMAT.into(),
            keys: vec![],
            commitments: vec![D.to_uppercase()],
        };
        assert!(check(&by_a, D, &a.verifying_key(), &[], &revoked)
            .unwrap_err()
            .contains("revoked"));
    }
}
