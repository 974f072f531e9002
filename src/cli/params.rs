//! `zkinfer params gen --k K [-o FILE]`

use anyhow::{Context, Result};
use clap::Subcommand;
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
    /// Print an SRS file's size and id (what `verify --trusted-srs` compares against).
    Id {
        /// An SRS file in halo2's KZG raw-bytes format.
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
        ParamsCommand::Id { file } => {
            let bytes = zkinfer::artifact::read_bytes(&file)?;
            let srs = zkinfer::keys::srs_from_bytes(&bytes, &file.display().to_string())?;
            let v = zkinfer::keys::VerifierSrs::from_srs(&srs);
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
