//! `zkinfer hash-input DIR --input FILE --salt HEX`, `zkinfer hash-output DIR --file FILE`

use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `hash-input`.
#[derive(clap::Args)]
pub struct Args {
    /// Build folder (compiled with `--input hashed`).
    pub dir: PathBuf,
    /// Input (EZKL format: {"input_data": [[...]]}).
    #[arg(short, long)]
    pub input: PathBuf,
    /// The salt `prove` used (64 hex digits, as it printed and wrote next to the proof).
    #[arg(long)]
    pub salt: String,
}

/// Runs `hash-input`: prints the hash (64 hex digits, as in proof.json's instances).
pub fn exec(args: Args) -> Result<ExitCode> {
    let salt = zkinfer::hash::from_hex(&args.salt)
        .ok_or_else(|| anyhow!("--salt: not a field element (64 hex digits)"))?;
    let h = zkinfer::hash::hash_input_file(&args.dir, &args.input, salt)?;
    println!("{}", zkinfer::hash::to_hex(&h));
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `hash-output`.
#[derive(clap::Args)]
pub struct OutputArgs {
    /// Build folder (compiled with `--output-visibility hashed`).
    pub dir: PathBuf,
    /// The private output file `prove` wrote (`<proof>.output.json`: salt and values).
    #[arg(long)]
    pub file: PathBuf,
}

/// Runs `hash-output`: prints the hash (64 hex digits, as in proof.json's instances).
pub fn exec_output(args: OutputArgs) -> Result<ExitCode> {
    let h = zkinfer::hash::hash_output_file(&args.dir, &args.file)?;
    println!("{}", zkinfer::hash::to_hex(&h));
    Ok(ExitCode::SUCCESS)
}
