//! `compile`: ONNX → fixed-point model, settings and layout plan in a build folder.

use super::{files, read_samples, PipelineError};
use crate::artifact::{
    self, LayerSettings, ModelFile, Settings, Visibility, MODEL_FORMAT, SETTINGS_FORMAT,
};
use crate::quantize::{quantize, QuantModel, QuantOptions};
use crate::witness::{self, dequantize};
use crate::{onnx, plan};
use std::path::{Path, PathBuf};

/// Options of [`compile`].
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Calibration data (EZKL input format, any number of samples).
    pub calibration: Option<PathBuf>,
    /// Quantization options.
    pub quant: QuantOptions,
}

/// How the fixed-point model compares with the float model on the calibration data.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationReport {
    /// Samples run.
    pub samples: usize,
    /// Samples whose activations left the compiled range (not provable).
    pub out_of_range: usize,
    /// Max |float − fixed| over all outputs of the in-range samples.
    pub max_abs_error: f64,
    /// In-range samples whose argmax agrees.
    pub argmax_agree: usize,
}

/// What compile produced.
#[derive(Clone, Debug)]
pub struct CompileReport {
    /// The settings written.
    pub settings: Settings,
    /// Float-vs-fixed error on the calibration data.
    pub calibration: Option<CalibrationReport>,
}

fn model_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(Path::file_name) {
        Some(dir) if stem == "network" || stem == "model" => dir.to_string_lossy().into_owned(),
        _ => stem,
    }
}

fn calibration_report(
    float: &onnx::FloatModel,
    model: &QuantModel,
    samples: &[Vec<f32>],
) -> CalibrationReport {
    let mut report = CalibrationReport {
        samples: samples.len(),
        out_of_range: 0,
        max_abs_error: 0.0,
        argmax_agree: 0,
    };
    for s in samples {
        let input: Vec<f64> = s.iter().map(|&v| f64::from(v)).collect();
        let trace = witness::quantize_input(model, &input).and_then(|q| witness::run(model, q));
        let Ok(trace) = trace else {
            report.out_of_range += 1;
            continue;
        };
        let fixed: Vec<f64> = trace
            .output()
            .iter()
            .map(|&q| dequantize(q, model.output_scale()))
            .collect();
        let reference = float.forward(s);
        for (a, b) in fixed.iter().zip(&reference) {
            report.max_abs_error = report.max_abs_error.max((a - f64::from(*b)).abs());
        }
        let float_arg = reference
            .iter()
            .enumerate()
            .fold(0, |m, (i, v)| if *v > reference[m] { i } else { m });
        if artifact::argmax(trace.output()) == float_arg {
            report.argmax_agree += 1;
        }
    }
    report
}

/// Compiles `onnx_path` into the build folder `out_dir`.
pub fn compile(
    onnx_path: &Path,
    out_dir: &Path,
    opts: &CompileOptions,
) -> Result<CompileReport, PipelineError> {
    let source = artifact::read_bytes(onnx_path)?;
    let float = onnx::load_onnx(onnx_path)?;
    let samples = opts
        .calibration
        .as_deref()
        .map(|p| read_samples(p, float.input_len))
        .transpose()?;
    let model = quantize(&float, samples.as_deref(), &opts.quant)?;
    let plan = plan::plan(&model)?;
    let settings = Settings {
        format: SETTINGS_FORMAT.to_string(),
        model_name: model_name(onnx_path),
        model_sha256: artifact::sha256_hex(&source),
        input_shape: model.input_shape.clone(),
        input_len: model.input_len(),
        output_len: model.output_len(),
        input_scale: model.input_scale,
        output_scale: model.output_scale(),
        table_bits: model.table_bits,
        activation_bits: model.activation_bits(),
        output_bits: model.output_bits,
        visibility: Visibility {
            input: "public".into(),
            weights: "fixed".into(),
            output: "public".into(),
        },
        k: plan.k,
        shape: plan.shape,
        plan,
        layers: model
            .layers
            .iter()
            .map(|l| LayerSettings {
                node: l.node.clone(),
                n_in: l.n_in(),
                n_out: l.n_out(),
                in_scale: l.in_scale,
                weight_scale: l.weight_scale,
                out_scale: l.out_scale,
                shift: l.shift(),
                relu: l.relu,
            })
            .collect(),
    };
    let calibration = samples
        .as_deref()
        .map(|s| calibration_report(&float, &model, s));
    std::fs::create_dir_all(out_dir).map_err(|source| artifact::ArtifactError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    artifact::write_json(
        &out_dir.join(files::MODEL),
        &ModelFile {
            format: MODEL_FORMAT.to_string(),
            model,
        },
    )?;
    artifact::write_json(&out_dir.join(files::SETTINGS), &settings)?;
    Ok(CompileReport {
        settings,
        calibration,
    })
}
