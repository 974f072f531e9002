//! The user-facing operations as library calls: [`compile()`], [`setup()`], [`prove()`],
//! [`verify()`], [`accuracy()`]. The CLI is a thin layer over these.

mod accuracy;
mod compile;
mod evm;
mod inspect;
mod prove;
mod setup;
mod verify;

pub use accuracy::{accuracy, read_labels, AccuracyReport};
pub use compile::{
    compile, CalibrationReport, CompileOptions, CompileReport, TableTrial, AUTO_TABLE_BITS,
    AUTO_TOLERANCE,
};
pub use evm::{
    evm_contracts, evm_generate, evm_verify, EvmReport, EvmVerified, VerifierFile, VerifierPart,
    VERIFIER_FORMAT,
};
pub use inspect::{inspect, InspectReport, LayerReport, RowsReport};
pub use prove::{link_context, prove, prove_with, ProveOptions, ProveReport};
pub use setup::{setup, setup_with, SetupReport};
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
    /// The weight commitment.
    #[error(transparent)]
    Weights(#[from] crate::weights::WeightsError),
    /// Files.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The EVM verifier.
    #[error(transparent)]
    Evm(#[from] crate::evm::EvmError),
    /// Inconsistent build folder.
    #[error("{0}")]
    Inconsistent(String),
    /// `setup` with the development SRS, not asked for.
    #[error("refusing the insecure development SRS{0}: anyone can forge proofs for keys made with it. Pass --srs FILE with a trusted-setup SRS (see params/README.md), or --insecure-dev-srs for tests and demos")]
    InsecureSrs(String),
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
    /// A copy of the source model (for `accuracy`).
    pub const ONNX: &str = "network.onnx";
    /// The owner's secret salt of the weight commitment (private weights; never publish it).
    pub const SALT: &str = "weights.salt";
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
    model.model.check().map_err(|e| {
        PipelineError::Inconsistent(format!("{}: {e}", dir.join(files::MODEL).display()))
    })?;
    let plan = crate::plan::plan_of(&model.model, &settings.plan.shape)?;
    // everything in settings.json follows from model.json and the plan's choices: the
    // circuit (shape, k), the public layout and the output scales verify reports with
    let derived = compile::settings_of(
        settings.model_name.clone(),
        settings.model_sha256.clone(),
        &model.model,
        plan,
    );
    if derived != settings {
        return Err(PipelineError::Inconsistent(format!(
            "{}: settings.json does not match model.json; run `zkinfer compile` again",
            dir.display()
        )));
    }
    Ok((settings, model.model))
}

/// Reads the lists of an EZKL-format input file `{"input_data": [[…], …]}`.
fn read_input_data(path: &Path) -> Result<Vec<Vec<f64>>, ArtifactError> {
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
    Ok(file.input_data)
}

/// Reads samples for a model whose inputs have `lens` values each: one vector per input per
/// sample. With one input, all the file's values are cut into samples; with several, list `i`
/// holds input `i`'s samples, concatenated.
pub fn read_samples(path: &Path, lens: &[usize]) -> Result<Vec<Vec<Vec<f64>>>, ArtifactError> {
    let lists = read_input_data(path)?;
    let bad = |msg: String| ArtifactError::malformed(path, msg);
    if lens.is_empty() || lens.contains(&0) {
        return Err(bad("the model has an empty input".into()));
    }
    let per_input: Vec<Vec<f64>> = if lens.len() == 1 {
        vec![lists.into_iter().flatten().collect()]
    } else if lists.len() == lens.len() {
        lists
    } else {
        return Err(bad(format!(
            "has {} lists, the model has {} inputs (one list per input, in order)",
            lists.len(),
            lens.len()
        )));
    };
    let mut count = None;
    for (i, (vals, &len)) in per_input.iter().zip(lens).enumerate() {
        if vals.is_empty() || vals.len() % len != 0 {
            return Err(bad(format!(
                "input {i} has {} values, not a positive multiple of its size {len}",
                vals.len()
            )));
        }
        let c = vals.len() / len;
        if count.is_some_and(|n| n != c) {
            return Err(bad("the inputs hold different numbers of samples".into()));
        }
        count = Some(c);
    }
    let count = count.unwrap_or(0);
    Ok((0..count)
        .map(|s| {
            per_input
                .iter()
                .zip(lens)
                .map(|(vals, &len)| vals[s * len..(s + 1) * len].to_vec())
                .collect()
        })
        .collect())
}

/// Reads one input (all graph inputs, flattened in order) of exactly the model's sizes.
pub fn read_input(path: &Path, lens: &[usize]) -> Result<Vec<f64>, ArtifactError> {
    let lists = read_input_data(path)?;
    let want: usize = lens.iter().sum();
    let flat: Vec<f64> = lists.into_iter().flatten().collect();
    if flat.len() != want {
        return Err(ArtifactError::malformed(
            path,
            format!(
                "the input has {} values, the model expects {want}{}",
                flat.len(),
                if lens.len() > 1 {
                    format!(" ({} inputs of {lens:?} values)", lens.len())
                } else {
                    String::new()
                }
            ),
        ));
    }
    Ok(flat)
}
