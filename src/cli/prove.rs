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
    /// Salt of a hashed input (64 hex digits); a fresh one by default, written to
    /// `<output>.salt`.
    #[arg(long)]
    pub input_salt: Option<String>,
    /// Salt of a hashed output (64 hex digits); a fresh one by default. The salt and the output
    /// values go to `<output>.output.json`, a private file for whoever should see the output.
    #[arg(long)]
    pub output_salt: Option<String>,
    /// Prove with the Keccak transcript an EVM verifier (`zkinfer evm`) accepts, and write the
    /// calldata beside the proof (`<output>.calldata`, hex). `zkinfer verify` checks both kinds.
    #[arg(long)]
    pub evm: bool,
}

/// Runs `prove`.
pub fn exec(args: Args) -> Result<ExitCode> {
    let salt = |flag: &str, v: &Option<String>| -> Result<Option<_>> {
        v.as_ref()
            .map(|h| {
                zkinfer::hash::from_hex(h)
                    .ok_or_else(|| anyhow::anyhow!("--{flag}: not a field element (64 hex digits)"))
            })
            .transpose()
    };
    let opts = zkinfer::pipeline::ProveOptions {
        input_salt: salt("input-salt", &args.input_salt)?,
        output_salt: salt("output-salt", &args.output_salt)?,
        evm: args.evm,
    };
    let spinner = Spinner::start("prove");
    let report =
        zkinfer::pipeline::prove_with(&args.dir, &args.input, &args.output, &spinner, &opts)?;
    drop(spinner);
    print_report(&report, &args.output);
    let mut calldata_path = args.output.clone().into_os_string();
    calldata_path.push(".calldata");
    if !args.evm {
        // a calldata file of an earlier EVM proof would no longer match this proof
        let _ = std::fs::remove_file(PathBuf::from(calldata_path));
    }
    if args.evm {
        let mut path = args.output.clone().into_os_string();
        path.push(".calldata");
        let path = PathBuf::from(path);
        let instance = report
            .proof
            .instances
            .iter()
            .map(|h| zkinfer::hash::from_hex(h))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow::anyhow!("internal error: unreadable instance"))?;
        let proof = hex::decode(&report.proof.proof)?;
        let calldata = zkinfer::evm::calldata(&instance, &proof);
        zkinfer::artifact::write_atomic(&path, format!("{}\n", hex::encode(&calldata)).as_bytes())?;
        println!(
            "EVM calldata ({} bytes) -> {}",
            calldata.len(),
            path.display()
        );
    }
    if let Some(salt) = &report.input_salt {
        let mut path = args.output.clone().into_os_string();
        path.push(".salt");
        let path = PathBuf::from(path);
        if args.input_salt.is_none() {
            zkinfer::artifact::write_atomic(
                &path,
                format!("{}\n", zkinfer::hash::to_hex(salt)).as_bytes(),
            )?;
            println!(
                "input salt -> {} (keep it private: with it, the input's owner can show which input the proof was about)",
                path.display()
            );
        }
    }
    if let Some((salt, outputs)) = &report.hashed_output {
        let mut path = args.output.clone().into_os_string();
        path.push(".output.json");
        let path = PathBuf::from(path);
        let file = zkinfer::hash::HashedOutputFile {
            format: zkinfer::hash::HASHED_OUTPUT_FORMAT.to_string(),
            salt: zkinfer::hash::to_hex(salt),
            outputs: outputs.clone(),
        };
        zkinfer::artifact::write_json(&path, &file)?;
        println!(
            "output salt and values -> {} (private: the proof shows only their hash)",
            path.display()
        );
    }
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
