//! The four user-facing operations as library calls: [`compile()`], [`setup()`], [`prove()`],
//! [`verify()`]. The CLI is a thin layer over these.

mod compile;
mod prove;
mod setup;
mod verify;

pub use compile::{compile, CalibrationReport, CompileOptions, CompileReport};
pub use prove::{prove, ProveReport};
pub use setup::{setup, SetupReport};
pub use verify::{verify, Verified, VerifyError};

use crate::artifact::{self, ArtifactError, ModelFile, Settings, MODEL_FORMAT, SETTINGS_FORMAT};
use crate::quantize::QuantModel;
use std::path::Path;

/// Errors of compile, setup and prove.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Loading the ONNX model.
    #[error(transparent)]
    Onnx(#[from] crate::onnx::OnnxError),
    /// Quantization.
    #[error(transparent)]
    Quantize(#[from] crate::quantize::QuantizeError),
    /// Layout planning.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// Fixed-point inference.
    #[error(transparent)]
    Witness(#[from] crate::witness::WitnessError),
    /// Circuit assembly.
    #[error(transparent)]
    Circuit(#[from] crate::circuit::CircuitError),
    /// SRS and keys.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    /// Proving.
    #[error(transparent)]
    Prove(#[from] crate::prover::ProveError),
    /// Files.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// Inconsistent build folder.
    #[error("{0}")]
    Inconsistent(String),
}

/// Receives progress messages from long steps.
pub trait Progress {
    /// A new step starts.
    fn step(&self, message: &str);
}

/// Ignores progress.
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: &str) {}
}

/// File names inside a build folder.
pub mod files {
    /// Circuit settings.
    pub const SETTINGS: &str = "settings.json";
    /// Fixed-point model.
    pub const MODEL: &str = "model.json";
    /// Proving key.
    pub const PK: &str = "pk.bin";
    /// Verifying key container.
    pub const VK: &str = "vk.bin";
    /// The SRS cut to the circuit's k (for proving).
    pub const SRS: &str = "srs.bin";
    /// The published commitment.
    pub const COMMITMENT: &str = "commitment.json";
}

/// Reads settings.json and model.json of a build folder.
pub(crate) fn read_build(dir: &Path) -> Result<(Settings, QuantModel), PipelineError> {
    if !dir.is_dir() {
        return Err(PipelineError::Inconsistent(format!(
            "{}: no such build folder (run `zkinfer compile MODEL -o {}` first)",
            dir.display(),
            dir.display()
        )));
    }
    let settings: Settings = artifact::read_json(&dir.join(files::SETTINGS), SETTINGS_FORMAT)?;
    let model: ModelFile = artifact::read_json(&dir.join(files::MODEL), MODEL_FORMAT)?;
    let plan = crate::plan::plan(&model.model)?;
    if plan != settings.plan || model.model.input_len() != settings.input_len {
        return Err(PipelineError::Inconsistent(format!(
            "{}: settings.json does not match model.json; run `zkinfer compile` again",
            dir.display()
        )));
    }
    Ok((settings, model.model))
}

/// Reads the flat values of an EZKL-format input file `{"input_data": [[…], …]}`.
fn read_input_data(path: &Path) -> Result<Vec<f64>, ArtifactError> {
    #[derive(serde::Deserialize)]
    struct InputFile {
        input_data: Vec<Vec<f64>>,
    }
    let bytes = artifact::read_bytes(path)?;
    let file: InputFile = serde_json::from_slice(&bytes).map_err(|e| {
        ArtifactError::malformed(
            path,
            format!("expected EZKL input JSON {{\"input_data\": [[numbers…]]}}: {e}"),
        )
    })?;
    Ok(file.input_data.into_iter().flatten().collect())
}

/// Reads calibration samples: all values of the file, cut into samples of `len`.
pub fn read_samples(path: &Path, len: usize) -> Result<Vec<Vec<f32>>, ArtifactError> {
    let flat = read_input_data(path)?;
    if len == 0 || flat.is_empty() || flat.len() % len != 0 {
        return Err(ArtifactError::malformed(
            path,
            format!(
                "has {} values, not a positive multiple of the model's input size {len}",
                flat.len()
            ),
        ));
    }
    Ok(flat
        .chunks(len)
        .map(|c| c.iter().map(|&v| v as f32).collect())
        .collect())
}

/// Reads one input of exactly `len` values.
pub fn read_input(path: &Path, len: usize) -> Result<Vec<f64>, ArtifactError> {
    let flat = read_input_data(path)?;
    if flat.len() != len {
        return Err(ArtifactError::malformed(
            path,
            format!(
                "the input has {} values, the model expects {len}",
                flat.len()
            ),
        ));
    }
    Ok(flat)
}
