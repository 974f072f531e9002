//! The plain-Rust reference of every fixed-point operation the chips enforce, and the one place
//! where signed integers meet field elements.
//!
//! A tensor at scale `s` holds integers `q` meaning `q / 2^s`. Field elements encode a signed
//! integer `x` as `x mod p`: [`to_field`] and [`from_field`] are the only conversions.

use halo2_proofs::halo2curves::ff::PrimeField;

/// Encodes a signed integer as `x mod p`.
pub fn to_field<F: PrimeField>(x: i64) -> F {
    if x >= 0 {
        F::from(x as u64)
    } else {
        -F::from(x.unsigned_abs())
    }
}

/// Decodes a field element to the signed integer it encodes, or `None` when it encodes no
/// integer in `i64` range. Assumes a little-endian representation (true of BN254's `Fr`).
pub fn from_field<F: PrimeField<Repr = [u8; 32]>>(f: &F) -> Option<i64> {
    fn small(repr: &[u8; 32]) -> Option<u64> {
        if repr[8..].iter().any(|&b| b != 0) {
            return None;
        }
        let mut le = [0u8; 8];
        le.copy_from_slice(&repr[..8]);
        Some(u64::from_le_bytes(le))
    }
    if let Some(v) = small(&f.to_repr()) {
        return i64::try_from(v).ok();
    }
    let neg = small(&(-*f).to_repr())?;
    if neg <= i64::MAX as u64 + 1 {
        Some((neg as i64).wrapping_neg())
    } else {
        None
    }
}

/// `2^e` as a field element (`e < 64`).
pub fn pow2<F: PrimeField>(e: u32) -> F {
    F::from(1u64 << e)
}

/// Rescale by `2^d` with round-half-up: `y = floor((x + 2^(d-1)) / 2^d)` and the remainder `r`
/// with `x + 2^(d-1) = y·2^d + r`, `0 ≤ r < 2^d`. For `d = 0` the rounding term is 0, `y = x`.
/// Total for `d < 63`, even at `x = i64::MAX`.
pub fn rescale(x: i64, d: u32) -> (i64, i64) {
    if d == 0 {
        return (x, 0);
    }
    // in i128: x + 2^(d−1) may pass i64::MAX; the quotient (d ≥ 1) and remainder fit i64
    let shifted = i128::from(x) + i128::from(rounding_term(d));
    let y = shifted.div_euclid(1i128 << d) as i64;
    (y, shifted.rem_euclid(1i128 << d) as i64)
}

/// The rounding term `2^(d-1)` that rescale adds (0 for `d = 0`).
pub fn rounding_term(d: u32) -> i64 {
    if d == 0 {
        0
    } else {
        1i64 << (d - 1)
    }
}

/// ReLU on integers.
pub fn relu(x: i64) -> i64 {
    x.max(0)
}

/// `b + Σ w·x` in exact integer arithmetic; `None` on `i64` overflow.
pub fn dot(weights: &[i64], x: &[i64], bias: i64) -> Option<i64> {
    weights
        .iter()
        .zip(x)
        .try_fold(bias, |acc, (&w, &v)| acc.checked_add(w.checked_mul(v)?))
}

/// Whether `x` lies in the signed range `[-2^(bits-1), 2^(bits-1))`.
/// `bits = 0` admits nothing; `bits ≥ 64` admits every `i64`.
pub fn fits_signed(x: i64, bits: u32) -> bool {
    match bits {
        0 => false,
        1..=63 => {
            let half = 1i64 << (bits - 1);
            (-half..half).contains(&x)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::halo2curves::bn256::Fr;

    #[test]
    fn field_round_trip() {
        for x in [
            0i64,
            1,
            -1,
            42,
            -42,
            i64::MAX,
            i64::MIN,
            1 << 40,
            -(1 << 40),
        ] {
            assert_eq!(from_field(&to_field::<Fr>(x)), Some(x), "{x}");
        }
        assert_eq!(from_field(&(to_field::<Fr>(i64::MAX) + Fr::one())), None);
    }

    #[test]
    fn rescale_rounds_half_up() {
        // 2.5 -> 3, -2.5 -> -2, 2.25 -> 2 at d = 2 (x = value·4)
        assert_eq!(rescale(10, 2), (3, 0));
        assert_eq!(rescale(-10, 2), (-2, 0));
        assert_eq!(rescale(9, 2), (2, 3));
        assert_eq!(rescale(-9, 2), (-2, 1));
        assert_eq!(rescale(7, 0), (7, 0));
        for x in -300..300 {
            for d in 0..6 {
                let (y, r) = rescale(x, d);
                assert_eq!(x + rounding_term(d), y * (1 << d) + r);
                assert!((0..1 << d).contains(&r));
            }
        }
        // near i64::MAX the rounding term must not overflow
        assert_eq!(rescale(i64::MAX, 1), (1 << 62, 0));
        assert_eq!(rescale(i64::MIN, 40), (-(1 << 23), 1 << 39));
    }

    #[test]
    fn dot_and_bounds() {
        assert_eq!(dot(&[1, -2, 3], &[4, 5, 6], 7), Some(4 - 10 + 18 + 7));
        assert_eq!(dot(&[i64::MAX], &[2], 0), None);
        assert!(fits_signed(-128, 8) && fits_signed(127, 8));
        assert!(!fits_signed(128, 8) && !fits_signed(-129, 8));
        assert!(!fits_signed(0, 0) && fits_signed(i64::MIN, 64) && fits_signed(i64::MAX, 200));
    }
}
