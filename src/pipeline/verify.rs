//! `verify`: commitment + vk + proof.json → accept, or a one-line reason.
//!
//! Order of checks: the commitment is internally consistent (its digest); the vk container
//! carries the SRS the commitment names and a verifying key whose transcript representation is
//! the committed one; the proof claims this commitment; its output field is what its public
//! instances say; the public input is within the compiled range; and the halo2 proof verifies.

use crate::artifact::{
    self, ArtifactError, Commitment, OutputField, ProofFile, COMMITMENT_FORMAT, PROOF_FORMAT,
    VK_MAGIC,
};
use crate::keys::{self, VerifierSrs};
use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use std::path::Path;
use std::time::{Duration, Instant};
use zkinfer_circuits::fixed::{fits_signed, from_field};

/// Why verification did not accept.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file is missing, unreadable or not of its format (exit 2).
    #[error(transparent)]
    BadFile(#[from] ArtifactError),
    /// The proof does not hold for this commitment (exit 1).
    #[error("rejected: {0}")]
    Rejected(String),
}

/// An accepted proof.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Model name from the commitment.
    pub model_name: String,
    /// The attested outputs.
    pub outputs: Vec<OutputField>,
    /// The commitment digest.
    pub digest: String,
    /// Whether the keys were made with the insecure development SRS (computed from the SRS
    /// itself, not taken from the commitment).
    pub insecure_dev_srs: bool,
    /// The SRS id ([`VerifierSrs::id`]): which ceremony the keys were made with.
    pub srs_id: String,
    /// Time of the halo2 verification (and the weight link, for private weights).
    pub verify_time: Duration,
    /// What the proof keeps private, as the commitment's circuit proves it.
    pub visibility: crate::artifact::Visibility,
    /// A hashed input's hash (64 hex digits, as `zkinfer hash-input` prints it).
    pub input_hash: Option<String>,
    /// A hashed output's hash (64 hex digits, as `zkinfer hash-output` prints it).
    pub output_hash: Option<String>,
}

fn reject<T>(msg: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError::Rejected(msg.into()))
}

/// Splits vk.bin into the verifier SRS and the halo2 verifying-key bytes.
pub(crate) fn split_vk(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ArtifactError> {
    let bad =
        |m: &str| ArtifactError::malformed(path, format!("not a zkinfer verifying key ({m})"));
    let rest = bytes
        .strip_prefix(VK_MAGIC.as_slice())
        .ok_or_else(|| bad("wrong magic bytes"))?;
    let len = rest
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| bad("truncated"))?;
    let srs = rest.get(4..4 + len).ok_or_else(|| bad("truncated"))?;
    Ok((srs.to_vec(), rest[4 + len..].to_vec()))
}

/// Verifies `proof_path` against the published `commitment_path` and `vk_path`.
pub fn verify(
    commitment_path: &Path,
    vk_path: &Path,
    proof_path: &Path,
) -> Result<Verified, VerifyError> {
    let commitment: Commitment = artifact::read_json_canonical(commitment_path, COMMITMENT_FORMAT)?;
    let proof: ProofFile = artifact::read_json_canonical(proof_path, PROOF_FORMAT)?;
    let hex_ok = artifact::is_canonical_hex(&proof.proof)
        && proof
            .instances
            .iter()
            .all(|h| artifact::is_canonical_hex(h))
        && proof.weight_link.as_ref().is_none_or(|l| {
            l.a.iter()
                .chain(l.z.iter().flatten())
                .all(|h| artifact::is_canonical_hex(h))
        });
    if !hex_ok {
        return Err(ArtifactError::malformed(
            proof_path,
            "hex must be lowercase, as zkinfer writes it (one spelling per proof)",
        )
        .into());
    }
    let (srs_bytes, vk_bytes) = split_vk(vk_path, &artifact::read_bytes(vk_path)?)?;
    let proof_bytes = hex::decode(&proof.proof)
        .map_err(|e| ArtifactError::malformed(proof_path, format!("\"proof\" is not hex: {e}")))?;
    let instance = proof
        .instances
        .iter()
        .map(|h| {
            let bytes: [u8; 32] = hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(())?;
            Option::<Fr>::from(Fr::from_repr(bytes)).ok_or(())
        })
        .collect::<Result<Vec<Fr>, ()>>()
        .map_err(|()| {
            ArtifactError::malformed(
                proof_path,
                "\"instances\" must be 32-byte field elements in hex",
            )
        })?;

    let body = &commitment.body;
    let settings = &body.settings;
    // Sizes halo2 will allocate by, and bounds the range checks use: refuse absurd values
    // before touching the backend.
    let table = crate::quantize::TABLE_BITS_RANGE;
    let sane = table.contains(&settings.table_bits)
        && settings.activation_bits == 2 * settings.table_bits
        && table.contains(&settings.shape.relu_bits)
        && table.contains(&settings.shape.range_bits)
        && (1..=2).contains(&settings.shape.remainder_limbs)
        && (1..=63).contains(&settings.output_bits)
        && total(&settings.inputs) == Some(settings.input_len)
        && total(&settings.outputs) == Some(settings.output_len)
        && settings.shape.relu_bits == settings.table_bits
        && settings.shape.range_bits == settings.table_bits
        && (1..=crate::plan::MAX_LANES).contains(&settings.shape.lanes)
        && crate::plan::FREIVALDS_WIDTHS.contains(&settings.shape.freivalds)
        && crate::plan::FREIVALDS_BANKS.contains(&settings.shape.freivalds_banks)
        && (settings.shape.freivalds_pack == 1
            || settings.shape.freivalds_pack
                == crate::plan::freivalds_pack(
                    settings.shape.freivalds,
                    settings.shape.private_weights,
                ))
        && (settings.shape.freivalds_banks == 1
            || crate::plan::banks_allowed(settings.shape.freivalds))
        && (settings.shape.freivalds > 0 || !settings.shape.freivalds_merge)
        && (settings.shape.private_weights || !settings.shape.weight_offset)
        && ((settings.shape.private_weights
            && settings.shape.weight_offset
            && settings.shape.freivalds > 0)
            || !settings.shape.freivalds_advice_weights)
        && (settings.shape.freivalds_banks > 1 || !settings.shape.freivalds_split)
        && (settings.shape.freivalds_split || !settings.shape.freivalds_balance)
        && (settings.shape.funcs || !settings.shape.func_in_rescale)
        && (settings.shape.products || !settings.shape.product_in_rescale)
        // (beside the rescale chip also needs a model without ArgMax, which plan_of checks at
        // setup; here the committed verifying key pins the constraint system either way)
        && ((settings.shape.products && !settings.shape.product_in_rescale)
            || !settings.shape.product_beside_rescale)
        && (1..=crate::plan::MAX_K).contains(&settings.k)
        && settings.k == body.srs.k;
    if !sane {
        return Err(ArtifactError::malformed(
            commitment_path,
            "settings out of range (lanes, Freivalds width or banks, chip placement, k or bit widths)",
        )
        .into());
    }
    if body.digest() != commitment.digest {
        return reject(format!(
            "{}: the commitment's digest does not match its contents (altered?)",
            commitment_path.display()
        ));
    }
    if proof.model_name != body.model_name {
        return reject(format!(
            "the proof names model `{}`, the commitment `{}`",
            proof.model_name, body.model_name
        ));
    }
    if proof.commitment != commitment.digest {
        return reject(format!(
            "the proof claims model commitment {}, not {}",
            short(&proof.commitment),
            short(&commitment.digest)
        ));
    }
    let vsrs = VerifierSrs::from_bytes(&srs_bytes)
        .or_else(|_| reject("the verifying key carries an unreadable SRS"))?;
    if vsrs.digest() != body.srs.digest || vsrs.k != settings.k {
        return reject("the verifying key was made with another SRS than the commitment names");
    }
    let dev = vsrs.is_dev();
    if dev != body.srs.insecure_dev {
        return reject(format!(
            "the commitment says its SRS is {}the insecure development SRS, but it is{}",
            if body.srs.insecure_dev { "" } else { "not " },
            if dev { "" } else { " not" }
        ));
    }
    let vk = keys::vk_from_bytes(
        &vk_bytes,
        settings.shape,
        settings.k,
        &vk_path.display().to_string(),
    )
    .or_else(|e| {
        reject(format!(
            "the verifying key does not match the commitment ({e})"
        ))
    })?;
    if keys::vk_repr(&vk) != body.vk_repr {
        return reject(
            "the verifying key does not match the commitment (another model or circuit)",
        );
    }
    let private_input = settings.shape.private_input;
    let hashed = settings.shape.hashed_input;
    if hashed && !private_input {
        return reject("the commitment's circuit hashes a public input");
    }
    let hashed_output = settings.shape.hashed_output;
    let (n_in, n_out) = (
        if private_input { 0 } else { settings.input_len },
        if hashed_output {
            0
        } else {
            settings.output_len
        },
    );
    let n_hash = usize::from(hashed);
    let n_out_hash = usize::from(hashed_output);
    if instance.len() != n_hash + n_in + n_out + n_out_hash {
        return reject(format!(
            "the proof has {} public values, the model has {n_hash} input hash + {n_in} public inputs + {n_out} outputs + {n_out_hash} output hash",
            instance.len()
        ));
    }
    let visibility_ok = settings.visibility.input
        == if hashed {
            "hashed"
        } else if private_input {
            "private"
        } else {
            "public"
        }
        && settings.visibility.weights
            == if settings.shape.private_weights {
                "private"
            } else {
                "fixed"
            }
        && settings.visibility.output == if hashed_output { "hashed" } else { "public" };
    if !visibility_ok {
        return reject("the commitment's visibility does not match its circuit shape");
    }
    // Range checks the circuit relies on: public inputs within the activation range, public
    // outputs within `output_bits` (the final layer's values skip the table).
    let input_hash = instance[..n_hash].first().map(crate::hash::to_hex);
    let output_hash = hashed_output
        .then(|| instance.last().map(crate::hash::to_hex))
        .flatten();
    let ints: Option<Vec<i64>> = instance[n_hash..instance.len() - n_out_hash]
        .iter()
        .map(from_field)
        .collect();
    let Some(ints) = ints else {
        return reject("a public value is not a small integer");
    };
    let (input, output) = ints.split_at(n_in);
    if let Some(v) = input
        .iter()
        .find(|&&v| !fits_signed(v, settings.activation_bits))
    {
        return reject(format!(
            "public input {v} is outside the compiled range of ±2^{}",
            settings.activation_bits - 1
        ));
    }
    if let Some(v) = output
        .iter()
        .find(|&&v| !fits_signed(v, settings.output_bits))
    {
        return reject(format!(
            "public output {v} is outside the compiled range of ±2^{}",
            settings.output_bits - 1
        ));
    }
    let attested = if hashed_output {
        vec![]
    } else {
        OutputField::split(settings, output)
    };
    let claimed = &proof.outputs;
    let same = |a: &OutputField, b: &OutputField| a.same_as(b);
    if input != proof.input.as_slice()
        || claimed.len() != attested.len()
        || claimed.iter().zip(&attested).any(|(c, a)| !same(c, a))
    {
        return reject(
            "the input/output fields of the proof file differ from its public instances (edited?)",
        );
    }
    let start = Instant::now();
    let evm_proof = match proof.transcript.as_deref() {
        None => false,
        Some(artifact::TRANSCRIPT_KECCAK) => true,
        Some(other) => {
            return Err(ArtifactError::malformed(
                proof_path,
                format!(
                    "\"transcript\" is `{other}`, expected `{}` or none",
                    artifact::TRANSCRIPT_KECCAK
                ),
            )
            .into())
        }
    };
    if evm_proof {
        crate::evm::verify(&vsrs, &vk, &instance, &proof_bytes).or_else(reject)?;
    } else {
        crate::verifier::verify(&vsrs, &vk, &instance, &proof_bytes).or_else(reject)?;
    }
    match (
        settings.shape.private_weights,
        &body.weights,
        &proof.weight_link,
    ) {
        (false, None, None) => {}
        (true, Some(wc), Some(link)) => {
            // the weight columns and blinding rows are the circuit's own, not the file's word
            let mut cs = halo2_proofs::plonk::ConstraintSystem::<Fr>::default();
            let config = crate::circuit::configure(&mut cs, settings.shape);
            let columns: Vec<usize> = config.weight_columns().iter().map(|c| c.index()).collect();
            let first = (1usize << settings.k) - vk.cs().blinding_factors() - 1;
            if !config.weight_columns_lead(&cs) {
                return reject("the circuit's weight columns are not all before its second-phase columns: the weight link cannot locate their commitments");
            }
            if wc.columns != columns || wc.first_blind_row != first {
                return reject("the weight commitment does not match the circuit's weight columns");
            }
            let context = super::prove::link_context(&commitment.digest, &instance, &proof_bytes);
            crate::weights::verify_link(
                wc,
                settings.k,
                &vsrs,
                link,
                &proof_bytes,
                evm_proof,
                &context,
            )
            .or_else(|e| reject(format!("private weights: {e}")))?;
        }
        (true, Some(_), None) => {
            return reject("the proof has no link to the weight commitment (private weights)")
        }
        (true, None, _) => {
            return reject("private weights but the commitment has no weight commitment")
        }
        (false, _, _) => {
            return reject("fixed weights but the commitment or proof carries a weight commitment")
        }
    }
    Ok(Verified {
        model_name: body.model_name.clone(),
        outputs: attested,
        digest: commitment.digest.clone(),
        insecure_dev_srs: dev,
        srs_id: vsrs.id(),
        verify_time: start.elapsed(),
        visibility: settings.visibility.clone(),
        input_hash,
        output_hash,
    })
}

/// Total element count of a list of tensors, `None` on overflow.
fn total(ts: &[crate::artifact::TensorSettings]) -> Option<usize> {
    ts.iter()
        .try_fold(0usize, |n, t| n.checked_add(artifact::numel(&t.shape)?))
}

fn short(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}
