//! `zkinfer verify --commitment FILE --vk FILE --proof FILE`

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::pipeline::VerifyError;

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The published model commitment (commitment.json).
    #[arg(long)]
    pub commitment: PathBuf,
    /// The verifying key (vk.bin).
    #[arg(long)]
    pub vk: PathBuf,
    /// The proof (proof.json).
    #[arg(long)]
    pub proof: PathBuf,
    /// Accept only keys made with this SRS (its id, as printed by `zkinfer params id FILE`);
    /// may be repeated. Without it any SRS is accepted and its id is printed.
    #[arg(long = "trusted-srs", value_name = "SRS_ID")]
    pub trusted_srs: Vec<String>,
    /// Accept only a hashed-input proof about this input hash (64 hex digits, as `zkinfer
    /// hash-input` prints it).
    #[arg(long = "input-hash", value_name = "HEX")]
    pub input_hash: Option<String>,
    /// Accept only a hashed-output proof about this output hash (64 hex digits, as `zkinfer
    /// hash-output` prints it).
    #[arg(long = "output-hash", value_name = "HEX")]
    pub output_hash: Option<String>,
    /// Accept only this model commitment (its digest, 64 hex digits, as `setup` and `verify`
    /// print it): the digest inside commitment.json can be recomputed by anyone who edits
    /// the file, so a recipient pins the one the model owner published.
    #[arg(long = "expect-digest", value_name = "HEX")]
    pub expect_digest: Option<String>,
}

/// Runs `verify`: exit 0 accepted, 1 rejected, 2 unreadable or malformed file.
pub fn exec(args: Args) -> Result<ExitCode> {
    match zkinfer::pipeline::verify(&args.commitment, &args.vk, &args.proof) {
        Ok(v)
            if !args.trusted_srs.is_empty()
                && !args
                    .trusted_srs
                    .iter()
                    .any(|t| t.trim().eq_ignore_ascii_case(&v.srs_id)) =>
        {
            println!(
                "proof REJECTED: the keys were made with SRS {}, not a trusted one (--trusted-srs)",
                v.srs_id
            );
            Ok(ExitCode::from(1))
        }
        Ok(v) if differs(&args.expect_digest, &Some(v.digest.clone())) => {
            println!(
                "proof REJECTED: the commitment is {}, not the one expected (--expect-digest)",
                v.digest
            );
            Ok(ExitCode::from(1))
        }
        Ok(v) if differs(&args.input_hash, &v.input_hash) => {
            println!(
                "proof REJECTED: the proof is about input hash {}, not the one given (--input-hash)",
                v.input_hash.as_deref().unwrap_or("(none: the input is not hashed)")
            );
            Ok(ExitCode::from(1))
        }
        Ok(v) if differs(&args.output_hash, &v.output_hash) => {
            println!(
                "proof REJECTED: the proof is about output hash {}, not the one given (--output-hash)",
                v.output_hash.as_deref().unwrap_or("(none: the output is not hashed)")
            );
            Ok(ExitCode::from(1))
        }
        Ok(v) => {
            println!(
                "proof accepted for {} (commitment {}) in {:.1} ms",
                v.model_name,
                v.digest,
                v.verify_time.as_secs_f64() * 1e3
            );
            let vis = &v.visibility;
            let input = match &v.input_hash {
                Some(h) => format!("hashed {h}"),
                None => vis.input.clone(),
            };
            let output = match &v.output_hash {
                Some(h) => format!("hashed {h}"),
                None => vis.output.clone(),
            };
            println!(
                "model commitment ok · weights {} · input {input} · output {output}",
                vis.weights
            );
            super::print_outputs(&v.outputs);
            println!(
                "srs: {}{}",
                v.srs_id,
                if v.insecure_dev_srs {
                    " (insecure development SRS)"
                } else {
                    ""
                }
            );
            if args.trusted_srs.is_empty() && !v.insecure_dev_srs {
                eprintln!("note: the SRS was not checked against one you trust: a proof is only as sound as its SRS; pass --trusted-srs ID (see params/README.md)");
            }
            if v.insecure_dev_srs {
                eprintln!("warning: this commitment uses zkinfer's INSECURE development SRS: the proof is only meaningful for testing");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::Rejected(reason)) => {
            println!("proof REJECTED: {reason}");
            Ok(ExitCode::from(1))
        }
        Err(e @ VerifyError::BadFile(_)) => Err(e.into()),
    }
}

/// Whether a pinned hash (`--input-hash`, `--output-hash`) differs from the proof's.
fn differs(want: &Option<String>, got: &Option<String>) -> bool {
    want.as_ref().is_some_and(|w| {
        got.as_deref() != Some(w.trim().trim_start_matches("0x").to_lowercase().as_str())
    })
}
