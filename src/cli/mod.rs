//! Command-line interface: one file per subcommand (parse → validated options → one library
//! call). Exit codes: 0 success / proof accepted, 1 proof rejected, 2 bad usage or bad input.

mod accuracy;
mod compile;
mod demo;
mod evm;
mod hash_input;
mod inspect;
mod keys;
mod params;
mod prove;
mod setup;
mod verify;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// Prove machine-learning inference in zero knowledge (halo2, KZG on BN254).
#[derive(Parser)]
#[command(name = "zkinfer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile an ONNX model into a fixed-point circuit (build folder).
    Compile(compile::Args),
    /// Generate proving/verifying keys and the model commitment.
    Setup(setup::Args),
    /// Run the model on an input and prove the output.
    Prove(prove::Args),
    /// Check a proof against a published model commitment.
    Verify(verify::Args),
    /// Compile, set up, prove and verify a bundled model.
    Demo(demo::Args),
    /// Compare the fixed-point model with the float model on many samples.
    Accuracy(accuracy::Args),
    /// The salted hash a hashed-input proof exposes, computed from the input file.
    HashInput(hash_input::Args),
    /// The salted hash a hashed-output proof exposes, computed from its private output file.
    HashOutput(hash_input::OutputArgs),
    /// Structured reference strings (SRS).
    Params(params::Args),
    /// Show the circuit layout the plan chose, per layer, with cost estimates.
    Inspect(inspect::Args),
    /// The model owner's signing keys (Ed25519): make one, rotate to a new one.
    Keys(keys::Args),
    /// Sign a build folder's commitment (a detached signature recipients check with
    /// `verify --signer`).
    Sign(keys::SignArgs),
    /// The Solidity verifier of a build folder (`evm DIR`), or run one on a proof made with
    /// `prove --evm` (`evm verify DIR/evm --proof FILE`).
    Evm(evm::Args),
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(a) => compile::exec(a),
        Command::Setup(a) => setup::exec(a),
        Command::Prove(a) => prove::exec(a),
        Command::Verify(a) => verify::exec(a),
        Command::Demo(a) => demo::exec(a),
        Command::Accuracy(a) => accuracy::exec(a),
        Command::HashInput(a) => hash_input::exec(a),
        Command::HashOutput(a) => hash_input::exec_output(a),
        Command::Params(a) => params::exec(a),
        Command::Inspect(a) => inspect::exec(a),
        Command::Keys(a) => keys::exec(a),
        Command::Sign(a) => keys::exec_sign(a),
        Command::Evm(a) => evm::exec(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, skipping causes a message already spells out (our
/// error types often print their source inline).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out = format!("{out}: {c}");
        }
    }
    out
}

/// A spinner on a terminal; silent otherwise (CI gets one summary line per step instead).
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Starts a spinner if stderr is a terminal.
    pub fn start(message: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(Some(bar))
    }
}

impl zkinfer::pipeline::Progress for Spinner {
    fn step(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.to_string());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Formats floats compactly.
pub fn floats(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
    format!("[{}]", parts.join(", "))
}

/// Prints the attested outputs: the first output's argmax as the predicted class, then every
/// output's values.
pub fn print_outputs(outputs: &[zkinfer::artifact::OutputField]) {
    if let Some(first) = outputs.first() {
        println!("predicted class: {}", first.predicted_class);
    }
    for o in outputs {
        if outputs.len() == 1 {
            println!("output: {}", floats(&o.floats));
        } else {
            println!("output `{}` {:?}: {}", o.name, o.shape, floats(&o.floats));
        }
    }
}
