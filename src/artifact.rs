//! Versioned file formats (DESIGN §5): settings, fixed-point model, commitment, proof, and the
//! verifying-key container. Every file carries `"format": "zkinfer/<kind>/v<N>"`; every write
//! is atomic (temp file + rename).

use crate::circuit::CircuitShape;
use crate::plan::Plan;
use crate::quantize::QuantModel;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Format tag of settings.json.
pub const SETTINGS_FORMAT: &str = "zkinfer/settings/v2";
/// Format tag of model.json.
pub const MODEL_FORMAT: &str = "zkinfer/model/v2";
/// Format tag of commitment.json.
pub const COMMITMENT_FORMAT: &str = "zkinfer/commitment/v4";
/// Format tag of proof.json.
pub const PROOF_FORMAT: &str = "zkinfer/proof/v3";
/// Magic bytes opening vk.bin.
pub const VK_MAGIC: &[u8; 8] = b"ZKINFVK1";

/// Errors reading or writing artifacts.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not the expected content.
    #[error("{path}: {msg}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

impl ArtifactError {
    /// A malformed-file error.
    pub fn malformed(path: &Path, msg: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

/// Reads a whole file.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ArtifactError> {
    std::fs::read(path).map_err(|source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a JSON artifact and checks its `format` tag.
pub fn read_json<T: DeserializeOwned>(path: &Path, format: &str) -> Result<T, ArtifactError> {
    let bytes = read_bytes(path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ArtifactError::malformed(path, format!("not valid JSON: {e}")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(f) if f == format => {}
        Some(f) => {
            let kind = |s: &str| s.rsplit_once('/').map(|(k, _)| k.to_string());
            let hint = if kind(f) == kind(format) {
                " (written by another zkinfer version: run `zkinfer compile` and `zkinfer setup` again)"
            } else {
                ""
            };
            return Err(ArtifactError::malformed(
                path,
                format!("format is `{f}`, expected `{format}`{hint}"),
            ));
        }
        None => {
            return Err(ArtifactError::malformed(
                path,
                format!("no \"format\" field (expected `{format}`)"),
            ))
        }
    }
    serde_json::from_value(value)
        .map_err(|e| ArtifactError::malformed(path, format!("not a valid {format} file: {e}")))
}

/// [`read_json`], accepting only the exact bytes [`write_json`] writes for the value read: no
/// duplicate or unknown field, no other spacing or order. What verify reads has one encoding
/// (a duplicate key would let two readers see two different values; any other spelling would
/// make "the same" proof or commitment many files).
pub fn read_json_canonical<T: DeserializeOwned + Serialize>(
    path: &Path,
    format: &str,
) -> Result<T, ArtifactError> {
    let value: T = read_json(path, format)?;
    let mut canonical = serde_json::to_vec_pretty(&value)
        .map_err(|e| ArtifactError::malformed(path, e.to_string()))?;
    canonical.push(b'\n');
    if canonical != read_bytes(path)? {
        return Err(ArtifactError::malformed(
            path,
            "not byte for byte as zkinfer writes it (re-formatted, or a field duplicated, added or edited)",
        ));
    }
    Ok(value)
}

/// Whether `s` is hex as zkinfer writes it (lowercase digits, nothing else).
pub fn is_canonical_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Temp files being written ([`write_atomic`], [`write_secret`]), for [`remove_in_flight`].
static IN_FLIGHT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Creates the temp file `tmp` with `options`, registered for [`remove_in_flight`] under the
/// same lock, so an interrupt sees it either registered and created or neither.
fn create_in_flight(tmp: &Path, options: &std::fs::OpenOptions) -> std::io::Result<std::fs::File> {
    let mut list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    let f = options.open(tmp)?;
    list.push(tmp.to_path_buf());
    Ok(f)
}

fn done_in_flight(tmp: &Path) {
    let mut list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|p| p != tmp);
}

/// Removes every temp file still being written (an interrupted command: no partial file is
/// left behind), and keeps the lock so none is created after. For the signal handler.
pub fn remove_in_flight() {
    let list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    for p in list.iter() {
        let _ = std::fs::remove_file(p);
    }
    std::mem::forget(list);
}

/// Writes `bytes` to `path` atomically: a temp file in the same folder, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    write_via_temp(path, bytes, false)
}

/// Writes a secret (a salt, a private key) atomically, readable by its owner only: the file
/// is created 0600 before a byte is written (no moment in which others could read it).
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    write_via_temp(path, bytes, true)
}

/// A temp file beside `path`, registered for [`remove_in_flight`] while it exists, renamed
/// over `path` once written (a secret: created 0600, synced first).
fn write_via_temp(path: &Path, bytes: &[u8], secret: bool) -> Result<(), ArtifactError> {
    stage(path, bytes, secret)?.commit()
}

/// Writes several files as one step: every file to its temp file first, then the renames, so a
/// failed write (a full disk, a file-size limit) replaces none of them and leaves no temp file.
/// (Only a failing rename, within one folder, could leave the set mixed.)
pub fn write_all_atomic(files: &[(&Path, &[u8])]) -> Result<(), ArtifactError> {
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        // on error, the staged temps are dropped: removed
        staged.push(stage(path, bytes, false)?);
    }
    for s in staged {
        s.commit()?;
    }
    Ok(())
}

/// A written temp file waiting for its rename; dropped uncommitted, it is removed.
struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staged {
    fn commit(mut self) -> Result<(), ArtifactError> {
        let renamed = std::fs::rename(&self.tmp, &self.path);
        self.committed = renamed.is_ok();
        renamed.map_err(|source| ArtifactError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
        done_in_flight(&self.tmp);
    }
}

/// Writes `bytes` to a temp file beside `path` (registered for [`remove_in_flight`]).
fn stage(path: &Path, bytes: &[u8], secret: bool) -> Result<Staged, ArtifactError> {
    use std::io::Write;
    let io = |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| ArtifactError::malformed(path, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.create_new(true).mode(0o600);
    }
    let file = create_in_flight(&tmp, &options);
    // from here the temp file is ours to remove
    let staged = Staged {
        tmp: tmp.clone(),
        path: path.to_path_buf(),
        committed: false,
    };
    let written = file.and_then(|mut f| {
        f.write_all(bytes)?;
        if secret {
            f.sync_all()?;
        }
        Ok(())
    });
    written.map_err(io)?;
    Ok(staged)
}

/// A JSON artifact's bytes as zkinfer writes them (pretty-printed, a final newline).
pub fn json_bytes<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, ArtifactError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| ArtifactError::malformed(path, e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes a JSON artifact atomically (pretty-printed).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ArtifactError> {
    write_atomic(path, &json_bytes(path, value)?)
}

/// SHA-256 as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Who sees what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    /// The input: "public" (in the proof's instances).
    pub input: String,
    /// The weights: "fixed" (constants the verifying key commits to).
    pub weights: String,
    /// The output: "public".
    pub output: String,
}

/// A graph input or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSettings {
    /// Name (ONNX input name, or the producing node's name).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Fixed-point scale.
    pub scale: u32,
    /// The value is a proven class index (`compile --prove-argmax`), not a score.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub class_index: bool,
}

/// One node of the fixed-point graph (a summary; no weights).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSettings {
    /// ONNX node it came from.
    pub name: String,
    /// What it computes and how it is laid out.
    pub op: String,
    /// Input tensor ids.
    pub inputs: Vec<usize>,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Output scale.
    pub scale: u32,
}

/// settings.json: everything about the circuit a verifier may know. No floats, so the canonical
/// JSON (and hence the commitment digest) is stable across parse/serialize.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Format tag.
    pub format: String,
    /// Model name (folder name of the source model).
    pub model_name: String,
    /// SHA-256 of the source model file.
    pub model_sha256: String,
    /// Graph inputs, in order (the public instance starts with their values, flattened).
    pub inputs: Vec<TensorSettings>,
    /// Graph outputs, in order (then their values).
    pub outputs: Vec<TensorSettings>,
    /// Input values (all inputs).
    pub input_len: usize,
    /// Output values (all outputs).
    pub output_len: usize,
    /// Lookup-table bits `B` (range table `[0, 2^B)`, sign table over `B`-bit signed values).
    pub table_bits: u32,
    /// Signed bits of the inputs and every bounded activation (`2·B`: two limbs).
    pub activation_bits: u32,
    /// Signed bits of the public outputs (checked by the verifier).
    pub output_bits: u32,
    /// Visibility.
    pub visibility: Visibility,
    /// Circuit size exponent.
    pub k: u32,
    /// Constraint-system shape.
    pub shape: CircuitShape,
    /// The layout plan.
    pub plan: Plan,
    /// The fixed-point graph's nodes.
    pub nodes: Vec<NodeSettings>,
}

/// model.json: the fixed-point model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelFile {
    /// Format tag.
    pub format: String,
    /// The model.
    pub model: QuantModel,
}

/// Which SRS the keys were made with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrsInfo {
    /// Size exponent.
    pub k: u32,
    /// SHA-256 of the verifier part (`k`, `g₀`, `g₂`, `s·g₂`).
    pub digest: String,
    /// True for zkinfer's deterministic development SRS (insecure).
    pub insecure_dev: bool,
}

/// The body of a commitment: what the digest binds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentBody {
    /// Model name.
    pub model_name: String,
    /// SHA-256 of the source model file.
    pub model_sha256: String,
    /// The verifying key's transcript representation (binds the circuit, weights included).
    pub vk_repr: String,
    /// SRS.
    pub srs: SrsInfo,
    /// Settings.
    pub settings: Settings,
    /// The weight commitment (private weights only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<crate::weights::WeightCommitment>,
}

impl CommitmentBody {
    /// The digest: SHA-256 over the format tag and the canonical JSON of the body.
    pub fn digest(&self) -> String {
        let mut bytes = COMMITMENT_FORMAT.as_bytes().to_vec();
        bytes.push(b'\n');
        // Serializing plain structs of strings and integers cannot fail.
        bytes.extend(serde_json::to_vec(self).unwrap_or_default());
        sha256_hex(&bytes)
    }
}

/// commitment.json: the published model commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// Format tag.
    pub format: String,
    /// SHA-256 digest of the body.
    pub digest: String,
    /// The body.
    #[serde(flatten)]
    pub body: CommitmentBody,
}

/// The element count of `shape`, `None` on overflow (shapes come from files).
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// One output a proof attests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputField {
    /// Output name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Fixed-point integers.
    pub values: Vec<i64>,
    /// Their scale.
    pub scale: u32,
    /// Dequantized floats.
    pub floats: Vec<f64>,
    /// Argmax over the values (the predicted class of a classifier).
    pub predicted_class: usize,
}

impl OutputField {
    /// The same output: equal names, shapes, values, scales, classes and floats (exactly:
    /// serde_json's `float_roundtrip` reads back the very `f64` it wrote).
    pub fn same_as(&self, other: &Self) -> bool {
        self.name == other.name
            && self.shape == other.shape
            && self.values == other.values
            && self.scale == other.scale
            && self.predicted_class == other.predicted_class
            && self.floats.len() == other.floats.len()
            && self
                .floats
                .iter()
                .zip(&other.floats)
                .all(|(x, y)| x.to_bits() == y.to_bits())
    }
}

impl OutputField {
    /// Splits the flat output integers into one field per output of `settings`.
    pub fn split(settings: &Settings, values: &[i64]) -> Vec<OutputField> {
        Self::split_with(&settings.outputs, values)
    }

    /// Splits the flat output integers into one field per output of `outputs`.
    pub fn split_with(outputs: &[TensorSettings], values: &[i64]) -> Vec<OutputField> {
        let mut at: usize = 0;
        outputs
            .iter()
            .map(|o| {
                let n = numel(&o.shape).unwrap_or(usize::MAX);
                let end = at.saturating_add(n);
                let v = values.get(at..end).unwrap_or_default().to_vec();
                at = end;
                OutputField {
                    name: o.name.clone(),
                    shape: o.shape.clone(),
                    floats: v
                        .iter()
                        .map(|&q| crate::witness::dequantize(q, o.scale))
                        .collect(),
                    predicted_class: if o.class_index {
                        v.first()
                            .map_or(0, |&c| usize::try_from(c).unwrap_or(usize::MAX))
                    } else {
                        argmax(&v)
                    },
                    values: v,
                    scale: o.scale,
                }
            })
            .collect()
    }
}

/// proof.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofFile {
    /// Format tag.
    pub format: String,
    /// Digest of the commitment this proof claims.
    pub commitment: String,
    /// Model name.
    pub model_name: String,
    /// The quantized public input (all inputs, flattened; empty for a private input).
    pub input: Vec<i64>,
    /// The outputs.
    pub outputs: Vec<OutputField>,
    /// Public instances as 32-byte little-endian field elements in hex.
    pub instances: Vec<String>,
    /// Proof bytes in hex.
    pub proof: String,
    /// The link of the proof's weight columns to the weight commitment (private weights only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_link: Option<crate::weights::WeightLink>,
    /// The Fiat–Shamir transcript: absent for Blake2b (the default), [`TRANSCRIPT_KECCAK`] for
    /// a proof an EVM verifier accepts (`prove --evm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

/// [`ProofFile::transcript`] of an EVM proof.
pub const TRANSCRIPT_KECCAK: &str = "keccak";

/// Argmax (first maximum; 0 for an empty list).
pub fn argmax<T: PartialOrd>(values: &[T]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(0, |best, (i, v)| if *v > values[best] { i } else { best })
}
