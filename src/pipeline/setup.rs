//! `setup`: SRS + circuit → proving key, verifying key and the published commitment.

use super::{files, read_build, PipelineError, Progress};
use crate::artifact::{self, Commitment, CommitmentBody, SrsInfo, COMMITMENT_FORMAT, VK_MAGIC};
use crate::circuit::ModelCircuit;
use crate::keys::{self, VerifierSrs};
use crate::weights::{self, Salt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What setup produced.
#[derive(Clone, Debug)]
pub struct SetupReport {
    /// The commitment written.
    pub commitment: Commitment,
    /// Proving-key size in bytes.
    pub pk_bytes: usize,
    /// vk.bin size in bytes.
    pub vk_bytes: usize,
    /// Key-generation time.
    pub keygen_time: Duration,
}

/// Generates keys and the commitment for the build folder `dir`, with the SRS in `srs_path`
/// or, without one, the insecure development SRS.
pub fn setup(
    dir: &Path,
    srs_path: Option<&Path>,
    progress: &dyn Progress,
) -> Result<SetupReport, PipelineError> {
    setup_with(dir, srs_path, true, progress)
}

/// [`setup`], refusing the development SRS (generated, or an SRS file that is it) unless
/// `allow_dev_srs` (the CLI's `--insecure-dev-srs`), before any key is made.
pub fn setup_with(
    dir: &Path,
    srs_path: Option<&Path>,
    allow_dev_srs: bool,
    progress: &dyn Progress,
) -> Result<SetupReport, PipelineError> {
    if srs_path.is_none() && !allow_dev_srs {
        return Err(PipelineError::InsecureSrs(" (no --srs given)".into()));
    }
    let (settings, model) = read_build(dir)?;
    let srs = match srs_path {
        Some(p) => {
            progress.step(&format!("reading SRS {}", p.display()));
            if crate::ptau::is_ptau_file(p) {
                if let Ok((_, info)) = crate::ptau::read_verifier_srs_file(p) {
                    if info.max_k() < settings.k {
                        return Err(keys::KeysError::SrsTooSmall {
                            have: info.max_k(),
                            need: settings.k,
                        }
                        .into());
                    }
                }
                crate::ptau::read_srs_file(p, Some(settings.k))?
            } else {
                let bytes = artifact::read_bytes(p)?;
                keys::fit_srs(
                    keys::srs_from_bytes(&bytes, &p.display().to_string())?,
                    settings.k,
                )?
            }
        }
        None => {
            progress.step(&format!(
                "generating the insecure development SRS (k = {})",
                settings.k
            ));
            keys::dev_srs(settings.k)?
        }
    };
    let verifier_srs = VerifierSrs::from_srs(&srs);
    if let (Some(p), false, true) = (srs_path, allow_dev_srs, verifier_srs.is_dev()) {
        return Err(PipelineError::InsecureSrs(format!(
            " ({} is zkinfer's development SRS)",
            p.display()
        )));
    }
    progress.step(&format!("generating keys (k = {})", settings.k));
    let start = Instant::now();
    let circuit = ModelCircuit::keygen(Arc::new(model.clone()), settings.shape);
    let pk = keys::keygen(&srs, &circuit)?;
    let keygen_time = start.elapsed();
    let weights = if settings.shape.private_weights {
        // the owner's salt: kept if setup runs again, so the commitment stays the same
        let salt_path = dir.join(files::SALT);
        let salt = if salt_path.is_file() {
            Salt::read(&salt_path)?
        } else {
            let s = Salt::random();
            s.write(&salt_path)?;
            s
        };
        progress.step("committing to the private weights");
        let (indices, columns) =
            weights::weight_columns(Arc::new(model.clone()), settings.shape, settings.k)?;
        let vk = pk.get_vk();
        Some(weights::commit_weights(
            &srs,
            vk.get_domain(),
            vk.cs().blinding_factors(),
            &indices,
            &columns,
            &salt,
        ))
    } else {
        None
    };
    let body = CommitmentBody {
        model_name: settings.model_name.clone(),
        model_sha256: settings.model_sha256.clone(),
        vk_repr: keys::vk_repr(pk.get_vk()),
        srs: SrsInfo {
            k: settings.k,
            digest: verifier_srs.digest(),
            insecure_dev: verifier_srs.is_dev(),
        },
        settings,
        weights,
    };
    let commitment = Commitment {
        format: COMMITMENT_FORMAT.to_string(),
        digest: body.digest(),
        body,
    };
    progress.step("writing keys");
    let srs_bin = keys::srs_to_bytes(&srs);
    let pk_bin = keys::pk_to_bytes(&pk);
    let vsrs = verifier_srs.to_bytes();
    let mut vk_bin = VK_MAGIC.to_vec();
    vk_bin.extend((vsrs.len() as u32).to_le_bytes());
    vk_bin.extend(vsrs);
    vk_bin.extend(keys::vk_to_bytes(pk.get_vk()));
    // one step: a failed write (a full disk) replaces none of the previous keys
    let commitment_path = dir.join(files::COMMITMENT);
    let commitment_json = artifact::json_bytes(&commitment_path, &commitment)?;
    artifact::write_all_atomic(&[
        (&dir.join(files::SRS), &srs_bin),
        (&dir.join(files::PK), &pk_bin),
        (&dir.join(files::VK), &vk_bin),
        (&commitment_path, &commitment_json),
    ])?;
    Ok(SetupReport {
        commitment,
        pk_bytes: pk_bin.len(),
        vk_bytes: vk_bin.len(),
        keygen_time,
    })
}
