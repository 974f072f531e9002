//! `zkinfer demo [--model NAME]`: compile + setup + prove + verify a bundled model.

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::pipeline::{self, CompileOptions};

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Bundled model under the models folder.
    #[arg(long, default_value = "mlp_digits")]
    pub model: String,
    /// Folder holding the bundled models.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/models"))]
    pub models_dir: PathBuf,
    /// Where the build folder and proof go.
    #[arg(short, long, default_value = "target/zkinfer-demo")]
    pub output: PathBuf,
}

/// Runs the demo.
pub fn exec(args: Args) -> Result<ExitCode> {
    let src = args.models_dir.join(&args.model);
    if !src.join("network.onnx").is_file() {
        bail!(
            "no bundled model `{}` in {} (expected network.onnx there)",
            args.model,
            src.display()
        );
    }
    let dir = args.output.join(&args.model);
    let opts = CompileOptions {
        calibration: Some(src.join("calibration.json")),
        ..Default::default()
    };
    let compiled = pipeline::compile(&src.join("network.onnx"), &dir, &opts)?;
    super::compile::print_report(&compiled, &dir);
    let spinner = super::Spinner::start("setup");
    let setup = pipeline::setup(&dir, None, &spinner)?;
    drop(spinner);
    super::setup::print_report(&setup, &dir);
    let proof_path = dir.join("proof.json");
    let spinner = super::Spinner::start("prove");
    let proved = pipeline::prove(&dir, &src.join("input.json"), &proof_path, &spinner)?;
    drop(spinner);
    super::prove::print_report(&proved, &proof_path);
    match pipeline::verify(
        &dir.join("commitment.json"),
        &dir.join("vk.bin"),
        &proof_path,
    ) {
        Ok(v) => {
            println!(
                "verified in {:.1} ms: the output came from the committed model",
                v.verify_time.as_secs_f64() * 1e3
            );
            if let Some(expected) = expected_argmax(&src) {
                println!("float model's prediction (expected.json): {expected}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail!("the demo's own proof did not verify: {e}"),
    }
}

fn expected_argmax(src: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(src.join("expected.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()?
        .get("argmax")?
        .as_u64()
}
