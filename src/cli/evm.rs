//! `zkinfer evm DIR [-o DIR/evm] [--solc SOLC]`, `zkinfer evm verify DIR/evm --proof proof.json`

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::evm::CallOutcome;

/// Arguments of `evm`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<EvmCommand>,
    /// Build folder after `zkinfer setup`: writes its Solidity verifier.
    dir: Option<PathBuf>,
    /// Output folder (default: DIR/evm).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// A Solidity compiler taking `--standard-json` (solc 0.8.19; scripts/install-solc.sh
    /// installs solcjs with the entry point scripts/solc/solc.js). Default: $ZKINFER_SOLC, else
    /// `solc` on PATH.
    #[arg(long)]
    solc: Option<PathBuf>,
    /// Allow keys made with zkinfer's INSECURE development SRS (anyone can forge proofs such
    /// a contract accepts): for tests and demos.
    #[arg(long)]
    insecure_dev_srs: bool,
}

#[derive(Subcommand)]
enum EvmCommand {
    /// Run a verifier contract in an in-process EVM (revm, 30 M gas) on a proof made with
    /// `prove --evm`: prints accept or reject and the gas used.
    Verify {
        /// The folder `zkinfer evm` wrote.
        evm_dir: PathBuf,
        /// The proof.
        #[arg(long)]
        proof: PathBuf,
    },
}

/// Runs `evm`.
pub fn exec(args: Args) -> Result<ExitCode> {
    match (args.command, args.dir) {
        (Some(EvmCommand::Verify { evm_dir, proof }), _) => {
            let v = zkinfer::pipeline::evm_verify(&evm_dir, &proof)?;
            match v.outcome {
                CallOutcome::Accepted { gas_used } => {
                    eprintln!("note: this runs the bytecode in {} as given: to trust the answer, regenerate the verifier with `zkinfer evm` from the commitment and vk.bin you trust and compare verifier.json's runtime_code_keccak256 (also against a deployed contract's EXTCODEHASH)", evm_dir.display());
                    println!(
                        "ACCEPTED by the EVM verifier: gas used {gas_used} (calldata {} bytes, gas limit {})",
                        v.calldata_bytes,
                        zkinfer::evm::GAS_LIMIT
                    );
                    if let Some(h) = &v.input_hash {
                        println!("input hash {h}");
                    }
                    if let Some(h) = &v.output_hash {
                        println!("output hash {h}");
                    }
                    super::print_outputs(&v.outputs);
                    Ok(ExitCode::SUCCESS)
                }
                CallOutcome::Rejected { gas_used, reason } => {
                    println!("REJECTED by the EVM verifier: {reason} (gas used {gas_used})");
                    Ok(ExitCode::from(1))
                }
            }
        }
        (None, Some(dir)) => {
            let out = args.output.unwrap_or_else(|| dir.join("evm"));
            let solc = args
                .solc
                .or_else(|| std::env::var_os("ZKINFER_SOLC").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("solc"));
            let r = zkinfer::pipeline::evm_generate(&dir, &out, &solc, args.insecure_dev_srs)?;
            let v = &r.verifier;
            println!(
                "EVM verifier for {} ({} public values) -> {}/Verifier.sol, Verifier.bin",
                v.model_name,
                v.instances,
                out.display()
            );
            if v.parts.is_empty() {
                println!(
                    "one contract: runtime bytecode {} bytes (EIP-170 limit {}), deployment {} bytes",
                    v.runtime_bytes,
                    zkinfer::evm::MAX_RUNTIME_BYTES,
                    v.deployment_bytes
                );
            } else {
                let sizes: Vec<String> = v
                    .parts
                    .iter()
                    .map(|p| p.runtime_bytes.to_string())
                    .collect();
                println!(
                    "{} bytes of runtime code in one contract would exceed EIP-170's {}: cut into {} parts of {} bytes (VerifierParts.sol) and an entry contract of {} bytes that calls them in order",
                    v.single_contract_runtime_bytes,
                    zkinfer::evm::MAX_RUNTIME_BYTES,
                    v.parts.len(),
                    sizes.join(", "),
                    v.runtime_bytes
                );
                println!(
                    "deploy {} in order, then Halo2Verifier (Verifier.bin) with their addresses as constructor arguments",
                    v.parts.iter().map(|p| p.bin.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
            println!(
                "code hash (keccak256, EXTCODEHASH) {}: verifier.json ties it to commitment {} ({})",
                v.runtime_code_keccak256, v.commitment, v.solc
            );
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => Err(anyhow::anyhow!(
            "give a build folder (zkinfer evm DIR) or `zkinfer evm verify DIR/evm --proof FILE`"
        )),
    }
}
