//! Import of BN254 powers-of-tau files in the snarkjs / Hermez `.ptau` format, the files the
//! Perpetual Powers of Tau and Hermez ceremonies publish, into zkinfer's KZG SRS.
//!
//! A `.ptau` file is a snarkjs "binfile": the magic `ptau`, a version (`u32`), a section count
//! (`u32`), then sections, each a type (`u32`), a byte size (`u64`) and its data; integers are
//! little-endian. zkinfer reads three sections and skips the rest (contributions, the α/β
//! powers, the Lagrange sections `prepare phase2` adds):
//! - 1, header: `n8` (32), the base-field modulus `q` (`n8` bytes), `power`, `ceremonyPower`;
//! - 2, `τ^i·G1` for `i < 2^(power+1) − 1`;
//! - 3, `τ^i·G2` for `i < 2^power`.
//!
//! Points are affine `(x, y)` with each coordinate `n8` bytes little-endian in Montgomery form
//! (`Fq2` as `c0 ‖ c1`): the same bytes as halo2's raw point encoding.
//!
//! An SRS of size `2^k` (`k ≤ power`) takes the first `2^k` G1 powers, `G2` and `τ·G2`, and
//! its Lagrange basis by an inverse FFT over the group. Before any of it is used the import
//! checks that every G1 point taken is on the curve and not the identity, that `g₀` and `g₂` are
//! the standard generators, that `τ·G2` lies in the order-`r` subgroup, and, with random
//! weights `ρᵢ` drawn from the OS, the pairing equation
//! `e(Σ ρᵢ·g_{i+1}, G2) = e(Σ ρᵢ·g_i, τ·G2)`: that the G1 points really are consecutive
//! powers of the `τ` in `τ·G2` (a file failing it fails with probability ≥ 1 − 1/r).
//! Sizes in the file are checked against the file's length before anything is allocated.

use crate::keys::{KeysError, Srs, VerifierSrs, MAX_SRS_K};
use halo2_proofs::{
    arithmetic::{best_multiexp, g_to_lagrange, parallelize},
    halo2curves::{
        bn256::{Bn256, Fq, Fr, G1Affine, G2Affine, G2Prepared, G1, G2},
        ff::{Field, PrimeField},
        group::{prime::PrimeCurveAffine, Curve, Group},
        pairing::{MillerLoopResult, MultiMillerLoop},
        serde::SerdeObject,
    },
    poly::kzg::commitment::ParamsKZG,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The file magic.
pub const MAGIC: &[u8; 4] = b"ptau";
/// Largest `power` a published ceremony file has (Hermez: 28).
const MAX_POWER: u32 = 28;
const G1_BYTES: usize = 64;
const G2_BYTES: usize = 128;
/// Header section: `n8`, `q`, `power`, `ceremonyPower`.
const HEADER_BYTES: u64 = 4 + 32 + 4 + 4;
const MAX_SECTIONS: u32 = 64;

/// Whether `bytes` starts like a `.ptau` file.
pub fn is_ptau(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Whether the file at `path` starts like a `.ptau` file (false when it cannot be read: the
/// caller's own read reports that).
pub fn is_ptau_file(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == MAGIC
}

/// What a `.ptau` file's header and section table say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtauInfo {
    /// The file's `power`: it holds `2^(power+1) − 1` G1 powers and `2^power` G2 powers.
    pub power: u32,
    /// `power` of the ceremony the file was cut from.
    pub ceremony_power: u32,
    /// Offset of the G1 powers.
    g1_at: u64,
    /// Offset of the G2 powers.
    g2_at: u64,
}

impl PtauInfo {
    /// Largest SRS `k` the file can give.
    pub fn max_k(&self) -> u32 {
        self.power.min(MAX_SRS_K)
    }
}

fn bad(what: &str, msg: impl Into<String>) -> KeysError {
    KeysError::BadSrs {
        what: what.to_string(),
        msg: msg.into(),
    }
}

fn io_bad(what: &str, e: std::io::Error) -> KeysError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        bad(what, "truncated .ptau file")
    } else {
        bad(what, format!("reading: {e}"))
    }
}

fn read_u32<R: Read>(r: &mut R) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64<R: Read>(r: &mut R) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Reads the header and section table, checking every size against the file's length.
pub fn read_info<R: Read + Seek>(r: &mut R, what: &str) -> Result<PtauInfo, KeysError> {
    let io = |e| io_bad(what, e);
    let len = r.seek(SeekFrom::End(0)).map_err(io)?;
    r.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).map_err(io)?;
    if &magic != MAGIC {
        return Err(bad(what, "not a .ptau file (no `ptau` magic)"));
    }
    let version = read_u32(r).map_err(io)?;
    if version != 1 {
        return Err(bad(what, format!(".ptau version {version}, expected 1")));
    }
    let n_sections = read_u32(r).map_err(io)?;
    if n_sections > MAX_SECTIONS {
        return Err(bad(
            what,
            format!(
                "header claims {n_sections} sections (a .ptau file has at most {MAX_SECTIONS})"
            ),
        ));
    }
    let mut sections: Vec<(u32, u64, u64)> = Vec::new(); // (type, offset, size)
    let mut pos = 12u64;
    for _ in 0..n_sections {
        let kind = read_u32(r).map_err(io)?;
        let size = read_u64(r).map_err(io)?;
        pos += 12;
        let left = len
            .checked_sub(pos)
            .ok_or_else(|| bad(what, "truncated .ptau file"))?;
        if size > left {
            return Err(bad(
                what,
                format!("section {kind} claims {size} bytes, only {left} remain in the file"),
            ));
        }
        if sections.iter().any(|s| s.0 == kind) {
            return Err(bad(what, format!("section {kind} appears twice")));
        }
        sections.push((kind, pos, size));
        pos += size;
        r.seek(SeekFrom::Start(pos)).map_err(io)?;
    }
    if pos != len {
        return Err(bad(
            what,
            format!("{} bytes after the last section", len.saturating_sub(pos)),
        ));
    }
    let section = |kind: u32, name: &str| {
        sections
            .iter()
            .find(|s| s.0 == kind)
            .map(|s| (s.1, s.2))
            .ok_or_else(|| bad(what, format!("no {name} section (section {kind})")))
    };
    let (at, size) = section(1, "header")?;
    let not_bn254 = || {
        bad(
            what,
            "the file is not for BN254 (bn128): its field modulus differs",
        )
    };
    if size < 4 {
        return Err(bad(what, format!("header section has {size} bytes")));
    }
    r.seek(SeekFrom::Start(at)).map_err(io)?;
    let n8 = read_u32(r).map_err(io)?;
    if n8 != 32 {
        return Err(not_bn254());
    }
    if size != HEADER_BYTES {
        return Err(bad(
            what,
            format!("header section has {size} bytes, a BN254 header has {HEADER_BYTES}"),
        ));
    }
    let mut q = [0u8; 32];
    r.read_exact(&mut q).map_err(io)?;
    if q != bn254_modulus_le() {
        return Err(not_bn254());
    }
    let power = read_u32(r).map_err(io)?;
    let ceremony_power = read_u32(r).map_err(io)?;
    if !(1..=MAX_POWER).contains(&power) || power > ceremony_power || ceremony_power > MAX_POWER {
        return Err(bad(
            what,
            format!("header says power {power} of a power-{ceremony_power} ceremony: expected 1 ≤ power ≤ ceremony power ≤ {MAX_POWER}"),
        ));
    }
    let (g1_at, g1_size) = section(2, "τ·G1 powers")?;
    let want = ((1u64 << (power + 1)) - 1) * G1_BYTES as u64;
    if g1_size != want {
        return Err(bad(
            what,
            format!("τ·G1 section has {g1_size} bytes, power {power} needs {want}"),
        ));
    }
    let (g2_at, g2_size) = section(3, "τ·G2 powers")?;
    let want = (1u64 << power) * G2_BYTES as u64;
    if g2_size != want {
        return Err(bad(
            what,
            format!("τ·G2 section has {g2_size} bytes, power {power} needs {want}"),
        ));
    }
    Ok(PtauInfo {
        power,
        ceremony_power,
        g1_at,
        g2_at,
    })
}

/// `q` little-endian (snarkjs writes it so in the header).
fn bn254_modulus_le() -> [u8; 32] {
    // Fq's canonical representation of −1 is q − 1, little-endian.
    let mut q = (-Fq::ONE).to_repr();
    // q − 1 is even, so adding one does not carry.
    q[0] += 1;
    q
}

fn g1_from(bytes: &[u8], what: &str, i: usize) -> Result<G1Affine, KeysError> {
    match G1Affine::from_raw_bytes(bytes) {
        Some(p) if !bool::from(p.is_identity()) => Ok(p),
        Some(_) => Err(bad(what, format!("τ^{i}·G1 is the point at infinity"))),
        None => Err(bad(
            what,
            format!("τ^{i}·G1 is not a BN254 G1 point (coordinates out of range or off the curve)"),
        )),
    }
}

fn g2_from(bytes: &[u8], what: &str, i: usize) -> Result<G2Affine, KeysError> {
    let p = G2Affine::from_raw_bytes(bytes).ok_or_else(|| {
        bad(
            what,
            format!("τ^{i}·G2 is not a BN254 G2 point (coordinates out of range or off the curve)"),
        )
    })?;
    // [r]·p = 0 ⇔ p in the order-r subgroup: multiply by r − 1 and compare with −p.
    let in_subgroup = G2::from(p) * (-Fr::ONE) == -G2::from(p);
    if bool::from(p.is_identity()) || !in_subgroup {
        return Err(bad(
            what,
            format!("τ^{i}·G2 is not in BN254's prime-order G2 subgroup"),
        ));
    }
    Ok(p)
}

/// Reads `G2` and `τ·G2`, checking them.
fn read_g2<R: Read + Seek>(
    r: &mut R,
    info: &PtauInfo,
    what: &str,
) -> Result<(G2Affine, G2Affine), KeysError> {
    let io = |e| io_bad(what, e);
    r.seek(SeekFrom::Start(info.g2_at)).map_err(io)?;
    let mut buf = [0u8; 2 * G2_BYTES];
    r.read_exact(&mut buf).map_err(io)?;
    let g2 = g2_from(&buf[..G2_BYTES], what, 0)?;
    let s_g2 = g2_from(&buf[G2_BYTES..], what, 1)?;
    if g2 != G2Affine::generator() {
        return Err(bad(what, "τ^0·G2 is not the BN254 G2 generator"));
    }
    if s_g2 == g2 {
        return Err(bad(what, "τ = 1: the file is not the result of a ceremony"));
    }
    Ok((g2, s_g2))
}

/// Reads the first `n` G1 powers, checking each point.
fn read_g1<R: Read + Seek>(
    r: &mut R,
    info: &PtauInfo,
    n: usize,
    what: &str,
) -> Result<Vec<G1Affine>, KeysError> {
    let io = |e| io_bad(what, e);
    r.seek(SeekFrom::Start(info.g1_at)).map_err(io)?;
    let mut raw = vec![0u8; n * G1_BYTES];
    r.read_exact(&mut raw).map_err(io)?;
    let point = |i: usize| g1_from(&raw[i * G1_BYTES..(i + 1) * G1_BYTES], what, i);
    // decode in place; the first bad index is re-decoded for its error
    let first_bad = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let mut points = vec![G1Affine::identity(); n];
    parallelize(&mut points, |chunk, start| {
        for (j, p) in chunk.iter_mut().enumerate() {
            match point(start + j) {
                Ok(q) => *p = q,
                Err(_) => {
                    first_bad.fetch_min(start + j, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    });
    let bad_at = first_bad.into_inner();
    if bad_at != usize::MAX {
        return Err(point(bad_at).expect_err("failed above"));
    }
    drop(raw);
    if points[0] != G1Affine::generator() {
        return Err(bad(what, "τ^0·G1 is not the BN254 G1 generator"));
    }
    Ok(points)
}

/// Checks `e(Σ ρᵢ·g_{i+1}, g₂) = e(Σ ρᵢ·g_i, τ·g₂)` with random `ρ`: the G1 points are the
/// consecutive powers of the `τ` in `τ·g₂`.
fn check_powers(g: &[G1Affine], g2: G2Affine, s_g2: G2Affine) -> bool {
    if g.len() < 2 {
        return true;
    }
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    let mut rng = ChaCha20Rng::from_seed(seed);
    let rho: Vec<Fr> = (0..g.len() - 1).map(|_| Fr::random(&mut rng)).collect();
    let next: G1 = best_multiexp(&rho, &g[1..]);
    let prev: G1 = best_multiexp(&rho, &g[..g.len() - 1]);
    let terms = [
        (&next.to_affine(), &G2Prepared::from(g2)),
        (&(-prev).to_affine(), &G2Prepared::from(s_g2)),
    ];
    bool::from(
        Bn256::multi_miller_loop(&terms)
            .final_exponentiation()
            .is_identity(),
    )
}

/// Imports the SRS of size `2^k` (`k` = the file's largest when `None`) from a `.ptau` file.
pub fn read_srs<R: Read + Seek>(r: &mut R, k: Option<u32>, what: &str) -> Result<Srs, KeysError> {
    let info = read_info(r, what)?;
    let k = match k {
        Some(k) if k == 0 || k > info.max_k() => {
            return Err(bad(
                what,
                format!(
                    "k = {k} requested, the file (power {}) gives 1 ≤ k ≤ {}",
                    info.power,
                    info.max_k()
                ),
            ))
        }
        Some(k) => k,
        None if info.power > MAX_SRS_K => {
            return Err(bad(
                what,
                format!(
                    "the file has power {}, zkinfer uses k ≤ {MAX_SRS_K}: choose one with --k",
                    info.power
                ),
            ))
        }
        None => info.power,
    };
    let (g2, s_g2) = read_g2(r, &info, what)?;
    let g = read_g1(r, &info, 1 << k, what)?;
    if !check_powers(&g, g2, s_g2) {
        return Err(bad(
            what,
            "its τ·G1 points are not the successive powers of the τ in its τ·G2 (pairing check failed): the file is corrupt or forged",
        ));
    }
    let lagrange = g_to_lagrange(g.iter().map(PrimeCurveAffine::to_curve).collect(), k);
    // `from_parts` is a method; any instance serves as receiver.
    let base = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::from_seed([0; 32]));
    Ok(base.from_parts(k, g, Some(lagrange), g2, s_g2))
}

/// Imports the SRS of size `2^k` from the `.ptau` file at `path`.
pub fn read_srs_file(path: &Path, k: Option<u32>) -> Result<Srs, crate::pipeline::PipelineError> {
    let mut f = open(path)?;
    Ok(read_srs(&mut f, k, &path.display().to_string())?)
}

/// The verifier part of a `.ptau` file (`g₀`, `G2`, `τ·G2` and its power as `k`), checking those
/// points and the first power (`e(g₁, G2) = e(g₀, τ·G2)`) without reading the rest.
pub fn read_verifier_srs<R: Read + Seek>(r: &mut R, what: &str) -> Result<VerifierSrs, KeysError> {
    let info = read_info(r, what)?;
    let (g2, s_g2) = read_g2(r, &info, what)?;
    let g = read_g1(r, &info, 2, what)?;
    if !check_powers(&g, g2, s_g2) {
        return Err(bad(
            what,
            "τ·G1 is not τ times the generator of its τ·G2 (pairing check failed): the file is corrupt or forged",
        ));
    }
    Ok(VerifierSrs::from_points(info.max_k(), g[0], g2, s_g2))
}

/// [`read_verifier_srs`] of the file at `path`.
pub fn read_verifier_srs_file(
    path: &Path,
) -> Result<(VerifierSrs, PtauInfo), crate::pipeline::PipelineError> {
    let what = path.display().to_string();
    let mut f = open(path)?;
    let info = read_info(&mut f, &what)?;
    Ok((read_verifier_srs(&mut f, &what)?, info))
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, crate::artifact::ArtifactError> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|source| crate::artifact::ArtifactError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes a minimal `.ptau` file (header, τ·G1 and τ·G2 sections) of the given power: for tests
/// and fuzz seeds. `g1` must hold `2^(power+1) − 1` points; `g2` holds `G2, τ·G2`, and the
/// remaining G2 powers, which zkinfer does not read, repeat `G2`.
pub fn write_minimal(
    power: u32,
    ceremony_power: u32,
    g1: &[G1Affine],
    g2: [G2Affine; 2],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&3u32.to_le_bytes());
    let mut section = |kind: u32, data: Vec<u8>| {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&data);
    };
    let mut header = 32u32.to_le_bytes().to_vec();
    header.extend_from_slice(&bn254_modulus_le());
    header.extend_from_slice(&power.to_le_bytes());
    header.extend_from_slice(&ceremony_power.to_le_bytes());
    section(1, header);
    section(2, g1.iter().flat_map(|p| p.to_raw_bytes()).collect());
    let mut g2s = vec![g2[0], g2[1]];
    g2s.resize(1 << power, g2[0]);
    section(3, g2s.iter().flat_map(|p| p.to_raw_bytes()).collect());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{dev_srs, srs_to_bytes};
    use halo2_proofs::poly::commitment::{Params, ParamsProver};
    use std::io::Cursor;

    /// The dev SRS at k = 6 written as a power-5 .ptau file (63 G1 powers).
    fn dev_ptau() -> (Srs, Vec<u8>) {
        let srs = dev_srs(6).unwrap();
        let bytes = write_minimal(5, 8, &srs.get_g()[..63], [srs.g2(), srs.s_g2()]);
        (srs, bytes)
    }

    #[test]
    fn imports_what_halo2_would_generate() {
        let (srs, bytes) = dev_ptau();
        for k in 1..=5 {
            let imported = read_srs(&mut Cursor::new(&bytes), Some(k), "t").unwrap();
            let mut want = srs.clone();
            want.downsize(k);
            assert_eq!(srs_to_bytes(&imported), srs_to_bytes(&want), "k = {k}");
        }
        let full = read_srs(&mut Cursor::new(&bytes), None, "t").unwrap();
        assert_eq!(full.k(), 5);
        let v = read_verifier_srs(&mut Cursor::new(&bytes), "t").unwrap();
        assert_eq!(v.id(), VerifierSrs::from_srs(&srs).id());
        assert!(v.is_dev());
    }

    #[test]
    fn refuses_inconsistent_powers() {
        let (srs, _) = dev_ptau();
        let mut g1 = srs.get_g()[..63].to_vec();
        // a valid curve point, but not τ^7·G1
        g1[7] = (G1::from(g1[7]) + G1::generator()).to_affine();
        let bytes = write_minimal(5, 5, &g1, [srs.g2(), srs.s_g2()]);
        let e = read_srs(&mut Cursor::new(&bytes), Some(4), "t").unwrap_err();
        assert!(e.to_string().contains("pairing check failed"), "{e}");
        // k = 2 uses only g[0..4]: untouched, so accepted
        read_srs(&mut Cursor::new(&bytes), Some(2), "t").unwrap();
        // τ·G2 of another τ
        let other = ParamsKZG::<Bn256>::setup(2, ChaCha20Rng::from_seed([9; 32]));
        let bytes = write_minimal(5, 5, &srs.get_g()[..63], [srs.g2(), other.s_g2()]);
        let e = read_verifier_srs(&mut Cursor::new(&bytes), "t").unwrap_err();
        assert!(e.to_string().contains("pairing check failed"), "{e}");
    }

    #[test]
    fn refuses_bad_headers_before_allocating() {
        let (_, bytes) = dev_ptau();
        let refuse = |b: &[u8], needle: &str| {
            let e = read_srs(&mut Cursor::new(b), None, "t")
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        };
        refuse(b"ptau", "truncated");
        refuse(b"snark", "no `ptau` magic");
        let mut b = bytes.clone();
        b[4] = 2;
        refuse(&b, "version 2");
        // section count 2^32 − 1
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        refuse(&b, "sections");
        // the header section claims 2^40 bytes
        let mut b = bytes.clone();
        b[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
        refuse(&b, "only");
        // power 60
        let mut b = bytes.clone();
        b[24 + 36..24 + 40].copy_from_slice(&60u32.to_le_bytes());
        refuse(&b, "power 60");
        // another curve's modulus
        let mut b = bytes.clone();
        b[24 + 4] ^= 1;
        refuse(&b, "not for BN254");
        // trailing bytes
        let mut b = bytes.clone();
        b.push(0);
        refuse(&b, "after the last section");
        // a flipped coordinate bit
        let mut b = bytes.clone();
        let g1_at = 12 + 12 + HEADER_BYTES as usize + 12;
        b[g1_at + 64 * 3 + 5] ^= 0x10;
        refuse(&b, "τ^3·G1 is not a BN254 G1 point");
        let e = read_srs(&mut Cursor::new(&bytes), Some(6), "t").unwrap_err();
        assert!(e.to_string().contains("1 ≤ k ≤ 5"), "{e}");
    }

    #[test]
    fn modulus_is_bn254_q() {
        let q = bn254_modulus_le();
        // 21888242871839275222246405745257275088696311157297823662689037894645226208583
        assert_eq!(
            hex::encode(q.iter().rev().copied().collect::<Vec<u8>>()),
            "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47"
        );
    }
}
