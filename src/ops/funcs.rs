//! The registry of univariate functions proved by table lookup ([`super::func`]): one entry
//! per function — its name, float reference, domain, and whether it is flat at both ends
//! (its table may then cover every representable input). Adding a function is one entry here
//! and, for ONNX, one name in `crate::onnx::ops::unary`.

/// A univariate function.
#[derive(Clone, Copy, Debug)]
pub struct FuncDef {
    /// Name (as in model.json and settings.json).
    pub name: &'static str,
    /// Float reference; `params` are the ONNX attributes in the order the entry documents.
    pub f: fn(f64, &[f64]) -> f64,
    /// Inputs the function is defined on (strictly inside for open bounds).
    pub domain: Domain,
    /// Bounded at both ends (a table over every representable input stays small in value).
    pub flat: bool,
}

/// Where a function is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Every real.
    All,
    /// `x > 0`.
    Positive,
    /// `x ≥ 0`.
    NonNegative,
}

impl Domain {
    /// Whether `x` is in the domain.
    pub fn contains(self, x: f64) -> bool {
        match self {
            Domain::All => x.is_finite(),
            Domain::Positive => x > 0.0,
            Domain::NonNegative => x >= 0.0,
        }
    }
}

fn p(params: &[f64], i: usize, default: f64) -> f64 {
    params.get(i).copied().unwrap_or(default)
}

/// The error function: its Maclaurin series below 2.5, the continued fraction of `erfc` above
/// (error below 1e-12 over the reals).
pub fn erf(x: f64) -> f64 {
    // series for small |x|, complementary asymptotics beyond
    let ax = x.abs();
    let y = if ax < 2.5 {
        // Maclaurin series: 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
        let mut term = ax;
        let mut sum = ax;
        let x2 = ax * ax;
        for n in 1..60 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(x) = e^{-x²}/(x√π) · continued fraction (Lentz), enough terms for x ≥ 2.5
        let mut f = ax;
        for n in (1..60).rev() {
            f = ax + (n as f64 / 2.0) / f;
        }
        1.0 - (-ax * ax).exp() / (f * std::f64::consts::PI.sqrt())
    };
    y.copysign(x)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// The registry.
pub const FUNCS: &[FuncDef] = &[
    FuncDef {
        name: "sigmoid",
        f: |x, _| sigmoid(x),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        name: "tanh",
        f: |x, _| x.tanh(),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        name: "exp",
        f: |x, _| x.exp(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "log",
        f: |x, _| x.ln(),
        domain: Domain::Positive,
        flat: false,
    },
    FuncDef {
        name: "sqrt",
        f: |x, _| x.sqrt(),
        domain: Domain::NonNegative,
        flat: false,
    },
    FuncDef {
        name: "rsqrt",
        f: |x, _| 1.0 / x.sqrt(),
        domain: Domain::Positive,
        flat: false,
    },
    FuncDef {
        name: "reciprocal",
        f: |x, _| 1.0 / x,
        domain: Domain::Positive,
        flat: false,
    },
    FuncDef {
        name: "erf",
        f: |x, _| erf(x),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        // x·Φ(x)
        name: "gelu",
        f: |x, _| 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        name: "gelu_tanh",
        f: |x, _| {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        },
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "softplus",
        f: |x, _| softplus(x),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "softsign",
        f: |x, _| x / (1.0 + x.abs()),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        name: "mish",
        f: |x, _| x * softplus(x).tanh(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        // params: alpha (0.2), beta (0.5)
        name: "hard_sigmoid",
        f: |x, ps| (p(ps, 0, 0.2) * x + p(ps, 1, 0.5)).clamp(0.0, 1.0),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        name: "hard_swish",
        f: |x, _| x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        // params: alpha (1.0)
        name: "elu",
        f: |x, ps| {
            if x > 0.0 {
                x
            } else {
                p(ps, 0, 1.0) * x.exp_m1()
            }
        },
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        // params: alpha (1.67326…), gamma (1.0507…)
        name: "selu",
        f: |x, ps| {
            let (a, g) = (
                p(ps, 0, 1.673_263_242_354_377_3),
                p(ps, 1, 1.050_700_987_355_480_5),
            );
            g * if x > 0.0 { x } else { a * x.exp_m1() }
        },
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        // params: alpha (1.0)
        name: "celu",
        f: |x, ps| {
            let a = p(ps, 0, 1.0);
            x.max(0.0) + (a * (x / a).exp_m1()).min(0.0)
        },
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "sin",
        f: |x, _| x.sin(),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        name: "cos",
        f: |x, _| x.cos(),
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        name: "tan",
        f: |x, _| x.tan(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "atan",
        f: |x, _| x.atan(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "sinh",
        f: |x, _| x.sinh(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "cosh",
        f: |x, _| x.cosh(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "asinh",
        f: |x, _| x.asinh(),
        domain: Domain::All,
        flat: false,
    },
    FuncDef {
        name: "sign",
        f: |x, _| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        },
        domain: Domain::All,
        flat: true,
    },
    FuncDef {
        // params: exponent; x^e on x > 0 (any real exponent)
        name: "pow",
        f: |x, ps| x.powf(p(ps, 0, 1.0)),
        domain: Domain::Positive,
        flat: false,
    },
    FuncDef {
        // params: base; b^x
        name: "exp_base",
        f: |x, ps| p(ps, 0, std::f64::consts::E).powf(x),
        domain: Domain::All,
        flat: false,
    },
];

/// The entry named `name`.
pub fn lookup(name: &str) -> Option<&'static FuncDef> {
    FUNCS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_accurate() {
        // reference values of erf
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (2.5, 0.999_593_047_982_555),
            (3.0, 0.999_977_909_503_001_4),
            (-1.5, -0.966_105_146_475_310_7),
        ] {
            assert!(
                (erf(x) - want).abs() < 1e-12,
                "erf({x}) = {} vs {want}",
                erf(x)
            );
        }
    }

    #[test]
    fn names_are_unique_and_flat_functions_are_bounded() {
        for (i, f) in FUNCS.iter().enumerate() {
            assert!(FUNCS[..i].iter().all(|g| g.name != f.name), "{}", f.name);
            if f.flat {
                for x in [-1e6, -50.0, 50.0, 1e6] {
                    assert!((f.f)(x, &[]).abs() <= 1.0 + 1e-9, "{} at {x}", f.name);
                }
            }
        }
    }
}
