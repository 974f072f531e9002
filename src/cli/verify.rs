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
    /// Accept only a commitment signed by this key (SPKI PEM, from `zkinfer keys gen`), or by
    /// a key it rotated to (--rotation).
    #[arg(long, value_name = "PUB.pem")]
    pub signer: Option<PathBuf>,
    /// The commitment's signature file (default: commitment.sig.json beside the commitment).
    #[arg(long, value_name = "FILE", requires = "signer")]
    pub signature: Option<PathBuf>,
    /// A key rotation statement (`zkinfer keys rotate`); may be repeated to follow a chain.
    #[arg(long, value_name = "FILE", requires = "signer")]
    pub rotation: Vec<PathBuf>,
    /// A revocation list (JSON: {"format": "zkinfer/revocations/v1", "keys": [hex…],
    /// "commitments": [hex…]}): listed commitments and signing keys are rejected.
    #[arg(long, value_name = "FILE")]
    pub revoked: Option<PathBuf>,
}

/// The signature check `--signer`, `--rotation` and `--revoked` ask for; `Ok(None)` when
/// none is asked, `Err` on an unreadable file (exit 2), `Ok(Some(Err(why)))` on a rejection.
fn signature_check(args: &Args, digest: &str) -> Result<Option<Result<String, String>>> {
    use zkinfer::signing::{self, Revocations, Rotation, SignatureFile};
    let revoked: Revocations = match &args.revoked {
        Some(p) => zkinfer::artifact::read_json(p, signing::REVOCATION_FORMAT)?,
        None => Revocations::default(),
    };
    let Some(signer) = &args.signer else {
        let r = revoked.commitments.iter().any(|c| hex_arg(c) == digest);
        return Ok(r.then(|| Err(format!("commitment {digest} is revoked"))));
    };
    let trusted = signing::read_public_key(signer)?;
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| args.commitment.with_file_name("commitment.sig.json"));
    let sig: SignatureFile = zkinfer::artifact::read_json(&sig_path, signing::SIGNATURE_FORMAT)?;
    let rotations = args
        .rotation
        .iter()
        .map(|p| zkinfer::artifact::read_json::<Rotation>(p, signing::ROTATION_FORMAT))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(signing::check(
        &sig, digest, &trusted, &rotations, &revoked,
    )))
}

/// Runs `verify`: exit 0 accepted, 1 rejected, 2 unreadable or malformed file.
pub fn exec(args: Args) -> Result<ExitCode> {
    let verified = zkinfer::pipeline::verify(&args.commitment, &args.vk, &args.proof);
    let signed = match &verified {
        Ok(v) => signature_check(&args, &v.digest)?,
        Err(_) => None,
    };
    if let Some(Err(why)) = &signed {
        println!("proof REJECTED: {why}");
        return Ok(ExitCode::from(1));
    }
    match verified {
        Ok(v)
            if !args.trusted_srs.is_empty()
                && !args
                    .trusted_srs
                    .iter()
                    .any(|t| hex_arg(t) == v.srs_id.to_lowercase()) =>
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
            if let Some(Ok(signer)) = &signed {
                println!("commitment signed by {signer}");
            }
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
            if args.expect_digest.is_none() && args.signer.is_none() {
                eprintln!("note: the commitment was not pinned: anyone can edit commitment.json and recompute its digest; pass --expect-digest HEX (the digest the model owner published) or --signer PUB.pem");
            }
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

/// A hex value as given on the command line: trimmed, one `0x`/`0X` prefix dropped,
/// lowercase.
fn hex_arg(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    s.to_lowercase()
}

/// Whether a pinned value (`--input-hash`, `--output-hash`, `--expect-digest`) differs from
/// the proof's.
fn differs(want: &Option<String>, got: &Option<String>) -> bool {
    want.as_ref()
        .is_some_and(|w| got.as_deref() != Some(hex_arg(w).as_str()))
}
