//! # Private weights: the weight commitment and its per-proof link
//!
//! With `compile --weights private` the dense and Freivalds chips keep every linear
//! coefficient in advice columns (the "weight columns", [`crate::circuit::ModelConfig::weight_columns`];
//! the max and argmax gadgets' own constants stay fixed), so the
//! verifying key depends only on the layout and the quantization (scales, tables). The weights are
//! bound instead by a **weight commitment** the owner publishes in commitment.json: for every
//! weight column `c`, the KZG commitment
//!
//! `C_c = Σ_{i usable} w_c[i]·[L_i(τ)]G + Σ_{j ∈ U} s_c[j]·[L_j(τ)]G`
//!
//! where `L_i` are the Lagrange basis polynomials of the circuit's domain, `U` the last
//! `blinding_factors + 1` rows (the rows halo2 fills with randomness and no constraint reads),
//! and `s_c[j]` salts derived from the owner's secret `weights.salt`.
//!
//! Every proof commits to its weight columns afresh: halo2 puts new random values `r'_c[j]` on
//! the rows `U`, so the proof carries `C'_c = C_c + Σ_{j ∈ U} δ_c[j]·B_j` with
//! `δ = r' − s` and `B_j = [L_j(τ)]G`. The proof file adds a Schnorr-style proof of knowledge
//! of `δ_c` (Fiat–Shamir over the commitment digest, the public instance and the proof bytes):
//! `A_c = Σ k_c[j]·B_j`, challenge `e`, responses `z_c[j] = k_c[j] + e·δ_c[j]`; the verifier
//! checks `Σ z_c[j]·B_j = A_c + e·(C'_c − C_c)` with `C'_c` read from the proof's own advice
//! commitments.
//!
//! **Binding.** halo2's verification extracts the weight column `W'_c` behind `C'_c`; the link
//! shows `C'_c − C_c` is a known combination of the `B_j` alone. A proof with weights that
//! differ from the committed ones on any usable row would give two different representations
//! of one group element over the SRS's Lagrange points, i.e. a discrete-log relation among
//! `[L_i(τ)]G`, which breaks the KZG (q-SDH) assumption. The bases `B_j` are published with
//! KZG opening proofs at a Fiat–Shamir point `z` and checked by a pairing against the SRS the
//! commitment names, so an owner cannot substitute points with a known relation to the
//! weight rows.
//!
//! **Hiding, across any number of proofs.** `C_c` is perfectly hiding: the `s_c[j]` are
//! uniform and `B_j ≠ 0`. Each proof's weight column carries fresh uniform values on the
//! `blinding_factors + 1` rows halo2 sizes to the openings one proof makes, so every proof is
//! zero-knowledge on its own and proofs share no blinding: the polycommit trap (one
//! commitment opened at fresh points by every proof until the weights can be interpolated)
//! does not arise. The link reveals `z = k + e·δ` with `k` fresh and uniform.
//!
//! Cost: the weight lanes become advice columns (each extended, evaluated and opened by every
//! proof), plus `|U|` scalar multiplications per column for the link. Their commitments cost
//! `|U|` scalar multiplications as well, not `2^k`: the owner knows `C_c − Σ_j s_c[j]·B_j`, the
//! commitment of the usable rows, so `C'_c` is that plus `Σ_j r'_c[j]·B_j`
//! ([`known_columns`], [`crate::prover::KnownColumns`]; the same group element halo2 would
//! compute, so proofs are unchanged).

use crate::circuit::{CircuitShape, ModelCircuit};
use crate::prover::FixedBases;
use crate::quantize::QuantModel;
use halo2_proofs::{
    arithmetic::best_multiexp,
    circuit::{SimpleFloorPlanner, Value},
    halo2curves::{
        bn256::{pairing, Fr, G1Affine, G1},
        ff::{Field, FromUniformBytes, PrimeField},
        group::{prime::PrimeCurveAffine, Curve, Group, GroupEncoding},
    },
    plonk::{
        Advice, Any, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem, Error,
        Fixed, FloorPlanner, Instance, Selector,
    },
    poly::{
        commitment::{Blind, Params, ParamsProver},
        EvaluationDomain,
    },
};
use rand_core::RngCore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use std::sync::Arc;

/// Errors of the weight commitment.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The circuit could not be laid out to read its weight columns.
    #[error("internal: cannot lay out the weight columns ({0})")]
    Layout(String),
    /// A malformed commitment or link (hex, point, sizes).
    #[error("{0}")]
    Malformed(String),
}

/// The weight commitment published in commitment.json.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightCommitment {
    /// Advice column index of every weight column.
    pub columns: Vec<usize>,
    /// First of the rows `U` halo2 fills with randomness (`n − blinding_factors − 1`).
    pub first_blind_row: usize,
    /// `C_c` per weight column (compressed G1, hex).
    pub commitments: Vec<String>,
    /// `B_j = [L_j(τ)]G` for `j ∈ U` (compressed G1, hex).
    pub bases: Vec<String>,
    /// KZG opening proofs of the bases at the Fiat–Shamir point (compressed G1, hex).
    pub base_proofs: Vec<String>,
}

/// The per-proof link in proof.json.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightLink {
    /// `A_c` per weight column (compressed G1, hex).
    pub a: Vec<String>,
    /// `z_c[j]` per weight column and blinding row (field elements, hex).
    pub z: Vec<Vec<String>>,
}

/// The owner's secret: 32 random bytes from which the commitment's salts derive.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(…)")
    }
}

impl Salt {
    /// A fresh salt from the OS.
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut b);
        Self(b)
    }
    /// Reads a salt file (64 hex digits).
    pub fn read(path: &std::path::Path) -> Result<Self, crate::artifact::ArtifactError> {
        let text = crate::artifact::read_bytes(path)?;
        let bytes: [u8; 32] = hex::decode(String::from_utf8_lossy(&text).trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                crate::artifact::ArtifactError::malformed(path, "not a weight salt (64 hex digits)")
            })?;
        Ok(Self(bytes))
    }

    /// Writes the salt file atomically, readable by its owner only (on Unix).
    pub fn write(&self, path: &std::path::Path) -> Result<(), crate::artifact::ArtifactError> {
        // created 0600: never readable by others, not even for a moment
        crate::artifact::write_secret(path, format!("{}\n", hex::encode(self.0)).as_bytes())
    }

    /// The salts `s_c[j]` of column `c` for `m` blinding rows, under `digest`, the digest of
    /// every weight column's values ([`columns_digest`]). They depend on all the weights: two
    /// weight versions committed under one salt file get independent blinding in every
    /// column (else the difference of two commitments would be an unblinded commitment to the
    /// change, and an unchanged column's commitment would show that it did not change).
    fn of_column(&self, c: usize, digest: &[u8; 64], m: usize) -> Vec<Fr> {
        (0..m)
            .map(|j| {
                hash_to_field(&[
                    b"zkinfer/weight-salt/v3",
                    &self.0,
                    &(c as u64).to_le_bytes(),
                    digest,
                    &(j as u64).to_le_bytes(),
                ])
            })
            .collect()
    }
}

/// The digest of every weight column's values on its usable rows (`..len − m`), from which
/// the salts derive.
pub fn columns_digest(columns: &[Vec<Fr>], m: usize) -> [u8; 64] {
    let mut h = Sha512::new();
    let mut bytes = Vec::new();
    for col in columns {
        h.update((col.len() as u64).to_le_bytes());
        // (one update a column: the same digest as value by value, at twice the speed)
        bytes.clear();
        for v in &col[..col.len().saturating_sub(m)] {
            bytes.extend_from_slice(v.to_repr().as_ref());
        }
        h.update(&bytes);
    }
    h.finalize().into()
}

fn hash_to_field(parts: &[&[u8]]) -> Fr {
    let mut h = Sha512::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let out: [u8; 64] = h.finalize().into();
    Fr::from_uniform_bytes(&out)
}

fn point_hex(p: &G1Affine) -> String {
    hex::encode(p.to_bytes())
}

fn point_from_hex(h: &str) -> Result<G1Affine, WeightsError> {
    let bad = || WeightsError::Malformed(format!("not a compressed G1 point: {h:.16}…"));
    let bytes: [u8; 32] = hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let mut repr = <G1Affine as GroupEncoding>::Repr::default();
    repr.as_mut().copy_from_slice(&bytes);
    let p: G1Affine = Option::from(G1Affine::from_bytes(&repr)).ok_or_else(bad)?;
    // the canonical encoding only (no second spelling of a point: files stay unmalleable)
    if p.to_bytes().as_ref() != bytes.as_slice() {
        return Err(bad());
    }
    Ok(p)
}

fn scalar_hex(s: &Fr) -> String {
    hex::encode(s.to_repr())
}

fn scalar_from_hex(h: &str) -> Result<Fr, WeightsError> {
    let bad = || WeightsError::Malformed(format!("not a field element: {h:.16}…"));
    let bytes: [u8; 32] = hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Option::from(Fr::from_repr(bytes)).ok_or_else(bad)
}

/// Records the known values the circuit assigns to some advice columns.
struct Recorder {
    n: usize,
    /// For each advice column index, its position among the watched columns.
    watch: Vec<Option<usize>>,
    values: Vec<Vec<Fr>>,
}

impl Assignment<Fr> for Recorder {
    fn enter_region<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }
    fn annotate_column<A, AR>(&mut self, _: A, _: Column<Any>)
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
    }
    fn exit_region(&mut self) {}
    fn enable_selector<A, AR>(&mut self, _: A, _: &Selector, _: usize) -> Result<(), Error>
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        Ok(())
    }
    fn query_instance(&self, _: Column<Instance>, _: usize) -> Result<Value<Fr>, Error> {
        Ok(Value::unknown())
    }
    fn assign_advice<'v>(
        &mut self,
        column: Column<Advice>,
        row: usize,
        to: Value<Assigned<Fr>>,
    ) -> Value<&'v Assigned<Fr>> {
        if let Some(&Some(c)) = self.watch.get(column.index()) {
            let mut v = None;
            to.map(|a| v = Some(a.evaluate()));
            if let (Some(v), Some(cell)) = (v, self.values[c].get_mut(row)) {
                *cell = v;
            }
        }
        Value::unknown()
    }
    fn assign_fixed(&mut self, _: Column<Fixed>, _: usize, _: Assigned<Fr>) {}
    fn copy(&mut self, _: Column<Any>, _: usize, _: Column<Any>, _: usize) {}
    fn fill_from_row(
        &mut self,
        _: Column<Fixed>,
        _: usize,
        _: Value<Assigned<Fr>>,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn get_challenge(&self, _: Challenge) -> Value<Fr> {
        Value::unknown()
    }
    fn push_namespace<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }
    fn pop_namespace(&mut self, _: Option<String>) {}
}

/// The weight columns of a private-weight circuit: their advice indices and the values the
/// circuit assigns them (`2^k` rows each; the same for every input).
pub fn weight_columns(
    model: Arc<QuantModel>,
    shape: CircuitShape,
    k: u32,
) -> Result<(Vec<usize>, Vec<Vec<Fr>>), WeightsError> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let config = ModelCircuit::configure_with_params(&mut cs, shape);
    let watch: Vec<usize> = config.weight_columns().iter().map(|c| c.index()).collect();
    let n = 1usize << k;
    let mut at = vec![None; cs.num_advice_columns()];
    for (i, &c) in watch.iter().enumerate() {
        if let Some(slot) = at.get_mut(c) {
            *slot = Some(i);
        }
    }
    let mut rec = Recorder {
        n,
        values: vec![vec![Fr::ZERO; n]; watch.len()],
        watch: at,
    };
    let circuit = ModelCircuit::keygen(model, shape);
    SimpleFloorPlanner::synthesize(&mut rec, &circuit, config, cs.constants().clone())
        .map_err(|e| WeightsError::Layout(format!("{e:?}")))?;
    debug_assert_eq!(rec.n, n);
    Ok((watch, rec.values))
}

/// The KZG commitment of one column's values (Lagrange form, `2^k` of them).
pub fn commit_values(
    srs: &crate::keys::Srs,
    domain: &EvaluationDomain<Fr>,
    values: Vec<Fr>,
) -> G1Affine {
    commit(srs, domain, values)
}

fn commit(srs: &crate::keys::Srs, domain: &EvaluationDomain<Fr>, values: Vec<Fr>) -> G1Affine {
    srs.commit_lagrange(&domain.lagrange_from_vec(values), Blind::default())
        .to_affine()
}

/// `L_j(z)` for the domain of size `n` with generator `ω`.
fn lagrange_at(omega: Fr, n: usize, j: usize, z: Fr) -> Option<Fr> {
    let wj = omega.pow_vartime([j as u64]);
    let num = wj * (z.pow_vartime([n as u64]) - Fr::ONE);
    let den = Fr::from(n as u64) * (z - wj);
    Option::<Fr>::from(den.invert()).map(|inv: Fr| num * inv)
}

fn base_point(bases: &[G1Affine]) -> Fr {
    let bytes: Vec<Vec<u8>> = bases
        .iter()
        .map(|b| b.to_bytes().as_ref().to_vec())
        .collect();
    let parts: Vec<&[u8]> = std::iter::once(b"zkinfer/weight-bases/v1".as_slice())
        .chain(bytes.iter().map(Vec::as_slice))
        .collect();
    hash_to_field(&parts)
}

/// Makes the weight commitment for `columns` (values from [`weight_columns`]).
pub fn commit_weights(
    srs: &crate::keys::Srs,
    domain: &EvaluationDomain<Fr>,
    blinding_factors: usize,
    indices: &[usize],
    columns: &[Vec<Fr>],
    salt: &Salt,
) -> WeightCommitment {
    let n = 1usize << domain.k();
    let m = blinding_factors + 1;
    let first = n - m;
    let digest = columns_digest(columns, m);
    let commitments = indices
        .iter()
        .zip(columns)
        .map(|(&c, col)| {
            let mut v = col.clone();
            v[first..].copy_from_slice(&salt.of_column(c, &digest, m));
            point_hex(&commit(srs, domain, v))
        })
        .collect();
    // B_j and their openings at z: q_j = (L_j − L_j(z)) / (X − z)
    let unit = |j: usize| {
        let mut v = vec![Fr::ZERO; n];
        v[j] = Fr::ONE;
        v
    };
    let bases: Vec<G1Affine> = (first..n).map(|j| commit(srs, domain, unit(j))).collect();
    let z = base_point(&bases);
    let base_proofs = (first..n)
        .map(|j| {
            let coeffs = domain
                .lagrange_to_coeff(domain.lagrange_from_vec(unit(j)))
                .to_vec();
            let q = divide_by_linear(&coeffs, z);
            let g = &srs.get_g()[..q.len()];
            point_hex(&best_multiexp(&q, g).to_affine())
        })
        .collect();
    WeightCommitment {
        columns: indices.to_vec(),
        first_blind_row: first,
        commitments,
        bases: bases.iter().map(point_hex).collect(),
        base_proofs,
    }
}

/// The quotient of `p(X) − p(z)` by `X − z` (coefficients, lowest first).
fn divide_by_linear(p: &[Fr], z: Fr) -> Vec<Fr> {
    let mut q = vec![Fr::ZERO; p.len().saturating_sub(1)];
    let mut acc = Fr::ZERO;
    for i in (1..p.len()).rev() {
        acc = acc * z + p[i];
        q[i - 1] = acc;
    }
    q
}

/// Checks the published bases against the SRS (`g0 = G`, `g2`, `s_g2` of the verifying key):
/// each `B_j` opens to `L_j(z)` at the Fiat–Shamir point `z` (one batched pairing check).
fn check_bases(
    wc: &WeightCommitment,
    k: u32,
    srs: &crate::keys::VerifierSrs,
) -> Result<Vec<G1Affine>, WeightsError> {
    let n = 1usize << k;
    if wc.bases.len() > 64 || wc.base_proofs.len() != wc.bases.len() {
        return Err(WeightsError::Malformed(
            "the weight commitment's bases do not match its blinding rows".into(),
        ));
    }
    let bases: Vec<G1Affine> = wc
        .bases
        .iter()
        .map(|h| point_from_hex(h))
        .collect::<Result<_, _>>()?;
    let proofs: Vec<G1Affine> = wc
        .base_proofs
        .iter()
        .map(|h| point_from_hex(h))
        .collect::<Result<_, _>>()?;
    let m = n.saturating_sub(wc.first_blind_row);
    if bases.len() != m || proofs.len() != m || m == 0 || m > 64 {
        return Err(WeightsError::Malformed(
            "the weight commitment's bases do not match its blinding rows".into(),
        ));
    }
    let z = base_point(&bases);
    let omega = EvaluationDomain::<Fr>::new(1, k).get_omega();
    let (g0, g2, s_g2) = srs.points();
    let mut lhs = G1::identity();
    let mut rhs = G1::identity();
    for (i, (b, p)) in bases.iter().zip(&proofs).enumerate() {
        let rho = hash_to_field(&[b"zkinfer/weight-bases-batch/v1", &z.to_repr(), &[i as u8]]);
        let lz = lagrange_at(omega, n, wc.first_blind_row + i, z)
            .ok_or_else(|| WeightsError::Malformed("degenerate base point".into()))?;
        lhs += (b.to_curve() - g0 * lz) * rho;
        rhs += p.to_curve() * rho;
    }
    // e(Σρ(B − L(z)G), G2) = e(Σρπ, τG2 − zG2)
    let shifted = (s_g2.to_curve() - g2 * z).to_affine();
    if pairing(&lhs.to_affine(), &g2) != pairing(&rhs.to_affine(), &shifted) {
        return Err(WeightsError::Malformed(
            "the weight commitment's bases are not the SRS's Lagrange points".into(),
        ));
    }
    Ok(bases)
}

fn link_challenge(context: &[u8], a: &[G1Affine]) -> Fr {
    let bytes: Vec<Vec<u8>> = a.iter().map(|p| p.to_bytes().as_ref().to_vec()).collect();
    let parts: Vec<&[u8]> = [b"zkinfer/weight-link/v1".as_slice(), context]
        .into_iter()
        .chain(bytes.iter().map(Vec::as_slice))
        .collect();
    hash_to_field(&parts)
}

/// The blinding values halo2 put on rows `U` of each weight column, replayed from the rng the
/// proof was made with (halo2 draws, per advice column in index order, one value per row of
/// `U`, before anything else).
pub fn replay_blinds(
    rng: &mut impl RngCore,
    num_advice: usize,
    m: usize,
    indices: &[usize],
) -> Vec<Vec<Fr>> {
    let mut all = Vec::with_capacity(num_advice);
    for _ in 0..num_advice {
        all.push((0..m).map(|_| Fr::random(&mut *rng)).collect::<Vec<_>>());
    }
    indices.iter().map(|&c| all[c].clone()).collect()
}

/// The fresh weight-column commitments `C'_c` a proof carries (its first advice commitments,
/// in column order): compressed 32-byte points in a Blake2b proof, `x ‖ y` big-endian 64-byte
/// points in an EVM (Keccak) proof.
pub fn fresh_commitments(
    proof: &[u8],
    indices: &[usize],
    evm: bool,
) -> Result<Vec<G1Affine>, WeightsError> {
    let short = || WeightsError::Malformed("the proof is too short".into());
    // the bytes of point `c` of width `w` (checked: a column index from a file may be huge)
    let at = |c: usize, w: usize| {
        let start = c.checked_mul(w)?;
        proof.get(start..start.checked_add(w)?)
    };
    indices
        .iter()
        .map(|&c| {
            if !evm {
                let bytes = at(c, 32).ok_or_else(short)?;
                return point_from_hex(&hex::encode(bytes));
            }
            let bytes = at(c, 64).ok_or_else(short)?;
            let coordinate = |b: &[u8]| {
                let mut repr = [0u8; 32];
                repr.copy_from_slice(b);
                repr.reverse();
                Option::<halo2_proofs::halo2curves::bn256::Fq>::from(
                    halo2_proofs::halo2curves::bn256::Fq::from_repr(repr),
                )
            };
            let (x, y) = (coordinate(&bytes[..32]), coordinate(&bytes[32..]));
            x.zip(y)
                .and_then(|(x, y)| {
                    use halo2_proofs::halo2curves::CurveAffine;
                    Option::<G1Affine>::from(G1Affine::from_xy(x, y))
                })
                .ok_or_else(|| {
                    WeightsError::Malformed(
                        "a weight commitment in the proof is not a curve point".into(),
                    )
                })
        })
        .collect()
}

/// Proves knowledge of `δ_c = r'_c − s_c` with `C'_c − C_c = Σ δ_c[j]·B_j` for every weight
/// column (`columns` from [`weight_columns`], `fresh_blinds` from [`replay_blinds`]), bound to
/// `context`.
pub fn prove_link(
    wc: &WeightCommitment,
    salt: &Salt,
    columns: &[Vec<Fr>],
    fresh_blinds: &[Vec<Fr>],
    context: &[u8],
    rng: &mut impl RngCore,
) -> Result<WeightLink, WeightsError> {
    let bases = blind_bases(wc)?;
    if columns.len() != wc.columns.len() {
        return Err(WeightsError::Malformed(
            "the weight columns do not match the commitment".into(),
        ));
    }
    let digest = columns_digest(columns, bases.bases().len());
    prove_link_with(wc, salt, &digest, &bases, fresh_blinds, context, rng)
}

/// [`prove_link`] with the columns' digest ([`columns_digest`]) and the bases' table
/// ([`blind_bases`]) already made.
pub fn prove_link_with(
    wc: &WeightCommitment,
    salt: &Salt,
    digest: &[u8; 64],
    bases: &FixedBases,
    fresh_blinds: &[Vec<Fr>],
    context: &[u8],
    rng: &mut impl RngCore,
) -> Result<WeightLink, WeightsError> {
    let m = bases.bases().len();
    if fresh_blinds.len() != wc.columns.len() || wc.bases.len() != m {
        return Err(WeightsError::Malformed(
            "the weight columns do not match the commitment".into(),
        ));
    }
    let deltas: Vec<Vec<Fr>> = wc
        .columns
        .iter()
        .zip(fresh_blinds)
        .map(|(&c, fresh)| {
            fresh
                .iter()
                .zip(salt.of_column(c, digest, m))
                .map(|(r, s)| *r - s)
                .collect()
        })
        .collect();
    let ks: Vec<Vec<Fr>> = deltas
        .iter()
        .map(|d| d.iter().map(|_| Fr::random(&mut *rng)).collect())
        .collect();
    let a: Vec<G1Affine> = ks.par_iter().map(|k| bases.msm(k).to_affine()).collect();
    let e = link_challenge(context, &a);
    let z = ks
        .iter()
        .zip(&deltas)
        .map(|(k, d)| {
            k.iter()
                .zip(d)
                .map(|(k, d)| scalar_hex(&(*k + e * d)))
                .collect()
        })
        .collect();
    Ok(WeightLink {
        a: a.iter().map(point_hex).collect(),
        z,
    })
}

/// The weight columns as [`crate::prover::KnownColumns`]: each column's values on its usable
/// rows and their commitment `C_c − Σ_j s_c[j]·B_j` (the published commitment without its
/// salts), so that a proof commits to a weight column with `|U|` scalar multiplications.
/// `columns` from [`weight_columns`], `digest` their [`columns_digest`], `bases` the
/// commitment's [`blind_bases`]; the salts are the owner's.
pub(crate) fn known_columns(
    wc: &WeightCommitment,
    salt: &Salt,
    columns: &[Vec<Fr>],
    digest: &[u8; 64],
    bases: &Arc<FixedBases>,
) -> Result<crate::prover::KnownColumns, WeightsError> {
    let m = bases.bases().len();
    let first = wc.first_blind_row;
    if columns.len() != wc.columns.len()
        || wc.commitments.len() != wc.columns.len()
        || columns.iter().any(|c| c.len() != first + m)
    {
        return Err(WeightsError::Malformed(
            "the weight columns do not match the commitment".into(),
        ));
    }
    let known = wc
        .columns
        .par_iter()
        .zip(&wc.commitments)
        .zip(columns)
        .map(|((&c, published), values)| {
            let published = point_from_hex(published)?;
            let salts = salt.of_column(c, digest, m);
            let usable = published.to_curve() - bases.msm(&salts);
            Ok((values[..first].to_vec(), usable))
        })
        .collect::<Result<Vec<_>, WeightsError>>()?;
    Ok(crate::prover::KnownColumns::new(
        first,
        bases.clone(),
        known,
    ))
}

/// The weight commitment's bases `B_j` as a table ([`FixedBases`]; at most 64 bases, as
/// [`verify_link`] allows: the table is about 1,000 points a base, and the list comes from a
/// file).
pub fn blind_bases(wc: &WeightCommitment) -> Result<FixedBases, WeightsError> {
    if wc.bases.is_empty() || wc.bases.len() > 64 {
        return Err(WeightsError::Malformed(
            "the weight commitment's bases do not match its blinding rows".into(),
        ));
    }
    let bases: Vec<G1Affine> = wc
        .bases
        .iter()
        .map(|h| point_from_hex(h))
        .collect::<Result<_, _>>()?;
    Ok(FixedBases::new(bases))
}

/// The link's batch coefficients `ρ_c`, one per column: each from one seed over the
/// challenge and every column's responses ([`verify_link`]).
fn batch_coefficients(e: Fr, z: &[Vec<Fr>]) -> Vec<Fr> {
    let seed = {
        let reprs: Vec<[u8; 32]> = z.iter().flatten().map(|s| s.to_repr()).collect();
        let er = e.to_repr();
        let mut parts: Vec<&[u8]> = vec![b"zkinfer/weight-link-batch/v2", er.as_slice()];
        parts.extend(reprs.iter().map(|b| b.as_slice()));
        hash_to_field(&parts).to_repr()
    };
    (0..z.len())
        .map(|c| {
            hash_to_field(&[
                b"zkinfer/weight-link-batch-coefficient/v2",
                seed.as_ref(),
                &(c as u64).to_le_bytes(),
            ])
        })
        .collect()
}

/// Checks a proof's link: its fresh weight commitments (read from `proof`) differ from the
/// published ones only on the blinding rows, by amounts the prover knows.
pub fn verify_link(
    wc: &WeightCommitment,
    k: u32,
    srs: &crate::keys::VerifierSrs,
    link: &WeightLink,
    proof: &[u8],
    evm: bool,
    context: &[u8],
) -> Result<(), WeightsError> {
    let cols = wc.columns.len();
    if wc.commitments.len() != cols
        || link.a.len() != cols
        || link.z.len() != cols
        || link.z.iter().any(|z| z.len() != wc.bases.len())
    {
        return Err(WeightsError::Malformed(
            "the weight link does not match the weight commitment's shape".into(),
        ));
    }
    let bases = check_bases(wc, k, srs)?;
    let published: Vec<G1Affine> = wc
        .commitments
        .iter()
        .map(|h| point_from_hex(h))
        .collect::<Result<_, _>>()?;
    let fresh = fresh_commitments(proof, &wc.columns, evm)?;
    let a: Vec<G1Affine> = link
        .a
        .iter()
        .map(|h| point_from_hex(h))
        .collect::<Result<_, _>>()?;
    let cols = wc.columns.len();
    if published.len() != cols
        || a.len() != cols
        || link.z.len() != cols
        || link.z.iter().any(|z| z.len() != bases.len())
    {
        return Err(WeightsError::Malformed(
            "the weight link does not match the weight commitment's shape".into(),
        ));
    }
    let e = link_challenge(context, &a);
    let z: Vec<Vec<Fr>> = link
        .z
        .iter()
        .map(|zc| zc.iter().map(|h| scalar_from_hex(h)).collect())
        .collect::<Result<_, _>>()?;
    // One batched check, Σ_c ρ_c·(Σ_j z_c[j]·B_j − A_c − e·(C'_c − C_c)) = 0. Every ρ_c
    // derives from one seed hashed over everything the prover sent, after all of it is
    // fixed (`e` covers the commitment digest, the instance, the proof and every A_c; the
    // seed adds every response): a false column equation survives with probability about
    // 1/|F|. (A ρ_c hashed from column c's own response alone would let a prover search
    // each column's term independently, a k-sum problem far easier than the link's
    // discrete logarithm.) Only when the batch fails are the columns checked one by one, to
    // name the bad one.
    let rho = batch_coefficients(e, &z);
    // (no identity among the points: an honest link has none, and multi-scalar
    // multiplication over many points assumes it)
    if a.iter()
        .chain(&fresh)
        .chain(&published)
        .any(|p| bool::from(p.is_identity()))
    {
        return Err(WeightsError::Malformed(
            "the weight link or commitment holds the point at infinity".into(),
        ));
    }
    let mut scalars: Vec<Fr> = vec![Fr::ZERO; bases.len()];
    let mut points: Vec<G1Affine> = bases.clone();
    for c in 0..cols {
        for (s, zj) in scalars.iter_mut().zip(&z[c]) {
            *s += rho[c] * zj;
        }
    }
    for c in 0..cols {
        let er = e * rho[c];
        scalars.extend([-rho[c], -er, er]);
        points.extend([a[c], fresh[c], published[c]]);
    }
    if bool::from(best_multiexp(&scalars, &points).is_identity()) {
        return Ok(());
    }
    for c in 0..cols {
        let lhs = best_multiexp(&z[c], &bases);
        let rhs = a[c].to_curve() + (fresh[c].to_curve() - published[c].to_curve()) * e;
        if lhs != rhs {
            return Err(WeightsError::Malformed(format!(
                "weight column {} of the proof is not the committed one",
                wc.columns[c]
            )));
        }
    }
    // not reached: when every column's equation holds the batch is the identity whatever
    // ρ is (a 1/|F| event can only make a false batch pass, never a true one fail);
    // rejected all the same
    Err(WeightsError::Malformed(
        "the weight link does not verify".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_column_index_is_a_short_proof_not_a_panic() {
        let proof = vec![0u8; 256];
        for evm in [false, true] {
            for c in [usize::MAX, usize::MAX / 32, usize::MAX / 64 + 1, 8] {
                let err = fresh_commitments(&proof, &[c], evm).expect_err("no such point");
                assert!(err.to_string().contains("too short"), "{c}: {err}");
            }
        }
    }

    #[test]
    fn every_batch_coefficient_depends_on_every_response() {
        // a coefficient of column c that depended on c's responses alone would let a prover
        // search each column's term on its own (a k-sum attack on the batch)
        let z: Vec<Vec<Fr>> = (0..4)
            .map(|c| (0..3).map(|j| Fr::from(10 * c + j)).collect())
            .collect();
        let e = Fr::from(99);
        let rho = batch_coefficients(e, &z);
        assert_eq!(rho.len(), 4);
        for c in 0..4 {
            for j in 0..3 {
                let mut edited = z.clone();
                edited[c][j] += Fr::ONE;
                let other = batch_coefficients(e, &edited);
                assert!(
                    rho.iter().zip(&other).all(|(a, b)| a != b),
                    "response ({c}, {j}) leaves some coefficient unchanged"
                );
            }
        }
        assert!(batch_coefficients(e + Fr::ONE, &z)
            .iter()
            .zip(&rho)
            .all(|(a, b)| a != b));
    }
}
