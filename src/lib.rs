//! # zkinfer
//!
//! Prove machine-learning inference in zero knowledge on halo2. Pipeline (one module per stage):
//! [`onnx`] (load) → [`graph`] of [`ops`] → [`quantize`] → [`witness`] → [`plan`] → [`circuit`] → [`keys`] /
//! [`prover`] / [`verifier`] (and [`weights`] for private weights), with [`artifact`] for the file formats and [`pipeline`] for the
//! user-facing operations the CLI calls.

pub mod artifact;
pub mod circuit;
pub mod evm;
pub mod graph;
pub mod hash;
pub mod keys;
pub mod onnx;
pub mod ops;
pub mod pipeline;
pub mod plan;
pub mod prover;
pub mod ptau;
pub mod quantize;
pub mod signing;
pub mod verifier;
pub mod weights;
pub mod witness;
