//! Runs any verifier contract in zkinfer's in-process EVM (revm, mainnet rules, 30 M gas) and
//! prints its runtime size and the gas of one call: for comparing other tools' verifiers with
//! zkinfer's on the same machine (benches/evm-peer.sh).
//!
//!   cargo run --release --example evm_call -- DEPLOYMENT CALLDATA [--lift-eip170] [--part P]...
//!
//! DEPLOYMENT and CALLDATA: files holding hex (0x optional) or raw bytes. Each `--part P`
//! (deployment code) is deployed first and its address appended to DEPLOYMENT's constructor
//! arguments. Prints one JSON line; exit 0 when the call succeeded, 1 when it reverted.

use std::process::ExitCode;
use zkinfer::evm::{self, CallOutcome, Contracts};

fn read_code(path: &str) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| format!("{path}: {e}"))
    } else {
        Ok(bytes)
    }
}

fn run() -> Result<ExitCode, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = Vec::new();
    let mut parts = Vec::new();
    let mut lift = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--lift-eip170" => lift = true,
            "--part" => parts.push(read_code(it.next().ok_or("--part needs a file")?)?),
            _ => positional.push(a.clone()),
        }
    }
    let [deployment, calldata] = positional.as_slice() else {
        return Err("usage: evm_call DEPLOYMENT CALLDATA [--lift-eip170] [--part P]...".into());
    };
    let contracts = Contracts {
        parts,
        entry: read_code(deployment)?,
    };
    let calldata = read_code(calldata)?;
    let (deployed, outcome) =
        evm::deploy_and_call_with(&contracts, &calldata, lift).map_err(|e| e.to_string())?;
    let (accepted, gas, reason) = match outcome {
        CallOutcome::Accepted { gas_used } => (true, gas_used, String::new()),
        CallOutcome::Rejected { gas_used, reason } => (false, gas_used, reason),
    };
    let part_bytes: Vec<usize> = deployed.parts.iter().map(Vec::len).collect();
    println!(
        "{}",
        serde_json::json!({
            "runtime_bytes": deployed.entry.len(),
            "part_runtime_bytes": part_bytes,
            "fits_eip170": deployed.entry.len() <= evm::MAX_RUNTIME_BYTES
                && part_bytes.iter().all(|&b| b <= evm::MAX_RUNTIME_BYTES),
            "calldata_bytes": calldata.len(),
            "accepted": accepted,
            "gas_used": gas,
            "reason": reason,
        })
    );
    Ok(if accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    run().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}
