//! `zkinfer keys gen -o KEY.pem`, `zkinfer keys rotate --old OLD.pem --new NEW.pem -o FILE`,
//! `zkinfer sign DIR --key KEY.pem`: the model owner's signing key and signed commitments
//! (`zkinfer::signing`).

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::artifact::{self, Commitment, COMMITMENT_FORMAT};
use zkinfer::signing;

/// Arguments of `keys`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make an Ed25519 signing key: the private key (PKCS#8 PEM, written 0600, never over an
    /// existing file) and its public key (SPKI PEM) for recipients (`verify --signer`).
    Gen {
        /// Private key file.
        #[arg(short, long)]
        output: PathBuf,
        /// Public key file (default: the private key's path with `.pub.pem`).
        #[arg(long = "pub")]
        public: Option<PathBuf>,
    },
    /// Write a statement, signed by both keys, that NEW supersedes OLD: recipients who trust
    /// OLD and are given it (`verify --rotation`) accept commitments signed by NEW.
    Rotate {
        /// The old private key.
        #[arg(long)]
        old: PathBuf,
        /// The new private key.
        #[arg(long)]
        new: PathBuf,
        /// The statement (JSON).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// Runs `keys`.
pub fn exec(args: Args) -> Result<ExitCode> {
    match args.command {
        KeysCommand::Gen { output, public } => {
            let public = public.unwrap_or_else(|| output.with_extension("pub.pem"));
            let key = signing::generate(&output, &public)?;
            println!(
                "signing key -> {} (keep it secret); public key {} -> {}",
                output.display(),
                signing::key_hex(&key),
                public.display()
            );
        }
        KeysCommand::Rotate { old, new, output } => {
            let (o, n) = (
                signing::read_signing_key(&old)?,
                signing::read_signing_key(&new)?,
            );
            let r = signing::rotate(&o, &n);
            artifact::write_json(&output, &r)?;
            println!("{} supersedes {} -> {}", r.new, r.old, output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// Build folder holding commitment.json.
    pub dir: PathBuf,
    /// The private key (from `zkinfer keys gen`).
    #[arg(long)]
    pub key: PathBuf,
    /// Signature file (default: DIR/commitment.sig.json).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Runs `sign`: a detached signature over the commitment's digest.
pub fn exec_sign(args: SignArgs) -> Result<ExitCode> {
    let path = args.dir.join("commitment.json");
    let c: Commitment = artifact::read_json(&path, COMMITMENT_FORMAT)?;
    // sign only a commitment whose digest is its contents'
    if c.body.digest() != c.digest {
        anyhow::bail!(
            "{}: the digest does not match the contents (altered?); refusing to sign",
            path.display()
        );
    }
    let key = signing::read_signing_key(&args.key)?;
    let sig = signing::sign_commitment(&key, &c.digest);
    let out = args
        .output
        .unwrap_or_else(|| args.dir.join("commitment.sig.json"));
    artifact::write_json(&out, &sig)?;
    println!(
        "signed commitment {} with {} -> {}",
        c.digest,
        sig.signer,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
