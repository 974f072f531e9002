//! `zkinfer accuracy DIR --data SAMPLES.json [--labels LABELS.json] [--json]`

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::pipeline::{accuracy, AccuracyReport};

/// Arguments of `accuracy`.
#[derive(clap::Args)]
pub struct Args {
    /// Build folder after `zkinfer compile`.
    pub dir: PathBuf,
    /// Samples (EZKL input format; several samples concatenated, or one list per input).
    #[arg(long)]
    pub data: PathBuf,
    /// Labels: a JSON list of class indices, or {"labels": [...]}; may also be a "labels" list
    /// in the data file.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Print the report as JSON (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// Runs `accuracy`.
pub fn exec(args: Args) -> Result<ExitCode> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} samples [{elapsed}]")
        {
            bar.set_style(style);
        }
        bar
    });
    let report = accuracy(&args.dir, &args.data, args.labels.as_deref(), |i, n| {
        if let Some(b) = &bar {
            b.set_length(n as u64);
            b.set_position(i as u64 + 1);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &AccuracyReport) {
    let in_range = r.samples - r.out_of_range;
    println!(
        "argmax agreement (fixed point vs float): {}/{} ({:.1} %)",
        r.argmax_agree, in_range, r.argmax_agree_pct
    );
    let max = r.max_abs_error.iter().copied().fold(0f64, f64::max);
    let mean = r.mean_abs_error.iter().sum::<f64>() / r.mean_abs_error.len().max(1) as f64;
    println!("|float - fixed| over all outputs: max {max:.6}, mean {mean:.6}");
    let per: Vec<String> = r
        .max_abs_error
        .iter()
        .zip(&r.mean_abs_error)
        .map(|(m, a)| format!("{m:.4}/{a:.4}"))
        .collect();
    println!("per output (max/mean): {}", per.join(" "));
    if let (Some(f), Some(q)) = (r.float_label_accuracy_pct, r.fixed_label_accuracy_pct) {
        println!("label accuracy: float {f:.1} %, fixed point {q:.1} %");
    }
    if r.out_of_range > 0 {
        println!(
            "{} of {} samples are outside the compiled range (recompile with calibration data that covers them); first: {}",
            r.out_of_range,
            r.samples,
            r.first_out_of_range.as_deref().unwrap_or("")
        );
    }
}
