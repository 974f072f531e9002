//! `zkinfer setup DIR (--srs FILE | --insecure-dev-srs)`

use super::{secs, Spinner};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `setup`.
#[derive(clap::Args)]
pub struct Args {
    /// Build folder from `zkinfer compile`.
    pub dir: PathBuf,
    /// SRS file from a trusted-setup ceremony, k ≥ the circuit's: halo2's KZG raw format, or a
    /// snarkjs/Hermez `.ptau` file (imported on the fly, as `params import` does).
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// Allow zkinfer's INSECURE development SRS (generated when --srs is not given, or an
    /// SRS file that is it): anyone can forge proofs for such keys; for tests and demos.
    #[arg(long)]
    pub insecure_dev_srs: bool,
}

/// Runs `setup`.
pub fn exec(args: Args) -> Result<ExitCode> {
    let spinner = Spinner::start("setup");
    let report = zkinfer::pipeline::setup_with(
        &args.dir,
        args.srs.as_deref(),
        args.insecure_dev_srs,
        &spinner,
    )?;
    drop(spinner);
    print_report(&report, &args.dir);
    Ok(ExitCode::SUCCESS)
}

/// Prints what setup did.
pub fn print_report(report: &zkinfer::pipeline::SetupReport, dir: &std::path::Path) {
    let c = &report.commitment;
    println!(
        "setup {}: keys in {} (k = {}), pk {} KiB, vk {} bytes; commitment {} -> {}",
        c.body.model_name,
        secs(report.keygen_time),
        c.body.settings.k,
        report.pk_bytes / 1024,
        report.vk_bytes,
        c.digest,
        dir.join("commitment.json").display()
    );
    if c.body.srs.insecure_dev {
        eprintln!("warning: keys use zkinfer's INSECURE development SRS (anyone can forge proofs); pass --srs with a trusted-setup file for production (see params/README.md)");
    }
}
