//! Hashed inputs: the salted Poseidon hash a proof exposes instead of the input
//! (`compile --input hashed`), computed here exactly as the circuit does
//! (`zkinfer_circuits::poseidon`): the sponge over `[salt, packed input…]`, the quantized input
//! values packed `⌊252 / bits⌋` to a field element with `bits` the activation width.

use halo2_proofs::halo2curves::{bn256::Fr, ff::Field};
use zkinfer_circuits::poseidon::{pack, PoseidonParams, SpongeTrace};

/// The permutation's parameters (the standard BN254 ones).
pub fn params() -> &'static PoseidonParams<Fr> {
    zkinfer_circuits::poseidon::bn254()
}

/// The message the circuit hashes: the salt, then the packed values.
pub fn message(values: &[i64], bits: u32, salt: Fr) -> Vec<Fr> {
    let k = (252 / bits as usize).max(1);
    std::iter::once(salt)
        .chain(values.chunks(k).map(|c| pack::<Fr>(c, bits)))
        .collect()
}

/// The sponge rows the circuit assigns for `values` under `salt`.
pub fn trace(values: &[i64], bits: u32, salt: Fr) -> SpongeTrace<Fr> {
    params().trace(&message(values, bits, salt))
}

/// The salted hash of quantized input `values` of `bits` signed bits each.
pub fn hash_input(values: &[i64], bits: u32, salt: Fr) -> Fr {
    trace(values, bits, salt).hash()
}

/// A fresh random salt.
pub fn random_salt() -> Fr {
    Fr::random(rand_core::OsRng)
}

/// A field element as 64 hex digits (its little-endian representation, as proof.json's
/// instances).
pub fn to_hex(f: &Fr) -> String {
    use halo2_proofs::halo2curves::ff::PrimeField;
    hex::encode(f.to_repr())
}

/// Parses [`to_hex`]'s form.
pub fn from_hex(s: &str) -> Option<Fr> {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let bytes: [u8; 32] = hex::decode(s.trim().trim_start_matches("0x"))
        .ok()?
        .try_into()
        .ok()?;
    Option::from(Fr::from_repr(bytes))
}

/// The salted hash of an input file for the build folder `dir` (what a hashed-input proof
/// exposes).
pub fn hash_input_file(
    dir: &std::path::Path,
    input: &std::path::Path,
    salt: Fr,
) -> Result<Fr, crate::pipeline::PipelineError> {
    let (settings, model) = crate::pipeline::read_build(dir)?;
    let lens: Vec<usize> = settings
        .inputs
        .iter()
        .map(|i| crate::artifact::numel(&i.shape).unwrap_or(usize::MAX))
        .collect();
    let values = crate::pipeline::read_input(input, &lens)?;
    let q = crate::witness::quantize_input(&model, &values)?;
    Ok(hash_input(&q, settings.activation_bits, salt))
}

/// Format tag of a hashed output's private file.
pub const HASHED_OUTPUT_FORMAT: &str = "zkinfer/hashed-output/v1";

/// `<proof>.output.json`: a hashed output's salt and values, for whoever should see them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct HashedOutputFile {
    /// Format tag.
    pub format: String,
    /// The salt (64 hex digits).
    pub salt: String,
    /// The outputs (integers, floats, shapes).
    pub outputs: Vec<crate::artifact::OutputField>,
}

/// The salted hash of a hashed output's file for the build folder `dir` (what the proof
/// exposes), with the settings' activation width.
pub fn hash_output_file(
    dir: &std::path::Path,
    file: &std::path::Path,
) -> Result<Fr, crate::pipeline::PipelineError> {
    let (settings, _) = crate::pipeline::read_build(dir)?;
    let f: HashedOutputFile = crate::artifact::read_json(file, HASHED_OUTPUT_FORMAT)?;
    let salt = from_hex(&f.salt).ok_or_else(|| {
        crate::artifact::ArtifactError::malformed(file, "\"salt\" is not a field element")
    })?;
    let values: Vec<i64> = f.outputs.iter().flat_map(|o| o.values.clone()).collect();
    let bad = |msg: String| -> crate::pipeline::PipelineError {
        crate::artifact::ArtifactError::malformed(file, msg).into()
    };
    if values.len() != settings.output_len {
        return Err(bad(format!(
            "{} output values, the model has {}",
            values.len(),
            settings.output_len
        )));
    }
    // values the circuit could have hashed (packing is injective only in range), and every
    // other field exactly what those values mean: nothing in the file goes unchecked
    if let Some(v) = values
        .iter()
        .find(|&&v| !zkinfer_circuits::fixed::fits_signed(v, settings.activation_bits))
    {
        return Err(bad(format!(
            "output value {v} is outside the compiled range of ±2^{}",
            settings.activation_bits - 1
        )));
    }
    let expected = crate::artifact::OutputField::split(&settings, &values);
    if expected.len() != f.outputs.len()
        || expected.iter().zip(&f.outputs).any(|(a, b)| !a.same_as(b))
    {
        return Err(bad(
            "names, shapes, scales, floats or predicted classes do not match the values".into(),
        ));
    }
    Ok(hash_input(&values, settings.activation_bits, salt))
}
