//! # zkinfer-circuits: the halo2 chips behind zkinfer
//!
//! Which chip enforces which relation (all values are fixed-point integers encoded as `x mod p`,
//! see [`fixed`]):
//!
//! | chip | relation | degree |
//! |------|----------|--------|
//! | [`matmul::MatMulChip`] | `acc_j = b_j + Σ_i W_ji·x_i` with `W`, `b` in fixed columns | 3 |
//! | [`rescale::RescaleChip`] | `z + 2^(d−1) = y·2^d + r`, `0 ≤ r < 2^d`; `y = hi·2^R + lo` bounded by its limbs; `a = ReLU(y)` from the sign of `hi` | 3 (lookups 4–5) |
//! | [`product::ProductChip`] | `c = 2^e·a·b` for copied-in `a`, `b` | 4 |
//! | [`func::FuncChip`] | `x ∈ [start, start + 2^r)` by `ℓ = (x − start)·2^(R−r) ∈ [0, 2^R)`, `(tag, start, 2^(R−r), f0, slope)` by table, `acc = f0·2^R + slope·ℓ` | 3 (lookups 4) |
//! | [`poseidon::PoseidonChip`] | Poseidon sponge (width 3, `x^5`) of packed bounded activations | 4 |
//! | [`range::RangeTable`] | lookup table `[0, 2^R)` (remainders, low limbs) | – |
//! | [`relu::ReluTable`] | lookup table `(x, [x < 0])`, `x ∈ [−2^(B−1), 2^(B−1))` (high limbs) | – |
//!
//! Chips never compute witnesses on their own: callers precompute them with the plain-Rust
//! helpers (`DenseWitness::compute`, `RescaleWitness::compute`) that mirror [`fixed`], and the
//! chips only assign. [`testing`] holds the one MockProver harness all chip tests use.

pub mod fixed;
pub mod freivalds;
pub mod func;
pub mod matmul;
pub mod poseidon;
pub mod product;
pub mod range;
pub mod relu;
pub mod rescale;
#[cfg(any(test, feature = "testing"))]
pub mod search;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use halo2_proofs;

use halo2_proofs::{
    arithmetic::Field,
    circuit::{Cell, Layouter, Region, Value},
    plonk::{Advice, Column, Error, Instance},
};

/// A value living in an advice cell, kept with its location so later regions can copy it.
#[derive(Clone, Copy, Debug)]
pub struct Wire<F: Field> {
    /// Where the value sits.
    pub cell: Cell,
    /// The value (unknown during key generation).
    pub value: Value<F>,
}

impl<F: Field> Wire<F> {
    /// Assigns `value` at `(column, offset)` of `region` and returns it as a wire.
    pub fn assign(
        region: &mut Region<'_, F>,
        column: Column<Advice>,
        offset: usize,
        value: Value<F>,
    ) -> Self {
        let cell = region.assign_advice(column, offset, value).cell();
        Self { cell, value }
    }

    /// Copies this wire into `(column, offset)` of `region`, with an equality constraint.
    pub fn copy_to(
        &self,
        region: &mut Region<'_, F>,
        column: Column<Advice>,
        offset: usize,
    ) -> Self {
        let copy = Self::assign(region, column, offset, self.value);
        region.constrain_equal(copy.cell, self.cell);
        copy
    }
}

/// A row cursor. Chips keep their own (region offsets are absolute rows under halo2-axiom's
/// `SimpleFloorPlanner`); chips that lay their rows out in the same columns share one, so
/// their rows never overlap (clones share the cursor).
#[derive(Clone, Debug)]
pub struct Rows(std::rc::Rc<std::cell::Cell<usize>>);

impl Rows {
    /// A cursor at `first_row`.
    pub fn new(first_row: usize) -> Self {
        Self(std::rc::Rc::new(std::cell::Cell::new(first_row)))
    }

    /// The next free row.
    pub fn next(&self) -> usize {
        self.0.get()
    }

    /// Takes `n` rows; returns the first.
    pub fn take(&self, n: usize) -> usize {
        let start = self.0.get();
        self.0.set(start + n);
        start
    }
}

/// `Value::known` of `v` when a witness is present, else `Value::unknown()`.
pub fn known_if<F: Field, T>(witness: Option<T>, f: impl FnOnce(T) -> F) -> Value<F> {
    match witness {
        Some(w) => Value::known(f(w)),
        None => Value::unknown(),
    }
}

/// Copies instance rows `0..n` into advice cells of `column` at rows `0..n` and constrains each
/// to its instance cell. Callers start other chips on `column` at row `n`.
pub fn load_instance<F: Field>(
    layouter: &mut impl Layouter<F>,
    instance: Column<Instance>,
    column: Column<Advice>,
    n: usize,
) -> Result<Vec<Wire<F>>, Error> {
    load_instance_at(layouter, instance, column, n, 0)
}

/// [`load_instance`] into rows `first_row..first_row + n` of `column`.
pub fn load_instance_at<F: Field>(
    layouter: &mut impl Layouter<F>,
    instance: Column<Instance>,
    column: Column<Advice>,
    n: usize,
    first_row: usize,
) -> Result<Vec<Wire<F>>, Error> {
    let wires = layouter.assign_region(
        || "public input",
        |mut region| {
            (0..n)
                .map(|i| {
                    let value = region.instance_value(instance, i)?;
                    Ok(Wire::assign(&mut region, column, first_row + i, value))
                })
                .collect::<Result<Vec<_>, Error>>()
        },
    )?;
    for (i, w) in wires.iter().enumerate() {
        layouter.constrain_instance(w.cell, instance, i);
    }
    Ok(wires)
}
