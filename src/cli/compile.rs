//! `zkinfer compile MODEL.onnx -o DIR [--calibration FILE] [--scale N] [--lookup-bits B]`

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::pipeline::{compile, CompileOptions, CompileReport};
use zkinfer::quantize::QuantOptions;

/// Arguments of `compile`.
#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    pub model: PathBuf,
    /// Build folder to write (model.json, settings.json).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Calibration inputs (EZKL format, any number of samples): scales are chosen from the data.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Fixed-point scale (bits after the point) for every activation, instead of choosing per tensor.
    #[arg(long)]
    pub scale: Option<u32>,
    /// Bits of the activation lookup tables (k ≥ bits + 1; activations get twice as many
    /// signed bits). Omitted with --calibration (and no --scale): the cheapest of 11, 10, 9,
    /// 8 whose calibration outputs stay within 2^-14 of their largest magnitude (or no worse
    /// than at 11 bits), no argmax changed and no sample out of range (the search stops at
    /// the first size refused); otherwise 11.
    #[arg(long)]
    pub lookup_bits: Option<u32>,
    /// Prove the predicted class: the public output is the index of the first output's
    /// maximum (ties: the first index, as ONNX ArgMax), not the values.
    #[arg(long)]
    pub prove_argmax: bool,
    /// Weights: `fixed` (constants the verifying key commits to) or `private` (witness values
    /// bound by a salted weight commitment; the verifying key depends only on the architecture).
    #[arg(long, value_enum, default_value = "fixed")]
    pub weights: WeightsMode,
    /// Input: `public` (in the proof), `private` (a witness; the proof shows only that some
    /// input in the compiled range gives the output) or `hashed` (private, and the proof
    /// exposes its salted Poseidon hash, which `zkinfer hash-input` recomputes).
    #[arg(long, value_enum, default_value = "public")]
    pub input: InputMode,
    /// Output: `public` (in the proof) or `hashed` (range-checked in the circuit; the proof
    /// exposes only its salted Poseidon hash, `prove` writes the values and salt to a private
    /// file for whoever should see them).
    #[arg(long, value_enum, default_value = "public")]
    pub output_visibility: OutputMode,
    /// Take the cheapest layout whose proof is estimated at most this many bytes (the
    /// estimate is within 15 % of real proofs), even at a larger k, instead of the fastest to
    /// prove (for on-chain verification, where calldata and openings cost gas). Exit 2 when
    /// no layout fits.
    #[arg(long, value_name = "BYTES")]
    pub max_proof_bytes: Option<u64>,
}

/// `--output-visibility`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    /// In the proof's public instance.
    Public,
    /// A witness whose salted hash is public.
    Hashed,
}

/// `--weights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightsMode {
    /// Constants in the verifying key.
    Fixed,
    /// Private, bound by a weight commitment.
    Private,
}

/// `--input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputMode {
    /// In the proof's public instance.
    Public,
    /// A witness only.
    Private,
    /// A witness whose salted hash is public.
    Hashed,
}

/// Runs `compile`.
pub fn exec(args: Args) -> Result<ExitCode> {
    let opts = CompileOptions {
        calibration: args.calibration,
        quant: QuantOptions {
            scale: args.scale,
            lookup_bits: args.lookup_bits,
            bound_outputs: args.output_visibility == OutputMode::Hashed,
        },
        prove_argmax: args.prove_argmax,
        privacy: zkinfer::plan::Privacy {
            weights: args.weights == WeightsMode::Private,
            input: args.input != InputMode::Public,
            hashed_input: args.input == InputMode::Hashed,
            hashed_output: args.output_visibility == OutputMode::Hashed,
        },
        max_proof_bytes: args.max_proof_bytes,
    };
    let report = compile(&args.model, &args.output, &opts)?;
    print_report(&report, &args.output);
    Ok(ExitCode::SUCCESS)
}

/// Prints what compile did.
pub fn print_report(report: &CompileReport, dir: &std::path::Path) {
    let s = &report.settings;
    let shapes = |ts: &[zkinfer::artifact::TensorSettings]| {
        ts.iter()
            .map(|t| format!("{:?}@{}", t.shape, t.scale))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "compiled {}: {} -> {} ({} nodes), k = {}, {} lanes, {}-bit tables -> {}",
        s.model_name,
        shapes(&s.inputs),
        shapes(&s.outputs),
        s.nodes.len(),
        s.k,
        s.shape.lanes,
        s.table_bits,
        dir.display()
    );
    if report.table_trials.len() > 1 {
        let tried: Vec<String> = report
            .table_trials
            .iter()
            .map(|t| {
                let k = t.k.map_or(String::new(), |k| format!(" (k = {k})"));
                match &t.rejected {
                    Some(why) => format!("{} bits{k}: {why}", t.bits),
                    None if t.bits == s.table_bits => format!("{} bits{k}: chosen", t.bits),
                    None => format!("{} bits{k}: within tolerance, not the cheapest", t.bits),
                }
            })
            .collect();
        println!("table sizes tried: {}", tried.join("; "));
    }
    match &report.calibration {
        Some(c) => println!(
            "calibration ({} samples): max |float - fixed| on outputs = {:.4}, argmax agrees on {}/{}{}",
            c.samples,
            c.max_abs_error,
            c.argmax_agree,
            c.samples - c.out_of_range,
            if c.out_of_range > 0 { format!(", {} samples out of the compiled range", c.out_of_range) } else { String::new() }
        ),
        None => println!("no calibration data: quantization error not measured (pass --calibration FILE)"),
    }
}
