//! Under-constraint search: change one advice cell of an honest assignment (with every advice
//! cell copy-constrained to it), keep every other cell as the circuit assigns it, and ask
//! MockProver whether the constraints still hold.
//!
//! [`Search::run`] wraps any circuit in [`Searched`], whose floor planner hands the circuit an
//! [`Assignment`] that records every advice cell the circuit assigns (its final value, over all
//! phases) and every copy constraint, and, on a later run, replaces the value of one *copy
//! group*: an advice cell together with every advice cell the permutation ties to it (changing
//! one copy alone would only show that the copy constraint holds, not that a gate reads the
//! value). A group that holds an instance or fixed cell is pinned by it; it is still searched,
//! and its changes are refused by that copy. Each group is tried with:
//! - every value within `neighbourhood` of the honest one (`v ± 1 … v ± n`);
//! - `−v`, `0`, `v ± 2^j` for `j` in `jumps`, and a few pseudo-random field elements;
//! - when the honest value is a small non-negative integer (`v < 2^full_range_bits`: limbs,
//!   sign bits, table indices, selector bits), every value in `[0, 2^full_range_bits)`.
//!
//! A changed value that still satisfies every gate, lookup and copy constraint is a
//! *survivor*: a witness the constraints do not pin. The chips' tests assert that there are none
//! (or name each cell no constraint reads). Every run asserts that the change reached the
//! circuit's assignment.
//!
//! Limits: cells the circuit never assigns are not searched (halo2-axiom's MockProver reads
//! them as 0); synthesis must assign from the test's thread (the state is thread-local; the
//! hit assertion catches a violation); MockProver's challenges are fixed, so a search over a
//! challenge-dependent check (Freivalds) shows each cell is read, not that the check is sound.

use halo2_proofs::circuit::layouter::SyncDeps;
use halo2_proofs::{
    circuit::Value,
    dev::MockProver,
    halo2curves::{bn256::Fr, ff::Field},
    plonk::{
        Advice, Any, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem, Error,
        FloorPlanner, Instance, Selector,
    },
};
use std::any::Any as StdAny;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

/// A cell: (0 advice / 1 fixed / 2 instance, column index, row).
type Cell = (u8, usize, usize);

#[derive(Default)]
struct State {
    /// Records the final value of every assigned advice cell, by (column, row).
    record: Option<BTreeMap<(usize, usize), Fr>>,
    /// Records the copy constraints.
    copies: Vec<(Cell, Cell)>,
    /// The advice cells to change and their new value.
    target: Option<(BTreeSet<(usize, usize)>, Fr)>,
    /// Whether a target cell was assigned.
    hit: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// A circuit run through the search's floor planner.
#[derive(Clone, Debug)]
pub struct Searched<C>(pub C);

/// The floor planner `P`, with the recording / tampering assignment underneath.
#[derive(Debug)]
pub struct TamperPlanner<P>(PhantomData<P>);

impl<C: Circuit<Fr>> Circuit<Fr> for Searched<C> {
    type Config = C::Config;
    type FloorPlanner = TamperPlanner<C::FloorPlanner>;
    type Params = C::Params;

    fn without_witnesses(&self) -> Self {
        Searched(self.0.without_witnesses())
    }
    fn params(&self) -> C::Params {
        self.0.params()
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, p: C::Params) -> C::Config {
        C::configure_with_params(meta, p)
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> C::Config {
        C::configure(meta)
    }
    fn synthesize(
        &self,
        config: C::Config,
        layouter: impl halo2_proofs::circuit::Layouter<Fr>,
    ) -> Result<(), Error> {
        self.0.synthesize(config, layouter)
    }
}

impl<P: FloorPlanner> FloorPlanner for TamperPlanner<P> {
    fn synthesize<F: Field, CS: Assignment<F> + SyncDeps, C: Circuit<F>>(
        cs: &mut CS,
        circuit: &C,
        config: C::Config,
        constants: Vec<Column<halo2_proofs::plonk::Fixed>>,
    ) -> Result<(), Error> {
        P::synthesize(
            &mut TamperCs {
                cs,
                _f: PhantomData,
            },
            circuit,
            config,
            constants,
        )
    }
}

struct TamperCs<'a, F, CS> {
    cs: &'a mut CS,
    _f: PhantomData<F>,
}

fn as_fr<F: Field>(v: &Assigned<F>) -> Fr {
    *(&v.evaluate() as &dyn StdAny)
        .downcast_ref::<Fr>()
        .expect("the search runs on BN254 circuits")
}

fn from_fr<F: Field>(v: Fr) -> Assigned<F> {
    *(&Assigned::Trivial(v) as &dyn StdAny)
        .downcast_ref::<Assigned<F>>()
        .expect("the search runs on BN254 circuits")
}

impl<F: Field, CS: Assignment<F>> Assignment<F> for TamperCs<'_, F, CS> {
    fn enter_region<NR: Into<String>, N: FnOnce() -> NR>(&mut self, name: N) {
        self.cs.enter_region(name)
    }
    fn annotate_column<A: FnOnce() -> AR, AR: Into<String>>(&mut self, a: A, c: Column<Any>) {
        self.cs.annotate_column(a, c)
    }
    fn exit_region(&mut self) {
        self.cs.exit_region()
    }
    fn enable_selector<A: FnOnce() -> AR, AR: Into<String>>(
        &mut self,
        a: A,
        s: &Selector,
        row: usize,
    ) -> Result<(), Error> {
        self.cs.enable_selector(a, s, row)
    }
    fn query_instance(&self, c: Column<Instance>, row: usize) -> Result<Value<F>, Error> {
        self.cs.query_instance(c, row)
    }
    fn assign_advice<'v>(
        &mut self,
        column: Column<Advice>,
        row: usize,
        to: Value<Assigned<F>>,
    ) -> Value<&'v Assigned<F>> {
        let to = STATE.with(|s| {
            let mut s = s.borrow_mut();
            let mut to = to;
            let changed = match &s.target {
                Some((cells, v)) if cells.contains(&(column.index(), row)) => Some(*v),
                _ => None,
            };
            if let Some(v) = changed {
                to = to.map(|_| from_fr::<F>(v));
                s.hit = true;
            }
            if let Some(rec) = s.record.as_mut() {
                to.map(|v| rec.insert((column.index(), row), as_fr(&v)));
            }
            to
        });
        self.cs.assign_advice(column, row, to)
    }
    fn assign_fixed(&mut self, c: Column<halo2_proofs::plonk::Fixed>, row: usize, to: Assigned<F>) {
        self.cs.assign_fixed(c, row, to)
    }
    fn copy(&mut self, lc: Column<Any>, lr: usize, rc: Column<Any>, rr: usize) {
        let cell = |c: Column<Any>, row: usize| -> Cell {
            let kind = match c.column_type() {
                Any::Advice(_) => 0,
                Any::Fixed => 1,
                Any::Instance => 2,
            };
            (kind, c.index(), row)
        };
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.record.is_some() {
                s.copies.push((cell(lc, lr), cell(rc, rr)));
            }
        });
        self.cs.copy(lc, lr, rc, rr)
    }
    fn fill_from_row(
        &mut self,
        c: Column<halo2_proofs::plonk::Fixed>,
        row: usize,
        to: Value<Assigned<F>>,
    ) -> Result<(), Error> {
        self.cs.fill_from_row(c, row, to)
    }
    fn get_challenge(&self, c: Challenge) -> Value<F> {
        self.cs.get_challenge(c)
    }
    fn push_namespace<NR: Into<String>, N: FnOnce() -> NR>(&mut self, name: N) {
        self.cs.push_namespace(name)
    }
    fn pop_namespace(&mut self, name: Option<String>) {
        self.cs.pop_namespace(name)
    }
    fn next_phase(&mut self) {
        self.cs.next_phase()
    }
}

/// A cell value the constraints accepted in place of the honest one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survivor {
    /// Advice column index.
    pub column: usize,
    /// Row.
    pub row: usize,
    /// The honest value.
    pub honest: Fr,
    /// The value that was also accepted.
    pub accepted: Fr,
}

/// What a search tried and found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Advice cells the circuit assigned.
    pub cells: usize,
    /// Copy groups (advice cells tied by copy constraints; a lone cell is its own group).
    pub groups: usize,
    /// Groups searched (all but the skipped ones).
    pub searched: usize,
    /// Changed assignments tried (one MockProver run each).
    pub attempts: usize,
    /// Changed assignments the constraints accepted.
    pub survivors: Vec<Survivor>,
}

impl Report {
    /// Prints what was searched (the tests' record of their counts) and returns the report.
    pub fn printed(self, what: &str) -> Self {
        println!(
            "under-constraint search, {what}: {} of {} copy groups ({} advice cells), {} changed assignments, {} accepted",
            self.searched,
            self.groups,
            self.cells,
            self.attempts,
            self.survivors.len()
        );
        self
    }
    /// Survivors as text, one per line.
    pub fn describe(&self) -> String {
        self.survivors
            .iter()
            .map(|s| {
                format!(
                    "advice column {} row {}: honest {:?}, also accepted {:?}",
                    s.column, s.row, s.honest, s.accepted
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// An under-constraint search over every assigned advice cell of a circuit.
#[derive(Clone, Debug)]
pub struct Search {
    k: u32,
    instances: Vec<Vec<Fr>>,
    neighbourhood: u64,
    jumps: Vec<u32>,
    full_range_bits: u32,
    randoms: usize,
}

/// `v` as a small non-negative integer, if it is one.
fn small(v: Fr) -> Option<u64> {
    let repr = halo2_proofs::halo2curves::ff::PrimeField::to_repr(&v);
    repr[8..]
        .iter()
        .all(|&b| b == 0)
        .then(|| u64::from_le_bytes(repr[..8].try_into().expect("8 bytes")))
}

impl Search {
    /// A search at `k` with the circuit's public `instances`: neighbourhood 3, jumps of
    /// `2^1 … 2^16` and `2^64`, full range below `2^8`, 2 random values per cell.
    pub fn new(k: u32, instances: Vec<Vec<Fr>>) -> Self {
        Self {
            k,
            instances,
            neighbourhood: 3,
            jumps: (1..=16).chain([64]).collect(),
            full_range_bits: 8,
            randoms: 2,
        }
    }
    /// Values within `n` of the honest one.
    pub fn neighbourhood(mut self, n: u64) -> Self {
        self.neighbourhood = n;
        self
    }
    /// The powers of two added to and subtracted from each value.
    pub fn jumps(mut self, jumps: Vec<u32>) -> Self {
        self.jumps = jumps;
        self
    }
    /// Small non-negative honest values below `2^bits` are replaced by every value below it.
    pub fn full_range_bits(mut self, bits: u32) -> Self {
        self.full_range_bits = bits;
        self
    }

    fn candidates(&self, v: Fr, cell: (usize, usize)) -> Vec<Fr> {
        let mut out = Vec::new();
        for d in 1..=self.neighbourhood {
            out.push(v + Fr::from(d));
            out.push(v - Fr::from(d));
        }
        out.push(-v);
        out.push(Fr::ZERO);
        for &j in &self.jumps {
            let p = Fr::from(2).pow_vartime([j as u64]);
            out.push(v + p);
            out.push(v - p);
        }
        // deterministic pseudo-random field elements per cell
        let mut x = Fr::from((cell.0 as u64) << 32 | cell.1 as u64) + Fr::from(0x9e37_79b9);
        for _ in 0..self.randoms {
            x = x.square() * x + Fr::from(7);
            out.push(x);
        }
        if let Some(s) = small(v) {
            let top = 1u64 << self.full_range_bits;
            if s < top {
                out.extend((0..top).map(Fr::from));
            }
        }
        out.sort_by_key(halo2_proofs::halo2curves::ff::PrimeField::to_repr);
        out.dedup();
        out.retain(|&c| c != v);
        out
    }

    fn mock<C: Circuit<Fr> + Clone>(&self, circuit: &Searched<C>) -> bool {
        let prover = MockProver::run(self.k, circuit, self.instances.clone())
            .unwrap_or_else(|e| panic!("MockProver could not run at k = {}: {e:?}", self.k));
        prover.verify().is_ok()
    }

    /// Records the honest assignment (which must satisfy the circuit), then tries every
    /// candidate value on every copy group whose first advice cell `(column, row)` satisfies
    /// `search(column, row)`. Survivors name that first cell.
    pub fn run<C: Circuit<Fr> + Clone>(
        &self,
        circuit: &C,
        search: impl Fn(usize, usize) -> bool,
    ) -> Report {
        let circuit = Searched(circuit.clone());
        STATE.with(|s| {
            *s.borrow_mut() = State {
                record: Some(BTreeMap::new()),
                ..State::default()
            }
        });
        let honest_ok = self.mock(&circuit);
        let (cells, copies) = STATE.with(|s| {
            let mut s = s.borrow_mut();
            (
                s.record.take().unwrap_or_default(),
                std::mem::take(&mut s.copies),
            )
        });
        assert!(
            honest_ok,
            "the honest assignment does not satisfy the circuit"
        );
        let groups = copy_groups(&cells, &copies);
        let mut report = Report {
            cells: cells.len(),
            groups: groups.len(),
            ..Report::default()
        };
        for group in groups {
            let &(column, row) = group.iter().next().expect("non-empty group");
            if !search(column, row) {
                continue;
            }
            let honest = cells[&(column, row)];
            report.searched += 1;
            for accepted in self.candidates(honest, (column, row)) {
                STATE.with(|s| {
                    let mut s = s.borrow_mut();
                    s.target = Some((group.clone(), accepted));
                    s.hit = false;
                });
                report.attempts += 1;
                let ok = self.mock(&circuit);
                assert!(
                    STATE.with(|s| s.borrow().hit),
                    "the change of advice column {column} row {row} never reached the assignment"
                );
                if ok {
                    report.survivors.push(Survivor {
                        column,
                        row,
                        honest,
                        accepted,
                    });
                }
            }
        }
        STATE.with(|s| *s.borrow_mut() = State::default());
        report
    }
}

/// The assigned advice cells grouped by the copy constraints among them (union-find over all
/// cells; groups listed by their first advice cell).
fn copy_groups(
    cells: &BTreeMap<(usize, usize), Fr>,
    copies: &[(Cell, Cell)],
) -> Vec<BTreeSet<(usize, usize)>> {
    let mut parent: BTreeMap<Cell, Cell> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<Cell, Cell>, c: Cell) -> Cell {
        let p = *parent.entry(c).or_insert(c);
        if p == c {
            return c;
        }
        let root = find(parent, p);
        parent.insert(c, root);
        root
    }
    for &(a, b) in copies {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent.insert(ra.max(rb), ra.min(rb));
        }
    }
    let mut groups: BTreeMap<Cell, BTreeSet<(usize, usize)>> = BTreeMap::new();
    for &(column, row) in cells.keys() {
        let root = find(&mut parent, (0, column, row));
        groups.entry(root).or_default().insert((column, row));
    }
    let mut out: Vec<_> = groups.into_values().collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::{
        circuit::{Layouter, SimpleFloorPlanner},
        plonk::Selector,
        poly::Rotation,
    };

    /// `c = a·b` on one row, `a` and `b` copied in from cells of their own; with `read_b`
    /// false the gate ignores `b` (`c = a`), so `b` and its copy are free together: a search
    /// that changed one copy at a time would call them caught by the copy constraint.
    #[derive(Clone, Default)]
    struct Toy {
        read_b: bool,
    }

    impl Circuit<Fr> for Toy {
        type Config = ([Column<Advice>; 3], Selector, Column<Instance>);
        type FloorPlanner = SimpleFloorPlanner;
        type Params = bool;
        fn without_witnesses(&self) -> Self {
            self.clone()
        }
        fn params(&self) -> bool {
            self.read_b
        }
        fn configure_with_params(m: &mut ConstraintSystem<Fr>, read_b: bool) -> Self::Config {
            let cols = [(); 3].map(|_| m.advice_column());
            for c in cols {
                m.enable_equality(c);
            }
            let inst = m.instance_column();
            m.enable_equality(inst);
            let q = m.selector();
            m.create_gate("toy", |v| {
                let [a, b, c] = cols.map(|c| v.query_advice(c, Rotation::cur()));
                let q = v.query_selector(q);
                vec![q * (if read_b { a * b } else { a } - c)]
            });
            (cols, q, inst)
        }
        fn configure(m: &mut ConstraintSystem<Fr>) -> Self::Config {
            Self::configure_with_params(m, true)
        }
        fn synthesize(
            &self,
            (cols, q, inst): Self::Config,
            mut layouter: impl Layouter<Fr>,
        ) -> Result<(), Error> {
            let b_value = if self.read_b { 1 } else { 5 };
            let out = layouter.assign_region(
                || "toy",
                |mut r| {
                    // row 0: the factors as they arrive; row 1: the gate
                    let a0 = r.assign_advice(cols[0], 0, Value::known(Fr::from(3)));
                    let b0 = r.assign_advice(cols[1], 0, Value::known(Fr::from(b_value)));
                    q.enable(&mut r, 1)?;
                    let a1 = r.assign_advice(cols[0], 1, Value::known(Fr::from(3)));
                    let b1 = r.assign_advice(cols[1], 1, Value::known(Fr::from(b_value)));
                    r.constrain_equal(a0.cell(), a1.cell());
                    r.constrain_equal(b0.cell(), b1.cell());
                    Ok(r.assign_advice(cols[2], 1, Value::known(Fr::from(3))))
                },
            )?;
            layouter.constrain_instance(out.cell(), inst, 0);
            Ok(())
        }
    }

    #[test]
    fn a_copied_cell_no_gate_reads_is_found() {
        let inst = vec![vec![Fr::from(3)]];
        let r = Search::new(4, inst.clone())
            .run(&Toy { read_b: true }, |_, _| true)
            .printed("toy, c = a·b");
        // b = 1: any other b changes c, which the instance pins
        assert!(r.survivors.is_empty(), "{}", r.describe());
        assert_eq!((r.cells, r.groups), (5, 3));
        let r = Search::new(4, inst)
            .run(&Toy { read_b: false }, |_, _| true)
            .printed("toy, c = a");
        assert!(!r.survivors.is_empty());
        assert!(
            r.survivors.iter().all(|s| s.column == 1 && s.row == 0),
            "{}",
            r.describe()
        );
    }
}
