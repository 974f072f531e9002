//! `compile`: ONNX → fixed-point model, settings and layout plan in a build folder.

use super::{files, read_samples, PipelineError};
use crate::artifact::{
    self, ModelFile, NodeSettings, Settings, TensorSettings, Visibility, MODEL_FORMAT,
    SETTINGS_FORMAT,
};
use crate::ops::{forward, FloatGraph};
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
    /// Make the public output the index of the first output's maximum (proven), not the
    /// values.
    pub prove_argmax: bool,
    /// What the circuit keeps private (weights, input).
    pub privacy: plan::Privacy,
    /// Take the cheapest layout whose estimated proof is at most this many bytes
    /// (`--max-proof-bytes`), instead of the fastest to prove.
    pub max_proof_bytes: Option<u64>,
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
    /// Max |float output| over the in-range samples (the scale [`AUTO_TOLERANCE`] is
    /// relative to).
    pub max_abs_output: f64,
    /// Which samples left the compiled range.
    pub out_of_range_samples: Vec<usize>,
}

/// Table sizes compile tries without `--lookup-bits` or `--scale` (with calibration data),
/// largest first: the default, then smaller ones.
pub const AUTO_TABLE_BITS: [u32; 4] = [11, 10, 9, 8];
/// A table smaller than the default is taken only if the calibration outputs stay within
/// this fraction of their largest magnitude of the float model (or no further off than at the
/// default size), no sample leaves the range and no argmax changes.
pub const AUTO_TOLERANCE: f64 = 1.0 / 16384.0;

/// One table size compile considered.
#[derive(Clone, Debug, PartialEq)]
pub struct TableTrial {
    /// Table bits.
    pub bits: u32,
    /// The plan's `k` (`None`: the model does not quantize or plan at this size).
    pub k: Option<u32>,
    /// Why it was not taken, if it was not.
    pub rejected: Option<String>,
}

/// What compile produced.
#[derive(Clone, Debug)]
pub struct CompileReport {
    /// The settings written.
    pub settings: Settings,
    /// Float-vs-fixed error on the calibration data.
    pub calibration: Option<CalibrationReport>,
    /// The table sizes tried when compile chose it (empty when given or without data).
    pub table_trials: Vec<TableTrial>,
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

/// Replaces the outputs by the proven index of the first output's maximum.
fn with_argmax(g: &mut FloatGraph) {
    let Some(&out) = g.outputs.first() else {
        return;
    };
    let n = g.len(out);
    g.nodes.push(crate::graph::Node {
        name: "argmax".into(),
        inputs: vec![out],
        shape: vec![1],
        op: crate::ops::FloatOp::ArgMax(crate::ops::argmax::ArgMax { n }),
    });
    g.outputs = vec![g.n_tensors() - 1];
    g.output_names = vec!["argmax".into()];
}

/// Scale of every output value, in output order.
fn output_scales(model: &QuantModel) -> Vec<u32> {
    model
        .graph
        .outputs
        .iter()
        .flat_map(|&t| std::iter::repeat_n(model.scale(t), model.graph.len(t)))
        .collect()
}

fn calibration_report(
    float: &FloatGraph,
    model: &QuantModel,
    samples: &[Vec<Vec<f64>>],
) -> CalibrationReport {
    let mut report = CalibrationReport {
        samples: samples.len(),
        out_of_range: 0,
        max_abs_error: 0.0,
        argmax_agree: 0,
        max_abs_output: 0.0,
        out_of_range_samples: Vec::new(),
    };
    // a proven argmax: the output is a class index, compared exactly, not as a value
    let class_index = model.graph.outputs.first().is_some_and(|&t| {
        matches!(
            model.graph.producer(t).map(|n| &n.op),
            Some(crate::ops::QuantOp::ArgMax(_))
        )
    });
    let scales = output_scales(model);
    let first = model
        .graph
        .outputs
        .first()
        .map_or(0, |&t| model.graph.len(t));
    for (i, s) in samples.iter().enumerate() {
        let flat: Vec<f64> = s.concat();
        let trace = witness::quantize_input(model, &flat).and_then(|q| witness::run(model, q));
        let Ok(trace) = trace else {
            report.out_of_range += 1;
            report.out_of_range_samples.push(i);
            continue;
        };
        let fixed: Vec<f64> = trace
            .output()
            .iter()
            .zip(&scales)
            .map(|(&q, &s)| dequantize(q, s))
            .collect();
        let reference = forward(float, s);
        let skip = usize::from(class_index);
        for (a, b) in fixed.iter().zip(&reference).skip(skip) {
            report.max_abs_error = report.max_abs_error.max((a - b).abs());
            report.max_abs_output = report.max_abs_output.max(b.abs());
        }
        let agrees = if class_index {
            fixed.first() == reference.first()
        } else {
            artifact::argmax(&fixed[..first]) == artifact::argmax(&reference[..first])
        };
        if agrees {
            report.argmax_agree += 1;
        }
    }
    report
}

/// The settings summary of a compiled model.
pub fn settings_of(
    name: String,
    sha256: String,
    model: &QuantModel,
    plan: crate::plan::Plan,
) -> Settings {
    let g = &model.graph;
    let tensor = |t: usize, name: &str| TensorSettings {
        name: name.to_string(),
        shape: g.shape(t).to_vec(),
        scale: model.scale(t),
        class_index: matches!(
            g.producer(t).map(|n| &n.op),
            Some(crate::ops::QuantOp::ArgMax(_))
        ),
    };
    Settings {
        format: SETTINGS_FORMAT.to_string(),
        model_name: name,
        model_sha256: sha256,
        inputs: (0..g.inputs.len()).map(|t| tensor(t, g.name(t))).collect(),
        outputs: g
            .outputs
            .iter()
            .enumerate()
            .map(|(i, &t)| tensor(t, g.output_name(i)))
            .collect(),
        input_len: model.input_len(),
        output_len: model.output_len(),
        table_bits: model.table_bits,
        activation_bits: model.activation_bits(),
        output_bits: model.output_bits,
        visibility: Visibility {
            input: if plan.shape.hashed_input {
                "hashed"
            } else if plan.shape.private_input {
                "private"
            } else {
                "public"
            }
            .into(),
            weights: if plan.shape.private_weights {
                "private"
            } else {
                "fixed"
            }
            .into(),
            output: if plan.shape.hashed_output {
                "hashed"
            } else {
                "public"
            }
            .into(),
        },
        k: plan.k,
        shape: plan.shape,
        plan,
        nodes: g
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeSettings {
                name: n.name.clone(),
                op: n.op.imp().describe(),
                inputs: n.inputs.clone(),
                shape: n.shape.clone(),
                scale: model.scale(g.inputs.len() + i),
            })
            .collect(),
    }
}

/// Compiles `onnx_path` into the build folder `out_dir`.
pub fn compile(
    onnx_path: &Path,
    out_dir: &Path,
    opts: &CompileOptions,
) -> Result<CompileReport, PipelineError> {
    let source = artifact::read_bytes(onnx_path)?;
    let mut float = onnx::load_onnx(onnx_path)?;
    // a proven argmax's table size is judged on the values it picks from
    let logits = opts.prove_argmax.then(|| float.clone());
    if opts.prove_argmax {
        with_argmax(&mut float);
    }
    let lens: Vec<usize> = (0..float.inputs.len()).map(|t| float.len(t)).collect();
    let samples = opts
        .calibration
        .as_deref()
        .map(|p| read_samples(p, &lens))
        .transpose()?;
    let mut quant = opts.quant.clone();
    // a hashed output is range-checked in the circuit: it must fit the activation range
    quant.bound_outputs |= opts.privacy.hashed_output;
    let (model, plan, calibration, table_trials) = match samples.as_deref() {
        Some(s) if quant.lookup_bits.is_none() && quant.scale.is_none() => {
            choose_tables(&float, logits.as_ref(), s, &quant, opts)?
        }
        _ => {
            let model = quantize(&float, samples.as_deref(), &quant)?;
            let (plan, _) = plan::plan_and_cost_within(&model, opts.privacy, opts.max_proof_bytes)?;
            let calibration = samples
                .as_deref()
                .map(|s| calibration_report(&float, &model, s));
            (model, plan, calibration, Vec::new())
        }
    };
    // with private weights the source file's digest would be an unsalted hash of the weights
    let sha256 = if opts.privacy.weights {
        String::new()
    } else {
        artifact::sha256_hex(&source)
    };
    let settings = settings_of(model_name(onnx_path), sha256, &model, plan);
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
    artifact::write_atomic(&out_dir.join(files::ONNX), &source)?;
    Ok(CompileReport {
        settings,
        calibration,
        table_trials,
    })
}

type Choice = (
    QuantModel,
    plan::Plan,
    Option<CalibrationReport>,
    Vec<TableTrial>,
);

/// Chooses the table size: the cheapest plan among [`AUTO_TABLE_BITS`] whose fixed-point
/// model stays as accurate on the calibration data as [`AUTO_TOLERANCE`] asks, judged on
/// `logits` when given (the values a proven argmax picks from). A smaller table is taken only
/// when its plan is cheaper (a smaller `k`, or fewer columns): where the rows set `k` it would
/// only cost precision. The search stops at the first size refused for its accuracy (a smaller
/// one is less accurate still).
fn choose_tables(
    float: &FloatGraph,
    logits: Option<&FloatGraph>,
    samples: &[Vec<Vec<f64>>],
    quant: &QuantOptions,
    compile: &CompileOptions,
) -> Result<Choice, PipelineError> {
    let opts = |bits: u32| QuantOptions {
        lookup_bits: Some(bits),
        ..quant.clone()
    };
    let at = |bits: u32| -> Result<(QuantModel, plan::Plan, u64), PipelineError> {
        let model = quantize(float, Some(samples), &opts(bits))?;
        let (plan, cost) =
            plan::plan_and_cost_within(&model, compile.privacy, compile.max_proof_bytes)?;
        Ok((model, plan, cost))
    };
    // the report the tolerance is judged on
    let judged = |bits: u32, model: &QuantModel| -> Result<CalibrationReport, PipelineError> {
        Ok(match logits {
            Some(g) => calibration_report(g, &quantize(g, Some(samples), &opts(bits))?, samples),
            None => calibration_report(float, model, samples),
        })
    };
    // the default size must work: its error is what the user sees
    let default = AUTO_TABLE_BITS[0];
    let (model, plan, cost) = at(default)?;
    let reference = judged(default, &model)?;
    let mut trials = vec![TableTrial {
        bits: default,
        k: Some(plan.k),
        rejected: None,
    }];
    let mut best = (model, plan, cost);
    // no evidence a smaller table keeps the outputs; or the rows, not the tables, set k
    // (smaller tables leave the rows as they are: 2 s saved on a 10 M-parameter model)
    let worth = reference.out_of_range < reference.samples && best.1.k <= default + 1;
    for &bits in &AUTO_TABLE_BITS[1..] {
        if !worth {
            break;
        }
        let (model, plan, cost) = match at(bits) {
            Ok(c) => c,
            Err(e) => {
                trials.push(TableTrial {
                    bits,
                    k: None,
                    rejected: Some(e.to_string()),
                });
                continue;
            }
        };
        let k = Some(plan.k);
        if cost >= best.2 {
            trials.push(TableTrial {
                bits,
                k,
                rejected: Some("no cheaper".into()),
            });
            continue;
        }
        let report = judged(bits, &model)?;
        let tolerance = (AUTO_TOLERANCE * reference.max_abs_output).max(reference.max_abs_error);
        let lost = report
            .out_of_range_samples
            .iter()
            .filter(|i| !reference.out_of_range_samples.contains(i))
            .count();
        let rejected = if lost > 0 {
            Some(format!(
                "{lost} calibration samples in range at {default} bits are out of range"
            ))
        } else if report.argmax_agree < reference.argmax_agree {
            Some(format!(
                "argmax agrees on {} samples, not {}",
                report.argmax_agree, reference.argmax_agree
            ))
        } else if report.max_abs_error > tolerance {
            Some(format!(
                "max |float - fixed| {:.4} over the tolerance {:.4}",
                report.max_abs_error, tolerance
            ))
        } else {
            None
        };
        trials.push(TableTrial {
            bits,
            k,
            rejected: rejected.clone(),
        });
        if rejected.is_some() {
            break;
        }
        best = (model, plan, cost);
    }
    let (model, plan, _) = best;
    let report = calibration_report(float, &model, samples);
    Ok((model, plan, Some(report), trials))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{chain, dense};

    #[test]
    fn a_proven_argmax_is_compared_as_a_class_index() {
        // two logits 1e-9 apart: the float argmax is 1, the fixed-point values tie (index 0)
        let logits = chain(
            &[1],
            vec![(
                vec![],
                vec![2],
                dense(&[vec![1.0], vec![1.0]], &[0.0, 1e-9], false),
            )],
        );
        let mut float = logits.clone();
        with_argmax(&mut float);
        let samples = vec![vec![vec![0.5]], vec![vec![-0.25]]];
        let q = QuantOptions::default();
        let model = quantize(&float, Some(&samples), &q).expect("quantize");
        let report = calibration_report(&float, &model, &samples);
        assert_eq!(report.out_of_range, 0);
        assert_eq!(report.argmax_agree, 0, "{report:?}");
        // the index is not a value: no error or magnitude from it
        assert_eq!(report.max_abs_error, 0.0);
        // the values themselves agree to the last bit of the scale
        let model = quantize(&logits, Some(&samples), &q).expect("quantize");
        let values = calibration_report(&logits, &model, &samples);
        assert!(values.max_abs_error < 1e-4, "{values:?}");
        assert_eq!(values.argmax_agree, 0);
    }
}
