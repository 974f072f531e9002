//! EVM verification: a Solidity verifier generated from a build folder's verifying key
//! (snark-verifier's EVM loader, SHPLONK), proofs made with the Keccak transcript the contract
//! replays, their calldata, and an in-process EVM (revm) to run the contract.
//!
//! A Blake2b proof (zkinfer's default) does not verify on chain: the contract derives its
//! Fiat–Shamir challenges with Keccak-256 over the uncompressed points, so `prove --evm` makes
//! the proof with [`EvmTranscript`]. `zkinfer verify` checks both kinds natively.
//!
//! The contract checks the halo2 proof against the verifying key it was generated from and the
//! public values in its calldata (each a 32-byte big-endian word, then the proof bytes). What
//! zkinfer checks off chain besides (the commitment's settings, the SRS id, a signer, the
//! private-weight link) is not in the contract: `verifier.json` ties the contract's runtime
//! code hash to the commitment digest so a recipient can check which model a deployed contract
//! verifies.
//!
//! A verifier whose runtime code exceeds EIP-170's 24,576 bytes is cut into part contracts and
//! an entry contract that calls them in order ([`split`]); [`deploy_and_call`] deploys with
//! mainnet rules, the code-size limit included.

use crate::keys::VerifierSrs;
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{verify_proof, ProvingKey, VerifyingKey},
    poly::kzg::{
        commitment::KZGCommitmentScheme, multiopen::VerifierSHPLONK, strategy::SingleStrategy,
    },
    transcript::{Transcript, TranscriptRead, TranscriptReadBuffer, TranscriptWriterBuffer},
};
use rand_core::RngCore;
use sha3::{Digest, Keccak256};
use snark_verifier_sdk::snark_verifier::{
    loader::evm::{encode_calldata, EvmLoader},
    system::halo2::{compile, transcript::evm::EvmTranscript, Config},
    verifier::SnarkVerifier,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

pub mod split;

/// The Solidity version of the generated verifier's pragma.
pub const SOLC_VERSION: &str = "0.8.19";
/// The gas limit `evm verify` calls the contract with (a block's worth on mainnet).
pub const GAS_LIMIT: u64 = 30_000_000;
/// EIP-170: largest runtime bytecode a contract may have.
pub const MAX_RUNTIME_BYTES: usize = 24_576;

/// Errors of the EVM stage.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// No usable Solidity compiler.
    #[error("no Solidity compiler: {0} (run scripts/install-solc.sh and pass --solc scripts/solc/solc.js, or set ZKINFER_SOLC, or put solc {SOLC_VERSION} on PATH)")]
    NoSolc(String),
    /// The compiler refused the code.
    #[error("the Solidity compiler failed: {0}")]
    Solc(String),
    /// snark-verifier could not generate the verifier.
    #[error("generating the EVM verifier failed: {0}")]
    Generate(String),
    /// halo2 failed to prove.
    #[error("proving failed: {0}")]
    Prove(String),
    /// Deployment failed.
    #[error("deploying the verifier failed: {0}")]
    Deploy(String),
}

/// Generates the Solidity verifier for `vk` (SHPLONK over KZG on BN254) with `n_instances`
/// public values.
pub fn verifier_code(
    srs: &VerifierSrs,
    vk: &VerifyingKey<G1Affine>,
    n_instances: usize,
) -> Result<String, EvmError> {
    type Shplonk = snark_verifier_sdk::SHPLONK;
    type Verifier = snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkVerifier<Shplonk>;
    let params = srs.params();
    crate::keys::guarded(|| {
        let protocol = compile(
            &params,
            vk,
            Config::kzg().with_num_instance(vec![n_instances]),
        );
        let (g0, g2, s_g2) = srs.points();
        let dk = (g0, g2, s_g2).into();
        let loader = EvmLoader::new::<halo2_proofs::halo2curves::bn256::Fq, Fr>();
        let protocol = protocol.loaded(&loader);
        let mut transcript = EvmTranscript::<_, std::rc::Rc<EvmLoader>, _, _>::new(&loader);
        let instances = transcript.load_instances(vec![n_instances]);
        let proof = Verifier::read_proof(&dk, &protocol, &instances, &mut transcript)
            .map_err(|e| format!("{e:?}"))?;
        Verifier::verify(&dk, &protocol, &instances, &proof).map_err(|e| format!("{e:?}"))?;
        Ok::<_, String>(loader.solidity_code())
    })
    .map_err(EvmError::Generate)?
    .map_err(EvmError::Generate)
}

/// Deployment and runtime bytecode of compiled Solidity.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// What a deployment transaction carries.
    pub deployment: Vec<u8>,
    /// The contract's code once deployed.
    pub runtime: Vec<u8>,
    /// The compiler's version string.
    pub version: String,
}

/// Compiles `source` (as the source unit `file`, the name the metadata hash records) with
/// `solc` (a `solc`-compatible command taking `--standard-json`), the optimizer off (the
/// generated verifier miscompiles or hits "stack too deep" with it). Returns every contract by
/// name.
pub fn compile_solidity(
    solc: &Path,
    file: &str,
    source: &str,
) -> Result<BTreeMap<String, Compiled>, EvmError> {
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": {file: {"content": source}},
        "settings": {
            "optimizer": {"enabled": false},
            "outputSelection": {"*": {"*": ["evm.bytecode.object", "evm.deployedBytecode.object"]}}
        }
    });
    let run = |args: &[&str], stdin: Option<Vec<u8>>| -> Result<Vec<u8>, EvmError> {
        let mut cmd = Command::new(solc);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| EvmError::NoSolc(format!("cannot run {}: {e}", solc.display())))?;
        // written from another thread while this one drains stdout and stderr: a compiler
        // that prints before it has read all its input cannot deadlock on a full pipe
        let writer = match (stdin, child.stdin.take()) {
            (Some(bytes), Some(mut pipe)) => Some(std::thread::spawn(move || {
                use std::io::Write;
                pipe.write_all(&bytes)
            })),
            _ => None,
        };
        let out = child
            .wait_with_output()
            .map_err(|e| EvmError::Solc(format!("{}: {e}", solc.display())))?;
        if let Some(writer) = writer {
            match writer.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) if out.status.success() => {
                    return Err(EvmError::Solc(format!(
                        "writing to {}: {e}",
                        solc.display()
                    )))
                }
                Ok(Err(_)) => {}
                Err(_) => return Err(EvmError::Solc("the input writer failed".into())),
            }
        }
        if !out.status.success() {
            return Err(EvmError::Solc(format!(
                "{} exited with {}: {}",
                solc.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out.stdout)
    };
    let version = String::from_utf8_lossy(&run(&["--version"], None)?)
        .trim()
        .to_string();
    if !version.contains(SOLC_VERSION) {
        return Err(EvmError::NoSolc(format!(
            "{} is `{version}`, the verifier needs {SOLC_VERSION}",
            solc.display()
        )));
    }
    let out = run(&["--standard-json"], Some(input.to_string().into_bytes()))?;
    let out: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| EvmError::Solc(format!("unreadable compiler output: {e}")))?;
    if let Some(errors) = out.get("errors").and_then(|e| e.as_array()) {
        let fatal: Vec<String> = errors
            .iter()
            .filter(|e| e.get("severity").and_then(|s| s.as_str()) == Some("error"))
            .map(|e| {
                e.get("formattedMessage")
                    .or_else(|| e.get("message"))
                    .and_then(|m| m.as_str())
                    .unwrap_or("?")
                    .to_string()
            })
            .collect();
        if !fatal.is_empty() {
            return Err(EvmError::Solc(fatal.join("\n")));
        }
    }
    let contracts = out["contracts"][file]
        .as_object()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| EvmError::Solc("no contract in the compiler output".into()))?;
    let mut compiled = BTreeMap::new();
    for (name, contract) in contracts {
        let hex_of = |key: &str| {
            contract["evm"][key]["object"]
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .filter(|b| !b.is_empty())
                .ok_or_else(|| EvmError::Solc(format!("no {key} of {name} in the compiler output")))
        };
        compiled.insert(
            name.clone(),
            Compiled {
                deployment: hex_of("bytecode")?,
                runtime: hex_of("deployedBytecode")?,
                version: version.clone(),
            },
        );
    }
    Ok(compiled)
}

/// Keccak-256 as lowercase hex (the EVM's code hash).
pub fn keccak_hex(bytes: &[u8]) -> String {
    hex::encode(Keccak256::digest(bytes))
}

/// The calldata of a proof: each public value a 32-byte big-endian word, then the proof.
pub fn calldata(instance: &[Fr], proof: &[u8]) -> Vec<u8> {
    encode_calldata(&[instance.to_vec()], proof)
}

/// Creates a proof with the Keccak transcript the EVM verifier replays.
pub(crate) fn prove(
    committer: &crate::prover::Committer<'_>,
    pk: &ProvingKey<G1Affine>,
    circuit: crate::circuit::ModelCircuit,
    instance: &[Fr],
    rng: impl RngCore,
) -> Result<Vec<u8>, EvmError> {
    let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
    crate::prover::create::<_, EvmTranscript<_, _, _, _>>(
        committer,
        pk,
        circuit,
        instance,
        rng,
        &mut transcript,
    )
    .map_err(EvmError::Prove)?;
    Ok(transcript.finalize())
}

/// A Keccak transcript that refuses the point at infinity, encoded `(0, 0)`: the contract's
/// point validation rejects it, so the native check must too (one verdict for one proof).
/// Coordinates are canonical already (`from_repr` refuses values ≥ p).
struct NoIdentity<T>(T);

type Challenge =
    snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::ChallengeEvm<G1Affine>;

impl<T: Transcript<G1Affine, Challenge>> Transcript<G1Affine, Challenge> for NoIdentity<T> {
    fn squeeze_challenge(&mut self) -> Challenge {
        self.0.squeeze_challenge()
    }
    fn common_point(&mut self, point: G1Affine) -> std::io::Result<()> {
        self.0.common_point(point)
    }
    fn common_scalar(&mut self, scalar: Fr) -> std::io::Result<()> {
        self.0.common_scalar(scalar)
    }
}

impl<T: TranscriptRead<G1Affine, Challenge>> TranscriptRead<G1Affine, Challenge> for NoIdentity<T> {
    fn read_point(&mut self) -> std::io::Result<G1Affine> {
        let point = self.0.read_point()?;
        if bool::from(
            halo2_proofs::halo2curves::group::prime::PrimeCurveAffine::is_identity(&point),
        ) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a proof point is the point at infinity",
            ));
        }
        Ok(point)
    }
    fn read_scalar(&mut self) -> std::io::Result<Fr> {
        self.0.read_scalar()
    }
}

/// Checks a Keccak-transcript proof natively (what the contract computes).
pub fn verify(
    srs: &VerifierSrs,
    vk: &VerifyingKey<G1Affine>,
    instance: &[Fr],
    proof: &[u8],
) -> Result<(), String> {
    let params = srs.params();
    let strategy = SingleStrategy::new(&params);
    let mut rest = proof;
    let mut transcript = NoIdentity(<EvmTranscript<G1Affine, _, _, _> as TranscriptReadBuffer<
        _,
        G1Affine,
        _,
    >>::init(&mut rest));
    let instances: &[&[Fr]] = &[instance];
    crate::keys::guarded(|| {
        verify_proof::<
            KZGCommitmentScheme<Bn256>,
            VerifierSHPLONK<'_, Bn256>,
            Challenge,
            NoIdentity<EvmTranscript<G1Affine, _, _, _>>,
            _,
        >(&params, vk, strategy, &[instances], &mut transcript)
    })
    .map_err(|p| format!("the proof is malformed ({p})"))?
    .map_err(|e| format!("the proof does not verify ({e:?})"))?;
    drop(transcript);
    if !rest.is_empty() {
        return Err(format!(
            "the proof has {} trailing bytes after a complete proof",
            rest.len()
        ));
    }
    Ok(())
}

/// What running the verifier contract gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// The contract returned: the proof verifies.
    Accepted {
        /// Gas of the call.
        gas_used: u64,
    },
    /// The contract reverted or halted.
    Rejected {
        /// Gas of the call.
        gas_used: u64,
        /// Why (revert or halt reason).
        reason: String,
    },
}

/// A verifier's deployment bytecode: the parts (none for a verifier in one contract), deployed
/// first, then the entry contract, whose constructor takes the parts' addresses in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contracts {
    /// Deployment bytecode of each part, in order.
    pub parts: Vec<Vec<u8>>,
    /// Deployment bytecode of the contract callers call.
    pub entry: Vec<u8>,
}

/// The runtime code a deployment left.
#[derive(Clone, Debug)]
pub struct Deployed {
    /// Runtime code of each part.
    pub parts: Vec<Vec<u8>>,
    /// Runtime code of the entry contract.
    pub entry: Vec<u8>,
}

/// Deploys `contracts` in a fresh in-process EVM with mainnet rules (EIP-170's code size
/// limit included) and calls the entry contract with `calldata`, each transaction with
/// [`GAS_LIMIT`]. Returns the deployed code and the call's outcome.
pub fn deploy_and_call(
    contracts: &Contracts,
    calldata: &[u8],
) -> Result<(Deployed, CallOutcome), EvmError> {
    deploy_and_call_with(contracts, calldata, false)
}

/// [`deploy_and_call`], with EIP-170's limit lifted when `lift_eip170` (as on chains without
/// it): for measuring other tools' verifiers that exceed it, never for zkinfer's own.
pub fn deploy_and_call_with(
    contracts: &Contracts,
    calldata: &[u8],
    lift_eip170: bool,
) -> Result<(Deployed, CallOutcome), EvmError> {
    use revm::{
        context::{
            result::{ExecutionResult, Output},
            TxEnv,
        },
        database::InMemoryDB,
        primitives::{Address, TxKind},
        Context, ExecuteCommitEvm, MainBuilder, MainContext,
    };
    let mut evm = Context::mainnet()
        .with_db(InMemoryDB::default())
        .modify_cfg_chained(|cfg| {
            if lift_eip170 {
                cfg.limit_contract_code_size = Some(16 * MAX_RUNTIME_BYTES);
            }
        })
        .build_mainnet();
    let mut nonce = 0u64;
    let mut create = |code: Vec<u8>, what: &str| -> Result<(Vec<u8>, Address), EvmError> {
        let tx = TxEnv {
            gas_limit: GAS_LIMIT,
            kind: TxKind::Create,
            data: code.into(),
            nonce,
            ..Default::default()
        };
        nonce += 1;
        let created = evm
            .transact_commit(tx)
            .map_err(|e| EvmError::Deploy(format!("{what}: {e:?}")))?;
        match created {
            ExecutionResult::Success {
                output: Output::Create(code, Some(address)),
                ..
            } => Ok((code.to_vec(), address)),
            ExecutionResult::Success { .. } => Err(EvmError::Deploy(format!(
                "{what}: the deployment created no contract"
            ))),
            ExecutionResult::Revert { output, .. } => Err(EvmError::Deploy(format!(
                "{what}: the constructor reverted ({output:#x})"
            ))),
            ExecutionResult::Halt { reason, .. } => Err(EvmError::Deploy(format!(
                "{what}: the deployment halted: {reason:?}"
            ))),
        }
    };
    let mut parts = Vec::with_capacity(contracts.parts.len());
    let mut args = Vec::with_capacity(32 * contracts.parts.len());
    for (i, part) in contracts.parts.iter().enumerate() {
        let (code, address) = create(part.clone(), &format!("part {}", i + 1))?;
        parts.push(code);
        args.extend_from_slice(&[0u8; 12]);
        args.extend_from_slice(address.as_slice());
    }
    let (entry, address) = create([contracts.entry.as_slice(), &args].concat(), "the verifier")?;
    let tx = TxEnv {
        gas_limit: GAS_LIMIT,
        kind: TxKind::Call(address),
        data: calldata.to_vec().into(),
        nonce,
        ..Default::default()
    };
    let called = evm
        .transact_commit(tx)
        .map_err(|e| EvmError::Deploy(format!("calling the verifier: {e:?}")))?;
    let outcome = match called {
        ExecutionResult::Success { gas_used, .. } => CallOutcome::Accepted { gas_used },
        ExecutionResult::Revert { gas_used, output } => CallOutcome::Rejected {
            gas_used,
            reason: format!("reverted ({output:#x})"),
        },
        ExecutionResult::Halt { reason, gas_used } => CallOutcome::Rejected {
            gas_used,
            reason: format!("halted: {reason:?}"),
        },
    };
    Ok((Deployed { parts, entry }, outcome))
}
