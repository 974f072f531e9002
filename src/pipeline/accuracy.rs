//! `accuracy`: the fixed-point model (the witness, bit-exact with the circuit) against the float
//! model on many samples: argmax agreement, per-output errors, and label accuracy of both.

use super::{files, read_build, read_samples, PipelineError};
use crate::artifact::{self, ArtifactError};
use crate::ops::forward;
use crate::witness;
use serde::Serialize;
use std::path::Path;

/// What `accuracy` measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccuracyReport {
    /// Samples in the data file.
    pub samples: usize,
    /// Samples the fixed-point model could not run (outside the compiled range).
    pub out_of_range: usize,
    /// The first such sample's error.
    pub first_out_of_range: Option<String>,
    /// In-range samples whose argmax (of the first output) agrees.
    pub argmax_agree: usize,
    /// `argmax_agree` over in-range samples, in percent.
    pub argmax_agree_pct: f64,
    /// Per output value: max |float − fixed| over in-range samples.
    pub max_abs_error: Vec<f64>,
    /// Per output value: mean |float − fixed|.
    pub mean_abs_error: Vec<f64>,
    /// Label accuracy of the float model (with labels), in percent of all samples.
    pub float_label_accuracy_pct: Option<f64>,
    /// Label accuracy of the fixed-point model, in percent of all samples (out-of-range
    /// samples count as wrong).
    pub fixed_label_accuracy_pct: Option<f64>,
}

/// Reads labels: a JSON list of class indices, or an object with a `"labels"` list.
pub fn read_labels(path: &Path) -> Result<Option<Vec<usize>>, ArtifactError> {
    let bytes = artifact::read_bytes(path)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ArtifactError::malformed(path, format!("not valid JSON: {e}")))?;
    let list = match &v {
        serde_json::Value::Array(_) => Some(&v),
        serde_json::Value::Object(o) => o.get("labels"),
        _ => None,
    };
    let Some(list) = list else { return Ok(None) };
    list.as_array()
        .and_then(|a| {
            a.iter()
                .map(|x| x.as_u64().and_then(|n| usize::try_from(n).ok()))
                .collect::<Option<Vec<_>>>()
        })
        .map(Some)
        .ok_or_else(|| ArtifactError::malformed(path, "\"labels\" must be a list of class indices"))
}

/// Runs the build folder's model on every sample of `data` (EZKL input format, samples
/// concatenated), against the float model; `labels` may come from their own file or from a
/// `"labels"` list in the data file. `on_sample` sees progress.
pub fn accuracy(
    dir: &Path,
    data: &Path,
    labels: Option<&Path>,
    mut on_sample: impl FnMut(usize, usize),
) -> Result<AccuracyReport, PipelineError> {
    let (settings, model) = read_build(dir)?;
    let onnx_path = dir.join(files::ONNX);
    let source = artifact::read_bytes(&onnx_path)?;
    if artifact::sha256_hex(&source) != settings.model_sha256 {
        return Err(PipelineError::Inconsistent(format!(
            "{}: not the model this folder was compiled from; run `zkinfer compile` again",
            onnx_path.display()
        )));
    }
    let float = crate::onnx::load_onnx(&onnx_path)?;
    let lens: Vec<usize> = (0..float.inputs.len()).map(|t| float.len(t)).collect();
    let samples = read_samples(data, &lens)?;
    let labels = match labels {
        Some(p) => read_labels(p)?.ok_or_else(|| {
            ArtifactError::malformed(p, "expected a list of labels or {\"labels\": [...]}")
        })?,
        None => read_labels(data)?.unwrap_or_default(),
    };
    let with_labels = !labels.is_empty();
    if with_labels && labels.len() != samples.len() {
        return Err(PipelineError::Inconsistent(format!(
            "{} labels for {} samples",
            labels.len(),
            samples.len()
        )));
    }
    let scales: Vec<u32> = settings
        .outputs
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.scale, artifact::numel(&o.shape).unwrap_or(0)))
        .collect();
    let first = settings
        .outputs
        .first()
        .and_then(|o| artifact::numel(&o.shape))
        .unwrap_or(0);
    let n_out = scales.len();
    let mut r = AccuracyReport {
        samples: samples.len(),
        out_of_range: 0,
        first_out_of_range: None,
        argmax_agree: 0,
        argmax_agree_pct: 0.0,
        max_abs_error: vec![0.0; n_out],
        mean_abs_error: vec![0.0; n_out],
        float_label_accuracy_pct: None,
        fixed_label_accuracy_pct: None,
    };
    let (mut float_right, mut fixed_right) = (0usize, 0usize);
    for (i, s) in samples.iter().enumerate() {
        on_sample(i, samples.len());
        let reference = forward(&float, s);
        let float_class = artifact::argmax(&reference[..first.min(reference.len())]);
        if labels.get(i) == Some(&float_class) {
            float_right += 1;
        }
        let trace =
            witness::quantize_input(&model, &s.concat()).and_then(|q| witness::run(&model, q));
        let trace = match trace {
            Ok(t) => t,
            Err(e) => {
                r.out_of_range += 1;
                r.first_out_of_range
                    .get_or_insert_with(|| format!("sample {i}: {e}"));
                continue;
            }
        };
        let fixed: Vec<f64> = trace
            .output()
            .iter()
            .zip(&scales)
            .map(|(&q, &s)| witness::dequantize(q, s))
            .collect();
        for (j, (a, b)) in fixed.iter().zip(&reference).enumerate() {
            let e = (a - b).abs();
            r.max_abs_error[j] = r.max_abs_error[j].max(e);
            r.mean_abs_error[j] += e;
        }
        let fixed_class = artifact::argmax(&fixed[..first.min(fixed.len())]);
        if fixed_class == float_class {
            r.argmax_agree += 1;
        }
        if labels.get(i) == Some(&fixed_class) {
            fixed_right += 1;
        }
    }
    let in_range = r.samples - r.out_of_range;
    if in_range > 0 {
        r.mean_abs_error
            .iter_mut()
            .for_each(|e| *e /= in_range as f64);
        r.argmax_agree_pct = 100.0 * r.argmax_agree as f64 / in_range as f64;
    }
    if with_labels {
        let pct = |n: usize| 100.0 * n as f64 / r.samples.max(1) as f64;
        r.float_label_accuracy_pct = Some(pct(float_right));
        r.fixed_label_accuracy_pct = Some(pct(fixed_right));
    }
    Ok(r)
}
