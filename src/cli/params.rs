//! `zkinfer params gen --k K [-o FILE]`, `params import FILE.ptau [--k K] [-o FILE]`, `params id FILE`

use anyhow::{Context, Result};
use clap::Subcommand;
use halo2_proofs::poly::commitment::Params;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `params`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ParamsCommand,
}

#[derive(Subcommand)]
enum ParamsCommand {
    /// Write the deterministic development SRS of size 2^k. INSECURE: its secret is public.
    Gen {
        /// log2 of the SRS size.
        #[arg(long)]
        k: u32,
        /// Output file.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Import a BN254 powers-of-tau file (snarkjs / Hermez `.ptau`, e.g. a Perpetual Powers of
    /// Tau or Hermez ceremony file) as the SRS of size 2^k, checking its points.
    Import {
        /// The `.ptau` file.
        file: PathBuf,
        /// log2 of the SRS size (at most the file's power; default: the file's power).
        #[arg(long)]
        k: Option<u32>,
        /// Output file (default: params/kzg_bn254_{k}.srs).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print an SRS file's size and id (what `verify --trusted-srs` compares against).
    Id {
        /// An SRS file: halo2's KZG raw-bytes format, or a `.ptau` file (same id as its import).
        file: PathBuf,
    },
}

/// Runs `params`.
pub fn exec(args: Args) -> Result<ExitCode> {
    match args.command {
        ParamsCommand::Gen { k, output } => {
            let path =
                output.unwrap_or_else(|| PathBuf::from(format!("params/dev_kzg_bn254_{k}.srs")));
            let srs = zkinfer::keys::dev_srs(k)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            zkinfer::artifact::write_atomic(&path, &zkinfer::keys::srs_to_bytes(&srs))?;
            println!("wrote development SRS k = {k} -> {}", path.display());
            eprintln!("warning: this SRS is INSECURE (its toxic waste is derived from a public seed): for development and tests only; see params/README.md for production SRS files");
            Ok(ExitCode::SUCCESS)
        }
        ParamsCommand::Import { file, k, output } => {
            let srs = zkinfer::ptau::read_srs_file(&file, k)?;
            let k = srs.k();
            let path = output.unwrap_or_else(|| PathBuf::from(format!("params/kzg_bn254_{k}.srs")));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            zkinfer::artifact::write_atomic(&path, &zkinfer::keys::srs_to_bytes(&srs))?;
            let v = zkinfer::keys::VerifierSrs::from_srs(&srs);
            println!(
                "imported {} -> {} (k = {k}, srs id {})",
                file.display(),
                path.display(),
                v.id()
            );
            Ok(ExitCode::SUCCESS)
        }
        ParamsCommand::Id { file } => {
            let v = if zkinfer::ptau::is_ptau_file(&file) {
                let (v, info) = zkinfer::ptau::read_verifier_srs_file(&file)?;
                println!(
                    ".ptau power {} (ceremony power {}): gives k ≤ {}",
                    info.power,
                    info.ceremony_power,
                    info.max_k()
                );
                v
            } else {
                let bytes = zkinfer::artifact::read_bytes(&file)?;
                let srs = zkinfer::keys::srs_from_bytes(&bytes, &file.display().to_string())?;
                zkinfer::keys::VerifierSrs::from_srs(&srs)
            };
            println!(
                "k = {}, srs id {}{}",
                v.k,
                v.id(),
                if v.is_dev() {
                    " (insecure development SRS)"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
