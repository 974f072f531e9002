//! # Poseidon sponge over packed activations (hashed input and output)
//!
//! The Poseidon permutation of width 3 (rate 2, capacity 1), S-box `x^5`, `R_F` full and `R_P`
//! partial rounds, with the caller's round constants and MDS matrix (zkinfer passes the
//! standard BN254 parameters: `R_F = 8`, `R_P = 57`, constants from the reference Grain LFSR).
//! The sponge hashes a message `m_1 … m_L` from the state `(0, 0, L)`: each block adds two
//! message elements (the last one padded with 0) to the rate and permutes; the hash is the
//! first state element at the end.
//!
//! Message elements are **packed** activations: `K` values `x_k` of `w` signed bits each
//! (bounded by their producer's range check) as `e = Σ_k (x_k + 2^(w−1))·2^(w·(K−1−k))`,
//! accumulated by Horner's rule, so `e` determines every `x_k` (`w·K < 253`).
//!
//! | `s0 s1 s2` (state) | `sq0 sq1 sq2` | `p_x` (eq) | `p_acc` (eq) | `rc0 rc1 rc2` (fixed) |
//! |--------------------|---------------|------------|--------------|------------------------------|
//!
//! A block's two message elements sit in `sq0`, `sq1` of the row before its first round (the
//! init row or the previous block's final state, where no round uses the squares), so the
//! sponge takes six columns; the packing's two may be other columns, or (`configure_in` with
//! `sq0`, `sq1` as the packing columns) rows of `sq0`, `sq1` below the sponges.
//!
//! Gates (degree ≤ 4):
//! - `"poseidon init"` (`q_init`): `s0 = s1 = 0`, `s2 = rc2` (the message length, in the
//!   round-constant column on the init row, where no round reads it);
//! - `"poseidon absorb"` (`q_absorb`): `s_i = s_i(prev) + sq_i(prev)` (`i = 0, 1`),
//!   `s2 = s2(prev)`;
//! - `"poseidon padding"` (`q_pad_i`, on the row before the absorb): `sq_i = 0` where the
//!   message has no element;
//! - `"poseidon full round"` (`q_full`): with `t_i = s_i + rc_i`: `sq_i = t_i²` and
//!   `s_j(next) = Σ_i M_ji·sq_i²·t_i`;
//! - `"poseidon partial round"` (`q_partial`): `sq_0 = t_0²`,
//!   `s_j(next) = M_j0·sq_0²·t_0 + Σ_{i≥1} M_ji·t_i`;
//! - `"pack first"` / `"pack"` (`q_pack0`, `q_pack`): `p_acc = p_x + 2^(w−1)`,
//!   `p_acc = p_acc(prev)·2^w + p_x + 2^(w−1)`.
//!
//! Soundness: every state transition is a gate of the permutation with its constants in fixed
//! columns; initialisation, absorption and padding are gates and the message cells are copied
//! in, so the last `s0` is the sponge of the copied-in message. The packing is injective for
//! bounded `x_k` (the caller's range checks). `configure` enables equality on `s0`, `sq0`,
//! `sq1`, `p_x` and `p_acc`.
//!
//! Cells no constraint reads (the chip assigns them 0; no value of theirs reaches the hash, and
//! the under-constraint search in the tests finds exactly these free): `sq1`, `sq2` on
//! partial-round rows, `sq2` on each block's message row, and `sq0 … sq2` on the last row.

use crate::{fixed::to_field, Wire};
use halo2_proofs::{
    circuit::{Layouter, Value},
    halo2curves::{bn256::Fr, ff::PrimeField},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells},
    poly::Rotation,
};

/// The permutation's parameters.
#[derive(Clone, Debug)]
pub struct PoseidonParams<F> {
    /// Full rounds (even; half before and half after the partial ones).
    pub full_rounds: usize,
    /// Partial rounds.
    pub partial_rounds: usize,
    /// The MDS matrix.
    pub mds: [[F; 3]; 3],
    /// Round constants, one row per round.
    pub round_constants: Vec<[F; 3]>,
}

impl<F: PrimeField> Default for PoseidonParams<F> {
    fn default() -> Self {
        Self {
            full_rounds: 0,
            partial_rounds: 0,
            mds: [[F::ZERO; 3]; 3],
            round_constants: vec![],
        }
    }
}

/// The rows of one sponge: `(state, squares)` per row, as [`PoseidonChip::hash`] assigns them
/// (the init row; per block the absorbed state, then the state after each round). On the rows
/// before a block's first round the chip puts the block's message in `sq0`, `sq1` instead of
/// these zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpongeTrace<F> {
    /// Per row.
    pub rows: Vec<([F; 3], [F; 3])>,
}

impl<F: Copy + Default> SpongeTrace<F> {
    /// The hash: the first state element of the last row.
    pub fn hash(&self) -> F {
        self.rows.last().map(|r| r.0[0]).unwrap_or_default()
    }
}

impl<F: PrimeField> PoseidonParams<F> {
    fn is_full(&self, round: usize) -> bool {
        let half = self.full_rounds / 2;
        round < half || round >= half + self.partial_rounds
    }

    fn rounds(&self) -> usize {
        self.full_rounds + self.partial_rounds
    }

    /// One round on `state`; returns the squares the chip assigns.
    fn round(&self, r: usize, state: &mut [F; 3]) -> [F; 3] {
        let rc = self.round_constants[r];
        let t: [F; 3] = [0, 1, 2].map(|i| state[i] + rc[i]);
        let full = self.is_full(r);
        let sboxed = |i: usize| full || i == 0;
        let sq = [0, 1, 2].map(|i| if sboxed(i) { t[i].square() } else { F::ZERO });
        let u: [F; 3] = [0, 1, 2].map(|i| {
            if sboxed(i) {
                sq[i].square() * t[i]
            } else {
                t[i]
            }
        });
        *state = [0, 1, 2].map(|j| (0..3).map(|i| self.mds[j][i] * u[i]).sum());
        sq
    }

    /// The permutation, natively.
    pub fn permute(&self, state: &mut [F; 3]) {
        for r in 0..self.rounds() {
            self.round(r, state);
        }
    }

    /// The sponge hash of `message` (see the module doc).
    pub fn hash(&self, message: &[F]) -> F {
        self.trace(message).hash()
    }

    /// Every row the chip assigns for `message`.
    pub fn trace(&self, message: &[F]) -> SpongeTrace<F> {
        let mut state = [F::ZERO, F::ZERO, F::from(message.len() as u64)];
        let mut rows = vec![(state, [F::ZERO; 3])];
        for b in 0..message.len().div_ceil(2).max(1) {
            state[0] += message.get(2 * b).copied().unwrap_or(F::ZERO);
            state[1] += message.get(2 * b + 1).copied().unwrap_or(F::ZERO);
            for r in 0..self.rounds() {
                let before = state;
                let sq = self.round(r, &mut state);
                rows.push((before, sq));
            }
            rows.push((state, [F::ZERO; 3]));
        }
        // the absorbed state of a block is its first round row; the last row of a block is
        // the next block's "previous" row
        SpongeTrace { rows }
    }

    /// Rows [`PoseidonChip::hash`] takes for a message of `len` elements.
    pub fn hash_rows(&self, len: usize) -> usize {
        1 + len.div_ceil(2).max(1) * (self.rounds() + 1)
    }
}

/// Standard BN254 Poseidon: width 3, `x^5`, 8 full and 57 partial rounds, round constants and
/// MDS matrix from the reference Grain LFSR (the first secure MDS), as the reference
/// implementation (hadeshash) generates them.
#[derive(Debug)]
pub struct Bn254Spec;

impl poseidon_primitives::poseidon::primitives::Spec<Fr, 3, 2> for Bn254Spec {
    fn full_rounds() -> usize {
        8
    }
    fn partial_rounds() -> usize {
        57
    }
    fn sbox(v: Fr) -> Fr {
        use halo2_proofs::halo2curves::ff::Field;
        v.pow_vartime([5])
    }
    fn secure_mds() -> usize {
        0
    }
}

/// The standard BN254 parameters (generated once).
pub fn bn254() -> &'static PoseidonParams<Fr> {
    use poseidon_primitives::poseidon::primitives::Spec;
    static P: std::sync::OnceLock<PoseidonParams<Fr>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let (round_constants, mds, _) = Bn254Spec::constants();
        PoseidonParams {
            full_rounds: 8,
            partial_rounds: 57,
            mds,
            round_constants,
        }
    })
}

/// Packs `values` (each of `bits` signed bits) into one field element, as the chip does.
pub fn pack<F: PrimeField>(values: &[i64], bits: u32) -> F {
    let two_w = crate::fixed::pow2::<F>(bits);
    let off = crate::fixed::pow2::<F>(bits - 1);
    values
        .iter()
        .fold(F::ZERO, |acc, &x| acc * two_w + to_field::<F>(x) + off)
}

/// Columns of the Poseidon chip.
#[derive(Clone, Debug)]
pub struct PoseidonConfig<F: PrimeField> {
    s: [Column<Advice>; 3],
    sq: [Column<Advice>; 3],
    p_x: Column<Advice>,
    p_acc: Column<Advice>,
    rc: [Column<Fixed>; 3],
    q_init: Selector,
    q_absorb: Selector,
    q_full: Selector,
    q_partial: Selector,
    q_pack0: Selector,
    q_pack: Selector,
    q_pad: [Selector; 2],
    params: PoseidonParams<F>,
    bits: u32,
}

impl<F: PrimeField> PoseidonConfig<F> {
    /// Configures the chip for `params`, packing values of `bits` signed bits. Side effects: 8
    /// advice columns (equality on `s0`, `sq0`, `sq1`, `p_x`, `p_acc`), 3 fixed columns, 8
    /// selectors, 7 gates.
    pub fn configure(meta: &mut ConstraintSystem<F>, params: PoseidonParams<F>, bits: u32) -> Self {
        let sponge = [(); 6].map(|_| meta.advice_column());
        let packing = [(); 2].map(|_| meta.advice_column());
        let rc = [(); 3].map(|_| meta.fixed_column());
        Self::configure_in(meta, params, bits, sponge, packing, rc)
    }

    /// [`Self::configure`] over existing advice columns: `sponge` in the order `s0 s1 s2 sq0
    /// sq1 sq2`, `packing` as `p_x p_acc` (equality is enabled on `s0`, `sq0`, `sq1`, `p_x`,
    /// `p_acc`). `packing` may be `[sq0, sq1]`: then the chip's packing rows must lie below its
    /// sponge rows ([`PoseidonChip::construct_stacked`]). Other chips may use these columns on
    /// other rows, provided none of their gates or lookups is active on the rows this chip
    /// assigns: every gate and lookup of theirs must be switched off by a selector or fixed
    /// column there (an ungated lookup would see the sponge's state). The round constants go
    /// in `rc`, fixed columns that may likewise be other chips' (read by their gates only
    /// where a selector is on).
    pub fn configure_in(
        meta: &mut ConstraintSystem<F>,
        params: PoseidonParams<F>,
        bits: u32,
        sponge: [Column<Advice>; 6],
        packing: [Column<Advice>; 2],
        rc: [Column<Fixed>; 3],
    ) -> Self {
        let [s0, s1, s2, sq0, sq1, sq2] = sponge;
        let [p_x, p_acc] = packing;
        let (s, sq) = ([s0, s1, s2], [sq0, sq1, sq2]);
        for c in [s[0], sq[0], sq[1], p_x, p_acc] {
            meta.enable_equality(c);
        }
        let [q_init, q_absorb, q_full, q_partial, q_pack0, q_pack] =
            [(); 6].map(|_| meta.selector());
        let q_pad = [(); 2].map(|_| meta.selector());
        let mds = params.mds;
        meta.create_gate("poseidon init", |v| {
            let q = v.query_selector(q_init);
            let st = s.map(|c| v.query_advice(c, Rotation::cur()));
            let cap = v.query_fixed(rc[2], Rotation::cur());
            vec![
                q.clone() * st[0].clone(),
                q.clone() * st[1].clone(),
                q * (st[2].clone() - cap),
            ]
        });
        meta.create_gate("poseidon absorb", |v| {
            let q = v.query_selector(q_absorb);
            let cur = s.map(|c| v.query_advice(c, Rotation::cur()));
            let prev = s.map(|c| v.query_advice(c, Rotation::prev()));
            let msg = [sq[0], sq[1]].map(|c| v.query_advice(c, Rotation::prev()));
            vec![
                q.clone() * (cur[0].clone() - prev[0].clone() - msg[0].clone()),
                q.clone() * (cur[1].clone() - prev[1].clone() - msg[1].clone()),
                q * (cur[2].clone() - prev[2].clone()),
            ]
        });
        meta.create_gate("poseidon padding", |v| {
            (0..2)
                .map(|i| v.query_selector(q_pad[i]) * v.query_advice(sq[i], Rotation::cur()))
                .collect::<Vec<_>>()
        });
        let round = |v: &mut VirtualCells<'_, F>, full: bool| {
            let cur = s.map(|c| v.query_advice(c, Rotation::cur()));
            let next = s.map(|c| v.query_advice(c, Rotation::next()));
            let sqv = sq.map(|c| v.query_advice(c, Rotation::cur()));
            let rcv = rc.map(|c| v.query_fixed(c, Rotation::cur()));
            let t: Vec<Expression<F>> = (0..3).map(|i| cur[i].clone() + rcv[i].clone()).collect();
            let sboxed = |i: usize| full || i == 0;
            let u: Vec<Expression<F>> = (0..3)
                .map(|i| {
                    if sboxed(i) {
                        sqv[i].clone() * sqv[i].clone() * t[i].clone()
                    } else {
                        t[i].clone()
                    }
                })
                .collect();
            let mut out: Vec<Expression<F>> = (0..3)
                .filter(|&i| sboxed(i))
                .map(|i| sqv[i].clone() - t[i].clone() * t[i].clone())
                .collect();
            for (j, nj) in next.iter().enumerate() {
                let mix = (0..3).fold(Expression::Constant(F::ZERO), |acc, i| {
                    acc + Expression::Constant(mds[j][i]) * u[i].clone()
                });
                out.push(nj.clone() - mix);
            }
            out
        };
        meta.create_gate("poseidon full round", |v| {
            let q = v.query_selector(q_full);
            round(v, true)
                .into_iter()
                .map(|e| q.clone() * e)
                .collect::<Vec<_>>()
        });
        meta.create_gate("poseidon partial round", |v| {
            let q = v.query_selector(q_partial);
            round(v, false)
                .into_iter()
                .map(|e| q.clone() * e)
                .collect::<Vec<_>>()
        });
        let two_w = Expression::Constant(crate::fixed::pow2::<F>(bits));
        let off = Expression::Constant(crate::fixed::pow2::<F>(bits - 1));
        meta.create_gate("pack first", |v| {
            let q = v.query_selector(q_pack0);
            let x = v.query_advice(p_x, Rotation::cur());
            let acc = v.query_advice(p_acc, Rotation::cur());
            vec![q * (acc - x - off.clone())]
        });
        meta.create_gate("pack", |v| {
            let q = v.query_selector(q_pack);
            let x = v.query_advice(p_x, Rotation::cur());
            let acc = v.query_advice(p_acc, Rotation::cur());
            let prev = v.query_advice(p_acc, Rotation::prev());
            vec![q * (acc - prev * two_w.clone() - x - off.clone())]
        });
        Self {
            s,
            sq,
            p_x,
            p_acc,
            rc,
            q_init,
            q_absorb,
            q_full,
            q_partial,
            q_pack0,
            q_pack,
            q_pad,
            params,
            bits,
        }
    }

    /// Values packed into one message element (`bits·K < 253`).
    pub fn per_element(&self) -> usize {
        (252 / self.bits as usize).max(1)
    }

    /// The permutation's parameters.
    pub fn params(&self) -> &PoseidonParams<F> {
        &self.params
    }
}

/// The Poseidon chip (its own row cursors for the sponge and the packing columns).
#[derive(Clone, Debug)]
pub struct PoseidonChip<F: PrimeField> {
    config: PoseidonConfig<F>,
    next_row: usize,
    next_pack_row: usize,
    padding: F,
}

impl<F: PrimeField> PoseidonChip<F> {
    /// Wraps a configuration; rows are used from `first_row` down.
    pub fn construct(config: PoseidonConfig<F>, first_row: usize) -> Self {
        Self::construct_stacked(config, first_row, first_row)
    }

    /// Wraps a configuration with the sponges from `first_row` and the packing (salts and
    /// packed values) from `first_pack_row`: below every sponge row when the packing shares
    /// the `sq0`, `sq1` columns.
    pub fn construct_stacked(
        config: PoseidonConfig<F>,
        first_row: usize,
        first_pack_row: usize,
    ) -> Self {
        Self {
            config,
            next_row: first_row,
            next_pack_row: first_pack_row,
            padding: F::ZERO,
        }
    }

    /// Assigns `v` in the padding slot instead of 0 (tests show the padding gate refuses it).
    pub fn with_padding(mut self, v: F) -> Self {
        self.padding = v;
        self
    }

    /// Assigns a private value (a salt) in a free cell of the packing column.
    pub fn witness(
        &mut self,
        layouter: &mut impl Layouter<F>,
        v: Value<F>,
    ) -> Result<Wire<F>, Error> {
        let row = self.next_pack_row;
        self.next_pack_row += 1;
        let col = self.config.p_x;
        layouter.assign_region(
            || "private value",
            |mut region| Ok(Wire::assign(&mut region, col, row, v)),
        )
    }

    /// Packs bounded activations, `per_element` to a message element (the running
    /// accumulators follow the input cells' values).
    pub fn pack(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
    ) -> Result<Vec<Wire<F>>, Error> {
        self.pack_with(layouter, x, None)
    }

    /// [`Self::pack`] with the accumulators given (tests tamper with them).
    pub fn pack_with(
        &mut self,
        layouter: &mut impl Layouter<F>,
        x: &[Wire<F>],
        accs: Option<&[F]>,
    ) -> Result<Vec<Wire<F>>, Error> {
        let c = self.config.clone();
        let k = c.per_element();
        let two_w = crate::fixed::pow2::<F>(c.bits);
        let off = crate::fixed::pow2::<F>(c.bits - 1);
        let start = self.next_pack_row;
        self.next_pack_row += x.len();
        layouter.assign_region(
            || "pack activations",
            |mut region| {
                let mut out = Vec::new();
                for (g, group) in x.chunks(k).enumerate() {
                    let mut acc: Value<F> = Value::known(F::ZERO);
                    let mut last = None;
                    for (i, xi) in group.iter().enumerate() {
                        let row = start + g * k + i;
                        if i == 0 {
                            c.q_pack0.enable(&mut region, row)?;
                        } else {
                            c.q_pack.enable(&mut region, row)?;
                        }
                        xi.copy_to(&mut region, c.p_x, row);
                        acc = acc * Value::known(two_w) + xi.value + Value::known(off);
                        let v = match accs {
                            Some(a) => Value::known(*a.get(g * k + i).ok_or(Error::Synthesis)?),
                            None => acc,
                        };
                        last = Some(Wire::assign(&mut region, c.p_acc, row, v));
                    }
                    out.extend(last);
                }
                Ok(out)
            },
        )
    }

    /// The sponge hash of the message cells (their trace from [`PoseidonParams::trace`] when
    /// proving); returns the hash cell.
    pub fn hash(
        &mut self,
        layouter: &mut impl Layouter<F>,
        message: &[Wire<F>],
        trace: Option<&SpongeTrace<F>>,
    ) -> Result<Wire<F>, Error> {
        let c = self.config.clone();
        let p = &c.params;
        let rows = p.hash_rows(message.len());
        if trace.is_some_and(|t| t.rows.len() != rows) {
            return Err(Error::Synthesis);
        }
        let start = self.next_row;
        self.next_row += rows;
        layouter.assign_region(
            || "poseidon sponge",
            |mut region| {
                let mut last = None;
                let per_block = p.rounds() + 1;
                let blocks = message.len().div_ceil(2).max(1);
                // the row before each block's first round carries its message in sq0, sq1
                let message_row = |i: usize| i.is_multiple_of(per_block) && i / per_block < blocks;
                for i in 0..rows {
                    let row = start + i;
                    let r = trace.map(|t| t.rows[i]);
                    let state: Vec<Wire<F>> = (0..3)
                        .map(|j| {
                            let v = r.map_or(Value::unknown(), |r| Value::known(r.0[j]));
                            Wire::assign(&mut region, c.s[j], row, v)
                        })
                        .collect();
                    let first_sq = if message_row(i) { 2 } else { 0 };
                    for j in first_sq..3 {
                        let v = r.map_or(Value::unknown(), |r| Value::known(r.1[j]));
                        Wire::assign(&mut region, c.sq[j], row, v);
                    }
                    last = Some(state[0]);
                }
                c.q_init.enable(&mut region, start)?;
                region.assign_fixed(c.rc[2], start, F::from(message.len() as u64));
                for b in 0..blocks {
                    let absorb = start + 1 + b * per_block;
                    c.q_absorb.enable(&mut region, absorb)?;
                    for i in 0..2 {
                        match message.get(2 * b + i) {
                            Some(w) => {
                                w.copy_to(&mut region, c.sq[i], absorb - 1);
                            }
                            None => {
                                c.q_pad[i].enable(&mut region, absorb - 1)?;
                                let pad = Value::known(self.padding);
                                Wire::assign(&mut region, c.sq[i], absorb - 1, pad);
                            }
                        }
                    }
                    for r in 0..p.rounds() {
                        let row = absorb + r;
                        if p.is_full(r) {
                            c.q_full.enable(&mut region, row)?;
                        } else {
                            c.q_partial.enable(&mut region, row)?;
                        }
                        for i in 0..3 {
                            region.assign_fixed(c.rc[i], row, p.round_constants[r][i]);
                        }
                    }
                }
                last.ok_or(Error::Synthesis)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MockRun, PoseidonCircuit};
    use halo2_proofs::halo2curves::{bn256::Fr, ff::Field};
    use poseidon_primitives::poseidon::primitives::{ConstantLength, Hash};

    fn params() -> PoseidonParams<Fr> {
        bn254().clone()
    }

    #[test]
    fn the_permutation_is_the_reference_one() {
        let p = params();
        let reference = Hash::<Fr, super::Bn254Spec, ConstantLength<2>, 3, 2>::init();
        for seed in [[0u64, 0, 0], [1, 2, 3], [u64::MAX, 7, 1 << 40]] {
            let mut a = seed.map(Fr::from);
            let mut b = a;
            p.permute(&mut a);
            reference.permute(&mut b);
            assert_eq!(a, b);
        }
    }

    /// `stacked`: the packing below the sponge in its own `sq0`, `sq1` (the model circuit's
    /// shared layout).
    fn circuit_in(n: usize, stacked: bool) -> PoseidonCircuit {
        let x: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 4001 - 2000).collect();
        let mut c = PoseidonCircuit::honest(params(), 12, x, Fr::from(0x5a17));
        c.stacked = stacked;
        c
    }

    #[test]
    fn the_sponge_over_packed_values_proves_and_matches_the_native_hash() {
        for stacked in [false, true] {
            let circuit = |n: usize| circuit_in(n, stacked);
            for n in [1, 21, 22, 45] {
                let c = circuit(n);
                // 21 values of 12 bits per element; the salt first
                let mut message = vec![c.salt];
                message.extend(c.x.chunks(21).map(|v| pack::<Fr>(v, 12)));
                assert_eq!(c.hash, params().hash(&message));
                MockRun::new().k(9).run(&c);
            }
            // another salt, another hash
            let mut other = circuit(22);
            other.salt = Fr::from(1);
            assert_ne!(
                PoseidonCircuit::honest(params(), 12, other.x.clone(), other.salt).hash,
                circuit(22).hash
            );
        }
    }

    #[test]
    fn a_tampered_state_square_or_message_is_caught() {
        for stacked in [false, true] {
            let circuit = |n: usize| circuit_in(n, stacked);
            // a state cell inside a full round
            let mut c = circuit(22);
            c.trace.as_mut().expect("trace").rows[3].0[1] += Fr::ONE;
            MockRun::new()
                .k(9)
                .expect_failure("poseidon full round")
                .run(&c);
            // a partial round's state
            let mut c = circuit(22);
            c.trace.as_mut().expect("trace").rows[30].0[2] += Fr::ONE;
            MockRun::new()
                .k(9)
                .expect_failure("poseidon partial round")
                .run(&c);
            // a square cell
            let mut c = circuit(22);
            c.trace.as_mut().expect("trace").rows[2].1[0] += Fr::ONE;
            MockRun::new()
                .k(9)
                .expect_failure("poseidon full round")
                .run(&c);
            // the initial capacity (the message length)
            let mut c = circuit(22);
            c.trace.as_mut().expect("trace").rows[0].0[2] += Fr::ONE;
            MockRun::new().k(9).expect_failure("poseidon init").run(&c);
            // a claimed hash that is not the sponge's
            let mut c = circuit(22);
            c.hash += Fr::ONE;
            MockRun::new().k(9).expect_failure("Equality").run(&c);
        }
    }

    #[test]
    fn a_tampered_packing_or_padding_is_caught() {
        for stacked in [false, true] {
            let circuit = |n: usize| circuit_in(n, stacked);
            // a packed accumulator
            let c0 = circuit(22);
            let mut accs = Vec::new();
            for g in c0.x.chunks(21) {
                let mut acc = Fr::ZERO;
                for &v in g {
                    acc = acc * crate::fixed::pow2::<Fr>(12)
                        + to_field::<Fr>(v)
                        + crate::fixed::pow2::<Fr>(11);
                    accs.push(acc);
                }
            }
            let mut c = c0.clone();
            c.accs = accs.clone();
            MockRun::new().k(9).run(&c);
            c.accs[5] += Fr::ONE;
            MockRun::new().k(9).expect_failure("pack").run(&c);
            // a nonzero padding (3 elements: salt + 2 packed, so the second block pads), with the
            // sponge rows of the message it amounts to
            let mut c = circuit(22);
            let mut message = vec![c.salt];
            message.extend(c.x.chunks(21).map(|v| pack::<Fr>(v, 12)));
            assert_eq!(message.len(), 3);
            let mut forged = message.clone();
            forged.push(Fr::from(99));
            let mut t = params().trace(&forged);
            t.rows[0].0[2] = Fr::from(3); // the capacity the circuit fixes (3 elements)
            c.trace = Some(t);
            c.padding = Fr::from(99);
            MockRun::new()
                .k(9)
                .expect_failure("poseidon padding")
                .run(&c);
        }
    }

    /// Every advice cell of the sponge over packed values (salt, packing accumulators, every
    /// round's state and squares), changed alone, is caught, in both layouts and over one and
    /// two blocks, except the squares no constraint reads (the module doc's list): `sq1`, `sq2`
    /// on partial-round rows, `sq2` on each block's message row, and all three on the last row.
    /// Values are field elements, so the neighbourhood is small and the random values carry
    /// the search.
    #[test]
    fn under_constraint_search_finds_only_the_unread_squares() {
        use crate::search::Search;
        use crate::testing::HasInstances;
        use halo2_proofs::plonk::{Circuit, ConstraintSystem};
        use std::collections::BTreeSet;
        for (n, stacked) in [(3, false), (3, true), (30, false)] {
            let c = circuit_in(n, stacked);
            let (config, ..) = PoseidonCircuit::configure_with_params(
                &mut ConstraintSystem::default(),
                c.params(),
            );
            let sq = config.sq.map(|c| c.index());
            // rows: init, then per block its rounds and the state after them
            let p = &c.params;
            let rounds = p.full_rounds + p.partial_rounds;
            let blocks = c.trace.as_ref().expect("trace").rows.len() / (rounds + 1);
            let mut unread = BTreeSet::new();
            for b in 0..blocks {
                let message_row = b * (rounds + 1);
                unread.insert((sq[2], message_row));
                for r in 0..rounds {
                    if !p.is_full(r) {
                        unread.extend([(sq[1], message_row + 1 + r), (sq[2], message_row + 1 + r)]);
                    }
                }
            }
            let last = blocks * (rounds + 1);
            unread.extend(sq.map(|c| (c, last)));
            let r = Search::new(9, c.instances())
                .neighbourhood(1)
                .jumps(vec![1, 12, 64])
                .full_range_bits(1)
                .run(&c, |_, _| true)
                .printed(&format!("poseidon, {n} values, stacked = {stacked}"));
            let survivors: BTreeSet<(usize, usize)> =
                r.survivors.iter().map(|s| (s.column, s.row)).collect();
            assert_eq!(survivors, unread, "{blocks} blocks");
            assert!(r.survivors.iter().all(|s| s.honest == Fr::ZERO));
            assert!(r.searched >= 130 * blocks);
        }
    }
}
