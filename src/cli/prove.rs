//! `zkinfer prove DIR --input FILE -o proof.json`

use super::{secs, Spinner};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `prove`.
#[derive(clap::Args)]
pub struct Args {
    /// Build folder after `zkinfer setup`.
    pub dir: PathBuf,
    /// Input (EZKL format: {"input_data": [[...]]}).
    #[arg(short, long)]
    pub input: PathBuf,
    /// Proof file to write.
    #[arg(short, long, default_value = "proof.json")]
    pub output: PathBuf,
}

/// Runs `prove`.
pub fn exec(args: Args) -> Result<ExitCode> {
    let spinner = Spinner::start("prove");
    let report = zkinfer::pipeline::prove(&args.dir, &args.input, &args.output, &spinner)?;
    drop(spinner);
    print_report(&report, &args.output);
    Ok(ExitCode::SUCCESS)
}

/// Prints what prove did.
pub fn print_report(report: &zkinfer::pipeline::ProveReport, out: &std::path::Path) {
    super::print_outputs(&report.proof.outputs);
    println!(
        "proved {} in {} (k = {}), proof {} bytes -> {}",
        report.proof.model_name,
        secs(report.prove_time),
        report.k,
        report.proof.proof.len() / 2,
        out.display()
    );
}
