//! Soundness of the core ops inside the model circuit: honest witnesses satisfy MockProver,
//! and a prover who changes one op's chip witness (keeping the rest, and the public output,
//! consistent with the lie) is caught by the named gate or lookup.

use super::gather::{Gather, Src};
use super::max::Max;
use super::relu::Relu;
use super::testutil::{chain, dense};
use super::{FloatGraph, FloatOp};
use crate::circuit::{instance_field, CircuitShape, CircuitWitness, ModelCircuit};
use crate::graph::Ref;
use crate::plan::plan;
use crate::quantize::{quantize, QuantModel, QuantOptions};
use crate::witness;
use halo2_proofs::dev::MockProver;
use std::sync::Arc;
use zkinfer_circuits::matmul::DenseWitness;

struct Setup {
    q: Arc<QuantModel>,
    cw: CircuitWitness,
    k: u32,
    lanes: usize,
    shape: CircuitShape,
}

fn setup(g: &FloatGraph, input: &[f64]) -> Setup {
    setup_in(g, input, |s| s)
}

/// [`setup`] in the layout `layout` makes of the plan's shape (re-planned for it).
fn setup_in(g: &FloatGraph, input: &[f64], layout: impl Fn(CircuitShape) -> CircuitShape) -> Setup {
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    let q = quantize(g, None, &opts).expect("quantize");
    let p = plan(&q).expect("plan");
    let p = crate::plan::plan_of(&q, &layout(p.shape)).expect("plan of the layout");
    let trace = witness::run(&q, witness::quantize_input(&q, input).expect("input")).expect("run");
    let cw = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    Setup {
        q: Arc::new(q),
        cw,
        k: p.k,
        lanes: p.shape.lanes,
        shape: p.shape,
    }
}

impl Setup {
    /// Runs MockProver; `Ok` when satisfied, else the failures as text.
    fn run(&self) -> Result<(), Vec<String>> {
        let instance = self.cw.instance_fields();
        let circuit = ModelCircuit::prove(self.q.clone(), self.shape, self.cw.clone());
        let prover = MockProver::run(self.k, &circuit, vec![instance]).expect("mock");
        prover
            .verify()
            .map_err(|fs| fs.iter().map(|f| format!("{f} {f:?}")).collect())
    }
    fn expect_failure(&self, what: &str) {
        match self.run() {
            Ok(()) => panic!("expected a failure naming {what:?}, the circuit is satisfied"),
            Err(fs) => assert!(
                fs.iter().any(|f| f.contains(what)),
                "expected a failure naming {what:?}, got {:#?}",
                &fs[..fs.len().min(4)]
            ),
        }
    }
    /// Claims `r` as the ReLU of max/min step `step` of node 0 (sign bit `neg`), and carries the
    /// lie through the step's sum and the public output (the last output value).
    fn forge_step(&mut self, step: usize, r: i64, neg: i64, sigma: i64, out: usize) {
        let w = &mut self.cw.nodes[0];
        let rw = &mut w.rescale[step][0];
        rw.a = r;
        rw.neg = neg;
        let x_m = honest_m(&w.dense[2 * step], sigma);
        w.dense[2 * step + 1] =
            DenseWitness::compute(self.lanes, &[vec![1, sigma]], &[0], &[x_m, r]).expect("dense");
        let n_in = self.q.input_len();
        self.cw.instance[n_in + out] = x_m + sigma * r;
    }
}

/// The running max `m` entering a step, read from its honest diff block (`x = [a, m]`,
/// weights `[σ, −σ]`: rows `0`, `σ·a`, `σ·a − σ·m`).
fn honest_m(diff: &DenseWitness, sigma: i64) -> i64 {
    let acc = &diff.acc[0];
    sigma * (acc[1][0] - acc[2][0])
}

fn max_graph(min: bool) -> FloatGraph {
    chain(
        &[1, 4],
        vec![(
            vec![],
            vec![1, 2],
            FloatOp::Max(Max {
                windows: vec![vec![Ref(0, 0), Ref(0, 1)], vec![Ref(0, 2), Ref(0, 3)]],
                min,
            }),
        )],
    )
}

#[test]
fn max_and_min_are_exact_and_satisfied() {
    for min in [false, true] {
        let s = setup(&max_graph(min), &[0.5, 0.25, -0.75, 1.0]);
        s.run().expect("honest max/min");
        let want = if min { [16, -48] } else { [32, 64] }; // scale 6
        assert_eq!(&s.cw.instance[4..], &want);
    }
}

#[test]
fn a_smaller_max_cannot_be_claimed() {
    // window 1: m = −0.75, a = 1.0, d = 1.75: the honest max is 1.0 (r = d = 112 at scale 6).
    // Claim r = 0 (max = −0.75) with the honest sign bit: the ReLU gate objects.
    let mut s = setup(&max_graph(false), &[0.5, 0.25, -0.75, 1.0]);
    s.forge_step(1, 0, 0, 1, 1);
    s.expect_failure("a = (1 - neg)·y");
    // ... and with the sign bit flipped to match: the sign table objects.
    let mut s = setup(&max_graph(false), &[0.5, 0.25, -0.75, 1.0]);
    s.forge_step(1, 0, 1, 1, 1);
    s.expect_failure("relu sign table");
    // window 0: m = 0.5, a = 0.25, d = −0.25: claim r = d (max = 0.25) by passing the
    // negative difference through: the sign table objects.
    let mut s = setup(&max_graph(false), &[0.5, 0.25, -0.75, 1.0]);
    s.forge_step(0, -16, 0, 1, 0);
    s.expect_failure("relu sign table");
}

#[test]
fn a_larger_min_cannot_be_claimed() {
    // min window 1: m = −0.75, a = 1.0, d = m − a = −1.75: r = 0, min = −0.75.
    // window 0: m = 0.5, a = 0.25, d = 0.25: r = 16, min = 0.25. Claim r = 0 (min = 0.5).
    let mut s = setup(&max_graph(true), &[0.5, 0.25, -0.75, 1.0]);
    s.forge_step(0, 0, 0, -1, 0);
    s.expect_failure("a = (1 - neg)·y");
}

#[test]
fn a_forged_running_sum_is_caught_by_the_dense_gate() {
    let mut s = setup(&max_graph(false), &[0.5, 0.25, -0.75, 1.0]);
    let w = &mut s.cw.nodes[0].dense[1];
    let last = w.acc[0].len() - 1;
    w.acc[0][last][0] -= 5;
    let n_in = s.q.input_len();
    s.cw.instance[n_in] -= 5;
    s.expect_failure("acc' = acc + w·x");
}

#[test]
fn standalone_relu_and_constants_are_bound() {
    // Relu anywhere: input → Relu → Gather with constants → output
    let g = chain(
        &[1, 3],
        vec![
            (vec![], vec![1, 3], FloatOp::Relu(Relu { len: 3 })),
            (
                vec![],
                vec![1, 4],
                FloatOp::Gather(Gather {
                    src: vec![
                        Src::Elem(Ref(0, 2)),
                        Src::Const(0.5),
                        Src::Elem(Ref(0, 0)),
                        Src::Const(-1.0),
                    ],
                }),
            ),
        ],
    );
    let s = setup(&g, &[-1.0, 0.0, 2.0]);
    s.run().expect("honest");
    assert_eq!(&s.cw.instance[3..], &[128, 32, 0, -64]);
    // a negative input passed through the ReLU
    let mut t = setup(&g, &[-1.0, 0.0, 2.0]);
    t.cw.nodes[0].rescale[0][0].a = -64;
    t.cw.instance[5] = -64;
    t.expect_failure("a = (1 - neg)·y");
    // a constant changed
    let mut t = setup(&g, &[-1.0, 0.0, 2.0]);
    t.cw.nodes[1].dense[0].acc[0][0][0] += 1;
    t.cw.instance[4] += 1;
    t.expect_failure("acc = bias");
}

/// Residual: `y = W x + x` (two slots of one Linear reading the same tensor).
fn residual_graph() -> FloatGraph {
    chain(
        &[1, 2],
        vec![
            (
                vec![],
                vec![1, 2],
                dense(&[vec![1.0, 2.0], vec![-1.0, 0.5]], &[0.0, 0.25], false),
            ),
            (
                vec![1, 0],
                vec![1, 2],
                FloatOp::Linear(super::linear::Linear {
                    rows: (0..2u32)
                        .map(|j| super::linear::Row {
                            bias: 0.0,
                            terms: vec![(Ref(0, j), 1.0), (Ref(1, j), 1.0)],
                        })
                        .collect(),
                    relu: false,
                }),
            ),
        ],
    )
}

#[test]
fn two_input_linear_is_bound() {
    let g = residual_graph();
    let mut s = setup(&g, &[0.5, -0.25]);
    s.run().expect("honest");
    let out = &s.cw.instance[2..];
    assert_eq!(out.len(), 2);
    // tamper the second node's first accumulator and the output with it
    let w = &mut s.cw.nodes[1].dense[0];
    w.acc[0][2][0] += 64;
    let n_in = s.q.input_len();
    let shift = match &s.q.graph.nodes[1].op {
        super::QuantOp::Linear(l) => l.shift,
        _ => unreachable!(),
    };
    s.cw.nodes[1].rescale[0][0] =
        zkinfer_circuits::rescale::RescaleWitness::compute(w.acc[0][2][0], shift, 8);
    s.cw.instance[n_in] = s.cw.nodes[1].rescale[0][0].y;
    s.expect_failure("acc' = acc + w·x");
}

#[test]
fn products_are_bound() {
    // y = x0 · x1 elementwise, then rescaled
    let g = chain(
        &[1, 4],
        vec![(
            vec![0, 0],
            vec![1, 2],
            FloatOp::Mul(super::mul::Mul {
                pairs: vec![(Ref(0, 0), Ref(1, 1)), (Ref(0, 2), Ref(1, 3))],
            }),
        )],
    );
    // every product placement: in the rescale columns, beside them, in columns of its own;
    // beside them with a hashed input and output whose sponge borrows the chips' columns
    let layouts: [(bool, bool, bool); 4] = [
        (true, false, false),
        (false, true, false),
        (false, false, false),
        (false, true, true),
    ];
    for (in_rescale, beside, hashed) in layouts {
        let layout = |s: CircuitShape| CircuitShape {
            product_in_rescale: in_rescale,
            product_beside_rescale: beside,
            private_input: hashed,
            hashed_input: hashed,
            hashed_output: hashed,
            shared_hash_columns: hashed,
            ..s
        };
        let salted = |mut s: Setup| {
            if hashed {
                let bits = s.q.activation_bits();
                s.cw =
                    s.cw.with_input_salt(halo2_proofs::halo2curves::bn256::Fr::from(77), bits)
                        .with_output_salt(halo2_proofs::halo2curves::bn256::Fr::from(5), bits);
            }
            s
        };
        let s = salted(setup_in(&g, &[0.5, -1.5, 2.0, 0.25], layout));
        assert_eq!(
            (s.shape.product_in_rescale, s.shape.product_beside_rescale),
            (in_rescale, beside)
        );
        s.run().expect("honest");
        if !hashed {
            // -0.75, 0.5 at scale 6
            assert_eq!(&s.cw.instance[4..], &[-48, 32]);
        }
        // a product off by one, rescaled consistently: the product gate objects
        let mut t = salted(setup_in(&g, &[0.5, -1.5, 2.0, 0.25], layout));
        t.cw.nodes[0].product[0][0] += 1;
        let shift = match &t.q.graph.nodes[0].op {
            super::QuantOp::Mul(m) => m.shift,
            _ => unreachable!(),
        };
        let z = t.cw.nodes[0].product[0][0];
        t.cw.nodes[0].rescale[0][0] =
            zkinfer_circuits::rescale::RescaleWitness::compute(z, shift, 8);
        if !hashed {
            t.cw.instance[4] = t.cw.nodes[0].rescale[0][0].y;
        }
        t.expect_failure("c = k·a·b");
    }
}

/// ArgMax's products are not rescaled: a model with one keeps the product chip's own columns,
/// and a shape that puts it beside the rescale chip is refused, not laid out.
#[test]
fn argmax_keeps_the_product_chip_off_the_rescale_rows() {
    let s = argmax_setup(&[0.5, -1.0, 2.0, 0.25]);
    assert!(s.shape.products && !s.shape.product_beside_rescale);
    let beside = CircuitShape {
        product_in_rescale: false,
        product_beside_rescale: true,
        ..s.shape
    };
    assert!(matches!(
        crate::plan::plan_of(&s.q, &beside),
        Err(crate::plan::PlanError::NotAPlan(_))
    ));
}

#[test]
fn a_final_relu_is_bounded_and_its_sign_cannot_be_forged() {
    // Gemm → ReLU as the model's output: the fused ReLU must use bounded rows (the sign table
    // gives it); on unbounded rows `neg` and `a` would be free.
    let g = chain(
        &[1, 2],
        vec![(
            vec![],
            vec![1, 3],
            dense(
                &[vec![1.0, 2.0], vec![-1.0, 0.5], vec![-2.0, -2.0]],
                &[0.0, 0.25, 0.0],
                true,
            ),
        )],
    );
    let s = setup(&g, &[0.5, -0.25]);
    match &s.q.graph.nodes[0].op {
        super::QuantOp::Linear(l) => assert!(l.relu && l.bounded),
        other => panic!("{other:?}"),
    }
    s.run().expect("honest");
    // claim a = (1 − neg)·y with neg = 8 on a zero output: y = −0.5 → a = 3.5
    let mut t = setup(&g, &[0.5, -0.25]);
    let n_in = t.q.input_len();
    let w = &mut t.cw.nodes[0].rescale[0][2];
    assert!(w.y < 0 && w.a == 0);
    w.neg = 8;
    w.a = -7 * w.y;
    t.cw.instance[n_in + 2] = -7 * t.cw.nodes[0].rescale[0][2].y;
    t.expect_failure("relu sign table");
}

/// MockProver on the model circuit; the failures as text.
fn mock(
    q: &Arc<QuantModel>,
    p: &crate::plan::Plan,
    cw: CircuitWitness,
    instance: Vec<halo2_proofs::halo2curves::bn256::Fr>,
) -> Result<(), Vec<String>> {
    let c = ModelCircuit::prove(q.clone(), p.shape, cw);
    MockProver::run(p.k, &c, vec![instance])
        .expect("mock")
        .verify()
        .map_err(|fs| fs.iter().map(|f| format!("{f} {f:?}")).collect::<Vec<_>>())
}

fn func_graph(name: &str, n: usize) -> FloatGraph {
    chain(
        &[1, n],
        vec![(
            vec![],
            vec![1, n],
            FloatOp::Func(super::func::Func {
                name: name.into(),
                params: vec![],
                len: n,
            }),
        )],
    )
}

#[test]
fn every_registry_function_tracks_its_float_reference_over_its_domain() {
    // calibrated on [-4, 4] (or (0, 4] where the function needs x > 0), evaluated on a grid of
    // 400 points: the fixed-point value is within the interpolation error between the table's
    // segment ends, plus input and output rounding
    for def in super::funcs::FUNCS {
        if def.name == "sign" {
            continue; // discontinuous: exact away from 0, checked below
        }
        let positive = def.domain != super::funcs::Domain::All;
        let grid: Vec<f64> = (0..400)
            .map(|i| {
                let t = f64::from(i) / 399.0;
                if positive {
                    0.05 + 3.95 * t
                } else {
                    -4.0 + 8.0 * t
                }
            })
            .collect();
        let g = func_graph(def.name, grid.len());
        let q = quantize(&g, Some(&[vec![grid.clone()]]), &QuantOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", def.name));
        let super::QuantOp::Func(qf) = &q.graph.nodes[0].op else {
            panic!("{}: not a table function", def.name)
        };
        let (s_in, s_out) = (q.scale(0), q.scale(1));
        let trace = witness::run(&q, witness::quantize_input(&q, &grid).expect("input"))
            .unwrap_or_else(|e| panic!("{}: {e}", def.name));
        let f = |x: f64| (def.f)(x, &[]);
        let mut worst = 0f64;
        for (&x, &y) in grid.iter().zip(&trace.output()) {
            let xq = (x * 2f64.powi(s_in as i32)).round();
            let xr = xq / 2f64.powi(s_in as i32);
            let (start, r, _, _) = qf.segment_of(xq as i64).expect("in the table");
            let w = 2f64.powi(r as i32 - s_in as i32);
            let x0 = start as f64 / 2f64.powi(s_in as i32);
            let interp = f(x0) + (f(x0 + w) - f(x0)) * (xr - x0) / w;
            let bound =
                (interp - f(xr)).abs() + (f(xr) - f(x)).abs() + 2.0 / 2f64.powi(s_out as i32);
            let got = witness::dequantize(y, s_out);
            let err = (got - f(x)).abs();
            assert!(
                err <= bound + 1e-12,
                "{}({x}) = {got}, float {} (bound {bound}, segment 2^{r})",
                def.name,
                f(x),
            );
            worst = worst.max(err);
        }
        println!(
            "{}: max error {worst:.2e} ({}, scales {s_in} -> {s_out})",
            def.name,
            super::QuantOpImpl::describe(qf)
        );
    }
}

#[test]
fn a_function_table_cannot_be_bent() {
    let g = func_graph("sigmoid", 4);
    let x = [-2.0, -0.5, 0.25, 3.0];
    let cal = vec![vec![vec![-4.0, -1.0, 1.0, 4.0]]];
    let opts = QuantOptions::default();
    let q = Arc::new(quantize(&g, Some(&cal), &opts).expect("quantize"));
    let p = plan(&q).expect("plan");
    let trace = witness::run(&q, witness::quantize_input(&q, &x).expect("in")).expect("run");
    let mk = |cw: CircuitWitness| {
        let instance = instance_field(&cw.instance);
        mock(&q, &p, cw, instance)
    };
    let honest = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    mk(honest.clone()).expect("honest");
    // a segment value that is not the table's, carried through to the output
    let mut t = honest.clone();
    let w = &mut t.nodes[0].func[0][1];
    w.f0 += 3;
    w.acc = (w.f0 << q.table_bits) + w.slope * w.l;
    let errs = mk(t).expect_err("bent table");
    assert!(errs.iter().any(|e| e.contains("func table")), "{errs:#?}");
    // an input outside the calibrated table is a witness error naming the node
    let far = witness::run(
        &q,
        witness::quantize_input(&q, &[0.0, 0.0, 0.0, 7.0]).expect("in"),
    );
    assert!(
        matches!(far, Err(witness::WitnessError::OutsideTable { ref node, index: 3, .. }) if node == "n0"),
        "{far:?}"
    );
}

fn argmax_setup(z: &[f64]) -> Setup {
    let g = chain(
        &[1, z.len()],
        vec![(
            vec![],
            vec![1],
            FloatOp::ArgMax(super::argmax::ArgMax { n: z.len() }),
        )],
    );
    setup(&g, z)
}

/// Replaces the argmax node's witness (node 0) by the one for a claimed index, and the public
/// output with it.
fn claim_index(s: &mut Setup, c: usize) {
    let lanes = s.lanes;
    let q = s.q.clone();
    let ctx = q.node_ctx(0, lanes, q.table_bits);
    let super::QuantOp::ArgMax(op) = &q.graph.nodes[0].op else {
        panic!("not an argmax")
    };
    let z: Vec<i64> = s.cw.instance[..op.n].to_vec();
    let x = crate::graph::Inputs(vec![z.as_slice()]);
    s.cw.nodes[0] = op.witness_for(&ctx, &x, Some(c)).expect("witness");
    let n_in = q.input_len();
    s.cw.instance[n_in] = c as i64;
}

#[test]
fn argmax_is_the_first_maximum_and_cannot_be_claimed_otherwise() {
    // a tie between 1 and 2: ONNX (and zkinfer) answer 1
    let z = [0.5, 1.0, 1.0, -0.5];
    let s = argmax_setup(&z);
    s.run().expect("honest argmax");
    assert_eq!(s.cw.instance[4], 1);
    // the later index of the tie: z_1 = m with t_1 = 1 makes v_1 = −1 ≠ ReLU(v_1)
    let mut t = argmax_setup(&z);
    claim_index(&mut t, 2);
    let err = t.run().expect_err("second of a tie");
    assert!(!err.is_empty());
    // an index that is not a maximum: Σ s·z − m ≠ 0
    let mut t = argmax_setup(&z);
    claim_index(&mut t, 0);
    t.run().expect_err("not a maximum");
    // the honest witness with another public output: the index row disagrees
    let mut t = argmax_setup(&z);
    t.cw.instance[4] = 3;
    t.run().expect_err("edited output");
}

#[test]
fn argmax_selector_must_be_one_hot() {
    // With a tie z_1 = z_2 = m, the selector s = (0, 2, −1, 0) passes every check but
    // booleanity: Σ s = 1, Σ s·z = 2m − m = m, t = (1, −1, 0, 0) keeps every v ≥ 0, and it
    // claims index Σ j·s = 0, which is not a maximum. Only s² = s catches it.
    let z = [0.5, 1.0, 1.0, -0.5];
    let mut t = argmax_setup(&z);
    let n = z.len();
    let lanes = t.lanes;
    let zq: Vec<i64> = t.cw.instance[..n].to_vec();
    let m = zq[1];
    let s_bits = [0i64, 2, -1, 0];
    let sz: Vec<i64> = s_bits.iter().zip(&zq).map(|(a, b)| a * b).collect();
    let tt: Vec<i64> = (0..n).map(|j| s_bits[j + 1..].iter().sum()).collect();
    let u: Vec<i64> = zq.iter().map(|&zj| m - zj - 1).collect();
    let v: Vec<i64> = tt.iter().zip(&u).map(|(a, b)| a * b).collect();
    assert!(v.iter().all(|&x| x >= 0));
    let dense = |w: &[Vec<i64>], b: &[i64], x: &[i64]| {
        DenseWitness::compute(lanes, w, b, x).expect("dense")
    };
    let w = &mut t.cw.nodes[0];
    let start = 2 * (n - 1); // the max's dense blocks come first
    w.product[0] = s_bits.to_vec();
    w.product[1] = s_bits.iter().map(|b| b * b).collect();
    w.product[2] = sz.clone();
    w.product[3] = v.clone();
    w.dense[start + 1] = dense(&[vec![1; n]], &[-1], &s_bits);
    let mut xs = sz;
    xs.push(m);
    w.dense[start + 2] = dense(&[vec![1, 1, 1, 1, -1]], &[0], &xs);
    w.dense[start + 3] = dense(&[vec![0, 1, 2, 3]], &[0], &s_bits);
    let t_rows: Vec<Vec<i64>> = (0..n)
        .map(|j| (0..n).map(|i| i64::from(i > j)).collect())
        .collect();
    w.dense[start + 4] = dense(&t_rows, &[0; 4], &s_bits);
    let last = w.rescale.len() - 1;
    w.rescale[last] = v
        .iter()
        .map(|&x| zkinfer_circuits::rescale::RescaleWitness::compute(x, 0, 8))
        .collect();
    let n_in = t.q.input_len();
    t.cw.instance[n_in] = 0;
    let errs = t.run().expect_err("a selector that is not one-hot");
    assert!(
        errs.iter()
            .all(|e| e.contains("ermutation") || e.contains("quality")),
        "only the booleanity copies should fail: {errs:#?}"
    );
}

#[test]
fn argmax_over_a_spread_wider_than_the_activations_is_a_witness_error() {
    // 16-bit activations at scale 6: every max-fold difference fits, but v_0 = m − z_0 − 1
    // (1000 at scale 6 = 63999) does not: the witness must refuse, not hand a failing proof on
    let g = chain(
        &[1, 3],
        vec![(
            vec![],
            vec![1],
            FloatOp::ArgMax(super::argmax::ArgMax { n: 3 }),
        )],
    );
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    let q = quantize(&g, None, &opts).expect("quantize");
    let x = witness::quantize_input(&q, &[-500.0, 0.0, 500.0]).expect("input");
    assert!(
        matches!(
            witness::run(&q, x),
            Err(witness::WitnessError::ActivationRange { .. })
        ),
        "a v_j past the activation range must be a witness error"
    );
}

#[test]
fn nodes_sharing_a_table_tag_must_share_the_table() {
    let g = chain(
        &[1, 2],
        vec![
            (
                vec![0],
                vec![1, 2],
                FloatOp::Func(super::func::Func {
                    name: "tanh".into(),
                    params: vec![],
                    len: 2,
                }),
            ),
            (
                vec![0],
                vec![1, 2],
                FloatOp::Func(super::func::Func {
                    name: "sigmoid".into(),
                    params: vec![],
                    len: 2,
                }),
            ),
        ],
    );
    let mut g = g;
    g.outputs = vec![1, 2];
    let mut q =
        quantize(&g, Some(&[vec![vec![-1.0, 1.0]]]), &QuantOptions::default()).expect("quantize");
    q.check().expect("distinct tags");
    if let super::QuantOp::Func(f) = &mut q.graph.nodes[1].op {
        f.tag = 1; // claim tanh's tag for sigmoid's table
    }
    assert!(q
        .check()
        .expect_err("shared tag")
        .contains("shares table tag"));
}

/// A one-layer model `[1, 3] → [1, 2]` (with a fused ReLU if `relu`; outputs range-checked
/// if `bound_outputs`) planned for `privacy`, and its trace on `[1, −2, 0.5]`.
fn small_private_model(
    relu: bool,
    bound_outputs: bool,
    privacy: crate::plan::Privacy,
) -> (Arc<QuantModel>, crate::plan::Plan, witness::Trace) {
    let g = chain(
        &[1, 3],
        vec![(
            vec![],
            vec![1, 2],
            dense(
                &[vec![0.5, -1.0, 0.25], vec![1.0, 1.0, -0.5]],
                &[0.1, 0.0],
                relu,
            ),
        )],
    );
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs,
    };
    let q = quantize(&g, None, &opts).expect("quantize");
    let p = crate::plan::plan_for(&q, privacy).expect("plan");
    let trace = witness::run(
        &q,
        witness::quantize_input(&q, &[1.0, -2.0, 0.5]).expect("in"),
    )
    .expect("run");
    (Arc::new(q), p, trace)
}

#[test]
fn a_private_input_is_range_checked_in_the_circuit() {
    use crate::plan::Privacy;
    let privacy = Privacy {
        weights: true,
        input: true,
        hashed_input: false,
        hashed_output: false,
    };
    let (q, p, trace) = small_private_model(true, false, privacy);
    let run = |cw: CircuitWitness| {
        assert_eq!(cw.instance.len(), 2, "only the outputs are public");
        let instance = instance_field(&cw.instance);
        mock(&q, &p, cw, instance)
    };
    let honest = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    run(honest.clone()).expect("honest");
    // an input beyond the activation range (here 2^16 with 16-bit activations) is refused by
    // the range check a public input gets from the verifier
    let mut far = honest.clone();
    far.inputs[0] = 1 << 16;
    let errs = run(far).expect_err("out-of-range input");
    assert!(
        errs.iter().any(|e| e.contains("relu sign table")),
        "{errs:#?}"
    );
    // another input than the one the outputs were computed from breaks the copies
    let mut other = honest;
    other.inputs[1] += 1;
    assert!(run(other).is_err());
}

#[test]
fn a_hashed_input_is_the_hashed_cells_of_the_range_checked_input() {
    use crate::plan::Privacy;
    let privacy = Privacy {
        weights: false,
        input: true,
        hashed_input: true,
        hashed_output: false,
    };
    let (q, p, trace) = small_private_model(true, false, privacy);
    assert!(p.shape.shared_hash_columns, "the cheaper layout here");
    for_each_hash_layout(p, |p| {
        hashed_input_is_bound(&q, &p, &trace);
    });
}

/// Runs `check` with the Poseidon chip in the other chips' columns and in its own (`k` as
/// planned for the shared layout, which needs at least as many rows).
fn for_each_hash_layout(p: crate::plan::Plan, check: impl Fn(crate::plan::Plan)) {
    for shared in [true, false] {
        let mut p = p.clone();
        p.shape.shared_hash_columns = shared;
        check(p);
    }
}

fn hashed_input_is_bound(q: &Arc<QuantModel>, p: &crate::plan::Plan, trace: &witness::Trace) {
    use halo2_proofs::halo2curves::bn256::Fr;
    let bits = q.activation_bits();
    let run = |cw: CircuitWitness, instance: Vec<Fr>| mock(q, p, cw, instance);
    let honest = CircuitWitness::new(q, p.shape, trace)
        .expect("witness")
        .with_input_salt(Fr::from(77), bits);
    let instance = honest.instance_fields();
    assert_eq!(instance.len(), 3, "hash + two outputs");
    assert_eq!(
        instance[0],
        crate::hash::hash_input(&trace.input(), bits, Fr::from(77))
    );
    run(honest.clone(), instance.clone()).expect("honest");
    // the sponge of another salt against the published hash
    let other = honest.clone().with_input_salt(Fr::from(78), bits);
    assert!(run(other, instance.clone()).is_err());
    // another input hashed (its own sponge) while the model reads the true one
    let mut swapped = honest.clone();
    swapped.inputs[0] += 1;
    let swapped = swapped.with_input_salt(Fr::from(77), bits);
    let mut inst = instance.clone();
    inst[0] = swapped.instance_fields()[0];
    assert!(run(swapped, inst).is_err());
}

#[test]
fn a_hashed_output_is_range_checked_and_bound_to_its_hash() {
    use crate::plan::Privacy;
    let privacy = Privacy {
        hashed_output: true,
        ..Privacy::default()
    };
    let (q, p, trace) = small_private_model(false, true, privacy);
    assert!(p.shape.shared_hash_columns, "the cheaper layout here");
    for_each_hash_layout(p, |p| {
        hashed_output_is_bound(&q, &p, &trace);
    });
}

fn hashed_output_is_bound(q: &Arc<QuantModel>, p: &crate::plan::Plan, trace: &witness::Trace) {
    use halo2_proofs::halo2curves::bn256::Fr;
    let bits = q.activation_bits();
    let honest = CircuitWitness::new(q, p.shape, trace)
        .expect("witness")
        .with_output_salt(Fr::from(5), bits);
    let instance = honest.instance_fields();
    assert_eq!(
        instance.len(),
        3 + 1,
        "the public input, then the output hash"
    );
    mock(q, p, honest.clone(), instance.clone()).expect("honest");
    // another salt's sponge against the published hash
    let other = honest.clone().with_output_salt(Fr::from(6), bits);
    assert!(mock(q, p, other, instance.clone()).is_err());
    // hashing values other than the model's outputs (their own sponge, their own hash)
    let mut forged = honest.clone();
    forged.outputs[1] += 1;
    let forged = forged.with_output_salt(Fr::from(5), bits);
    let inst = forged.instance_fields();
    assert!(mock(q, p, forged, inst).is_err());
    // an output beyond the activation range fails the range check before the packing
    let mut far = honest;
    far.outputs[0] = 1 << 16;
    let far = far.with_output_salt(Fr::from(5), bits);
    let inst = far.instance_fields();
    let errs = mock(q, p, far, inst).expect_err("out of range");
    assert!(
        errs.iter().any(|e| e.contains("relu sign table")),
        "{errs:#?}"
    );
}

/// The weights and biases of a `3 → 8` layer.
fn freivalds_layer() -> (Vec<Vec<f64>>, Vec<f64>) {
    let w = (0..8)
        .map(|i| {
            (0..3)
                .map(|j| ((i * 3 + j) % 7) as f64 / 4.0 - 0.75)
                .collect()
        })
        .collect();
    let b = (0..8).map(|i| i as f64 / 8.0 - 0.5).collect();
    (w, b)
}

/// A `[1, 3] → [1, 8]` layer (ReLU) planned with the Freivalds chip at `K = 4`, its trace and
/// honest witness.
fn freivalds_model() -> (Arc<QuantModel>, crate::plan::Plan, CircuitWitness) {
    let (w, b) = freivalds_layer();
    let g = chain(&[1, 3], vec![(vec![], vec![1, 8], dense(&w, &b, true))]);
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    let q = quantize(&g, None, &opts).expect("quantize");
    let mut p = plan(&q).expect("plan");
    p.shape.freivalds = 4;
    p.shape.freivalds_pack = 1;
    let cw = layer_witness(&q, &p);
    (Arc::new(q), p, cw)
}

/// The honest witness of a `[1, 3]`-input model on `[1, −2, 0.5]` for plan `p`.
fn layer_witness(q: &QuantModel, p: &crate::plan::Plan) -> CircuitWitness {
    let trace = witness::run(
        q,
        witness::quantize_input(q, &[1.0, -2.0, 0.5]).expect("in"),
    )
    .expect("run");
    CircuitWitness::new(q, p.shape, &trace).expect("witness")
}

#[test]
fn a_freivalds_checked_layer_proves_and_refuses_other_outputs() {
    let (q, p, honest) = freivalds_model();
    assert_eq!(
        honest.nodes[0].freivalds.len(),
        1,
        "checked by the Freivalds chip"
    );
    assert!(honest.nodes[0].dense.is_empty());
    let instance = instance_field(&honest.instance);
    mock(&q, &p, honest.clone(), instance.clone()).expect("honest");
    // another accumulator, rescaled consistently (so only the Freivalds check can object)
    for i in 0..8 {
        let mut forged = honest.clone();
        let z = forged.nodes[0].freivalds[0][i] + 64;
        forged.nodes[0].freivalds[0][i] = z;
        forged.nodes[0].rescale[0][i] = zkinfer_circuits::rescale::RescaleWitness::compute(
            z,
            match &q.graph.nodes[0].op {
                super::QuantOp::Linear(l) => l.shift,
                _ => unreachable!("a linear layer"),
            },
            p.shape.range_bits,
        );
        let mut inst = instance.clone();
        // the public output follows the forged value
        let forged_out = forged.nodes[0].rescale[0][i].a;
        inst[3 + i] = crate::circuit::instance_field(&[forged_out])[0];
        let errs = mock(&q, &p, forged, inst).expect_err("forged output");
        assert!(
            errs.iter().any(|e| e.contains("freivalds end")),
            "{errs:#?}"
        );
    }
}

/// Proves with the real prover (dev SRS) and verifies.
fn real_prove_verify(
    q: &Arc<QuantModel>,
    p: &crate::plan::Plan,
    cw: CircuitWitness,
    instance: Vec<halo2_proofs::halo2curves::bn256::Fr>,
) -> Result<(), String> {
    let srs = crate::keys::dev_srs(p.k).expect("srs");
    let pk = crate::keys::keygen(&srs, &ModelCircuit::keygen(q.clone(), p.shape)).expect("keys");
    let c = ModelCircuit::prove(q.clone(), p.shape, cw);
    let rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(7);
    let proof = crate::prover::prove(&srs, &pk, c, &instance, rng).map_err(|e| e.to_string())?;
    let vsrs = crate::keys::VerifierSrs::from_srs(&srs);
    crate::verifier::verify(&vsrs, pk.get_vk(), &instance, &proof)
}

#[test]
fn a_freivalds_layer_verifies_with_the_real_prover_and_a_forged_one_does_not() {
    let (q, p, honest) = freivalds_model();
    let instance = instance_field(&honest.instance);
    real_prove_verify(&q, &p, honest.clone(), instance.clone()).expect("honest real proof");
    let mut forged = honest.clone();
    let i = 2;
    let z = forged.nodes[0].freivalds[0][i] + 64;
    forged.nodes[0].freivalds[0][i] = z;
    let shift = match &q.graph.nodes[0].op {
        super::QuantOp::Linear(l) => l.shift,
        _ => unreachable!(),
    };
    forged.nodes[0].rescale[0][i] =
        zkinfer_circuits::rescale::RescaleWitness::compute(z, shift, p.shape.range_bits);
    let mut inst = instance.clone();
    inst[3 + i] = instance_field(&[forged.nodes[0].rescale[0][i].a])[0];
    let r = real_prove_verify(&q, &p, forged, inst);
    assert!(r.is_err(), "forged proof verified: {r:?}");
}

/// A `[1, 3] → [1, n_out]` layer (ReLU) at Freivalds width 4 in `banks` banks, its checks
/// split between them ([`crate::circuit::CircuitShape::freivalds_split`]), with fixed weights
/// or private (advice-only) ones: the model, its plan, the honest witness.
fn split_freivalds_model(
    n_out: usize,
    banks: usize,
    private: bool,
) -> (Arc<QuantModel>, crate::plan::Plan, CircuitWitness) {
    split_freivalds_model_balanced(n_out, banks, private, false)
}

/// [`split_freivalds_model`], with `balance` the checks of one block each, the banks taking
/// them largest first ([`crate::circuit::CircuitShape::freivalds_balance`]).
fn split_freivalds_model_balanced(
    n_out: usize,
    banks: usize,
    private: bool,
    balance: bool,
) -> (Arc<QuantModel>, crate::plan::Plan, CircuitWitness) {
    let w: Vec<Vec<f64>> = (0..n_out)
        .map(|i| {
            (0..3)
                .map(|j| ((i * 3 + j) % 7) as f64 / 4.0 - 0.75)
                .collect()
        })
        .collect();
    let b: Vec<f64> = (0..n_out).map(|i| (i % 8) as f64 / 8.0 - 0.5).collect();
    let g = chain(&[1, 3], vec![(vec![], vec![1, n_out], dense(&w, &b, true))]);
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    let q = quantize(&g, None, &opts).expect("quantize");
    let shape = crate::circuit::CircuitShape {
        freivalds: 4,
        freivalds_pack: 1,
        freivalds_banks: banks,
        freivalds_split: true,
        freivalds_balance: balance,
        private_weights: private,
        weight_offset: private,
        freivalds_advice_weights: private,
        ..plan(&q).expect("plan").shape
    };
    let p = crate::plan::plan_of(&q, &shape).expect("a split plan");
    assert!(p.shape.freivalds_split);
    assert_eq!(p.shape.freivalds_balance, balance);
    let cw = layer_witness(&q, &p);
    (Arc::new(q), p, cw)
}

/// Forges each of the layer's `n_out` outputs alone (its Freivalds `y` cell, its rescale
/// consistently, its published value): each fails its own check, `per_check` outputs a check,
/// and nothing else.
fn each_forged_output_fails_its_own_check(
    q: &Arc<QuantModel>,
    p: &crate::plan::Plan,
    honest: &CircuitWitness,
    instance: &[halo2_proofs::halo2curves::bn256::Fr],
    n_out: usize,
    per_check: usize,
) {
    let shift = match &q.graph.nodes[0].op {
        super::QuantOp::Linear(l) => l.shift,
        _ => unreachable!("a linear layer"),
    };
    for i in 0..n_out {
        let (c, at) = (i / per_check, i % per_check);
        let mut forged = honest.clone();
        let z = forged.nodes[0].freivalds[c][at] + 64;
        forged.nodes[0].freivalds[c][at] = z;
        forged.nodes[0].rescale[0][i] =
            zkinfer_circuits::rescale::RescaleWitness::compute(z, shift, p.shape.range_bits);
        let mut inst = instance.to_vec();
        inst[3 + i] = instance_field(&[forged.nodes[0].rescale[0][i].a])[0];
        let errs = mock(q, p, forged, inst).expect_err("forged output");
        assert!(
            errs.iter().any(|e| e.contains("freivalds end")),
            "output {i}: {errs:#?}"
        );
        assert_eq!(errs.len(), 1, "output {i}: only its check fails: {errs:#?}");
    }
}

/// A layer split between banks, with fixed weights and with private (advice-only) ones: one
/// check of whole blocks a part (two blocks in two banks; five blocks, the last partial, in
/// four banks: parts of 2, 2 and 1 blocks), honest witnesses prove and verify, and each
/// output forged alone (rescaled consistently, published) fails its own check and nothing
/// else.
#[test]
fn a_layer_split_between_banks_is_checked_block_by_block() {
    for (n_out, banks, parts) in [(8, 2, vec![4, 4]), (18, 4, vec![8, 8, 2])] {
        for private in [false, true] {
            let (q, p, honest) = split_freivalds_model(n_out, banks, private);
            let checks: Vec<usize> = honest.nodes[0].freivalds.iter().map(Vec::len).collect();
            assert_eq!(checks, parts, "{n_out} outputs in {banks} banks");
            let ctx = q.node_ctx_in(0, &p.shape);
            assert!(q.graph.nodes[0].op.imp().freivalds_splits(&ctx));
            assert!(!q.graph.nodes[0].op.imp().freivalds_merges(&ctx));
            let rows = |n| zkinfer_circuits::freivalds::FreivaldsConfig::rows(3, n, 4);
            assert_eq!(
                p.freivalds_rows,
                rows(parts[0]),
                "the fullest bank holds one part"
            );
            let instance = instance_field(&honest.instance);
            mock(&q, &p, honest.clone(), instance.clone()).expect("honest, split");
            if n_out == 8 {
                real_prove_verify(&q, &p, honest.clone(), instance.clone())
                    .expect("honest real proof");
            }
            each_forged_output_fails_its_own_check(&q, &p, &honest, &instance, n_out, parts[0]);
        }
    }
}

/// A layer split into checks of one block each and balanced between three banks (largest
/// first, each to the emptiest bank): 18 outputs at width 4 are five checks (4, 4, 4, 4, 2
/// outputs), the fullest bank holds two of four, honest witnesses prove and verify with fixed
/// and private weights, and each output forged alone fails its own check and nothing else.
#[test]
fn balanced_banks_check_every_block_on_its_own() {
    let rows = |n| zkinfer_circuits::freivalds::FreivaldsConfig::rows(3, n, 4);
    for private in [false, true] {
        let (q, p, honest) = split_freivalds_model_balanced(18, 3, private, true);
        let checks: Vec<usize> = honest.nodes[0].freivalds.iter().map(Vec::len).collect();
        assert_eq!(checks, vec![4, 4, 4, 4, 2]);
        assert_eq!(
            crate::plan::bank_order_of(&q, &p.shape),
            vec![0, 1, 2, 0, 1],
            "largest first, each to the bank with the fewest rows"
        );
        assert_eq!(p.freivalds_rows, 2 * rows(4), "the fullest bank");
        let instance = instance_field(&honest.instance);
        mock(&q, &p, honest.clone(), instance.clone()).expect("honest, balanced");
        if !private {
            real_prove_verify(&q, &p, honest.clone(), instance.clone()).expect("honest real proof");
        }
        each_forged_output_fails_its_own_check(&q, &p, &honest, &instance, 18, 4);
    }
}

/// Balanced banks over two layers whose checks come smaller first (layer 1: two blocks of 3
/// inputs; layer 2: blocks of 8 inputs): the balanced order differs from synthesis order,
/// synthesis follows it (an order not used up is a synthesis error), honest witnesses prove
/// and verify, and each forged output of layer 2 fails its own check alone.
#[test]
fn balanced_banks_follow_the_plan_order_across_layers() {
    let (q0, p0, _, _) = two_freivalds_layers_at(2, 4, 1);
    let shape = crate::circuit::CircuitShape {
        freivalds_split: true,
        freivalds_balance: true,
        ..p0.shape
    };
    let p = crate::plan::plan_of(&q0, &shape).expect("a balanced plan");
    assert!(p.shape.freivalds_balance);
    let q = q0.clone();
    let order = crate::plan::bank_order_of(&q, &p.shape);
    // checks of 8, 8 (layer 1), 13, 10 rows (layer 2): in order the banks would take
    // [0, 1, 0, 1]; largest first, [1, 0, 0, 1]
    assert_eq!(order, vec![1, 0, 0, 1]);
    let input = witness::quantize_input(&q, &[1.0, -2.0, 0.5]).expect("in");
    let trace = witness::run(&q, input).expect("run");
    let honest = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    assert_eq!(
        honest.nodes[1].freivalds.len(),
        2,
        "layer 2 in one-block checks"
    );
    let instance = instance_field(&honest.instance);
    mock(&q, &p, honest.clone(), instance.clone()).expect("honest, balanced");
    real_prove_verify(&q, &p, honest.clone(), instance.clone()).expect("honest real proof");
    let shift = match &q.graph.nodes[1].op {
        super::QuantOp::Linear(l) => l.shift,
        _ => unreachable!("a linear layer"),
    };
    for i in 0..5 {
        let (c, at) = (i / 4, i % 4);
        let mut t = trace.clone();
        let mut forged = honest.nodes[1].clone();
        let z = forged.freivalds[c][at] + (1 << shift);
        forged.freivalds[c][at] = z;
        forged.rescale[0][i] =
            zkinfer_circuits::rescale::RescaleWitness::compute(z, shift, p.shape.range_bits);
        let n_in = q.graph.inputs.len();
        t.values[n_in + 1][i] = forged.rescale[0][i].y;
        let mut cw = CircuitWitness::new(&q, p.shape, &t).expect("witness");
        cw.nodes[1] = forged;
        let inst = instance_field(&cw.instance);
        assert_ne!(inst, instance, "the forged output is public");
        let errs = mock(&q, &p, cw, inst).expect_err("forged layer 2");
        assert!(
            errs.iter().any(|e| e.contains("freivalds end")),
            "output {i}: {errs:#?}"
        );
        assert_eq!(errs.len(), 1, "output {i}: only its check fails: {errs:#?}");
    }
}

/// Two Freivalds layers back to back, in `banks` Freivalds chips (with two, each layer in its
/// own columns): the model, its plan and the honest witness and trace.
fn two_freivalds_layers(
    banks: usize,
) -> (
    Arc<QuantModel>,
    crate::plan::Plan,
    CircuitWitness,
    witness::Trace,
) {
    two_freivalds_layers_at(banks, 4, 1)
}

/// [`two_freivalds_layers`] at Freivalds width `width` with `pack` outputs per weight cell.
fn two_freivalds_layers_at(
    banks: usize,
    width: usize,
    pack: usize,
) -> (
    Arc<QuantModel>,
    crate::plan::Plan,
    CircuitWitness,
    witness::Trace,
) {
    let (w1, b1) = freivalds_layer();
    let w2: Vec<Vec<f64>> = (0..5)
        .map(|i| {
            (0..8)
                .map(|j| ((i * 5 + j) % 9) as f64 / 8.0 - 0.5)
                .collect()
        })
        .collect();
    let b2: Vec<f64> = (0..5).map(|i| i as f64 / 16.0).collect();
    let g = chain(
        &[1, 3],
        vec![
            (vec![], vec![1, 8], dense(&w1, &b1, true)),
            (vec![], vec![1, 5], dense(&w2, &b2, false)),
        ],
    );
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    let q = quantize(&g, None, &opts).expect("quantize");
    let mut shape = plan(&q).expect("plan").shape;
    shape.freivalds = width;
    shape.freivalds_banks = banks;
    shape.freivalds_pack = pack;
    let p = crate::plan::plan_of(&q, &shape).expect("a plan zkinfer makes");
    let input = witness::quantize_input(&q, &[1.0, -2.0, 0.5]).expect("in");
    let trace = witness::run(&q, input).expect("run");
    let honest = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    assert_eq!(honest.nodes[0].freivalds.len(), 1);
    assert_eq!(honest.nodes[1].freivalds.len(), 1);
    (Arc::new(q), p, honest, trace)
}

/// Two Freivalds layers back to back in the same columns: the second group's first row must
/// not read the first's accumulator; forging layer 1 (consistently downstream) is caught.
#[test]
fn two_freivalds_layers_in_the_same_columns_are_checked_independently() {
    forged_freivalds_layers_are_caught(1);
}

/// Two Freivalds banks (each layer in its own chip's columns, the second bank's first row at
/// row 0 beside the first's): both verify, and forging either layer is caught.
#[test]
fn two_freivalds_banks_are_each_checked() {
    let (q, p, _, _) = two_freivalds_layers(1);
    let (_, p2, _, _) = two_freivalds_layers(2);
    assert!(
        p2.freivalds_rows < p.freivalds_rows,
        "two banks take fewer rows: {} against {}",
        p2.freivalds_rows,
        p.freivalds_rows
    );
    let _ = q;
    forged_freivalds_layers_are_caught(2);
}

/// Packed outputs (`K = 2`, four outputs a weight cell: layer 1's eight outputs in one
/// block of two columns): both verify, every output forged alone is caught, the layers' rows
/// are those of width `K·P`, and the weights take a quarter of the columns.
#[test]
fn packed_freivalds_layers_are_each_checked() {
    let (q, p, _, _) = two_freivalds_layers_at(1, 2, 4);
    let [w0, w1] = freivalds_block_widths(&q, &p);
    // the hidden layer packs (three outputs a cell: its two-limb remainders at shift d
    // leave z a multiple of 2^-(2R-d), which widens t past 63); the public output layer
    // does not (an unpublished unbounded element would be free)
    assert!(w0 > 2, "hidden layer packed: {w0}");
    assert_eq!(w1, 2, "public output layer unpacked");
    let rows = zkinfer_circuits::freivalds::FreivaldsConfig::rows;
    assert_eq!(p.freivalds_rows, rows(3, 8, w0) + rows(8, 5, w1));
    forged_freivalds_layers_are_caught_at(1, 2, 4);
}

/// The block width (`K` times the outputs per cell) each of the two layers takes.
fn freivalds_block_widths(q: &QuantModel, p: &crate::plan::Plan) -> [usize; 2] {
    [0, 1].map(|i| {
        let ctx = q.node_ctx_in(i, &p.shape);
        p.shape.freivalds * q.graph.nodes[i].op.imp().freivalds_pack(&ctx)
    })
}

fn forged_freivalds_layers_are_caught(banks: usize) {
    forged_freivalds_layers_are_caught_at(banks, 4, 1)
}

fn forged_freivalds_layers_are_caught_at(banks: usize, width: usize, pack: usize) {
    let (q, p, honest, trace) = two_freivalds_layers_at(banks, width, pack);
    let instance = instance_field(&honest.instance);
    mock(&q, &p, honest.clone(), instance.clone()).expect("honest");
    real_prove_verify(&q, &p, honest.clone(), instance.clone())
        .expect("honest real proof, 2 layers");
    // layer `n`'s output `i` forged by +1: its accumulator by +2^shift, rescaled again
    let forge = |n: usize, i: usize| {
        let shift = match &q.graph.nodes[n].op {
            super::QuantOp::Linear(l) => l.shift,
            _ => unreachable!(),
        };
        let mut forged = honest.nodes[n].clone();
        let z = forged.freivalds[0][i] + (1 << shift);
        forged.freivalds[0][i] = z;
        forged.rescale[0][i] =
            zkinfer_circuits::rescale::RescaleWitness::compute(z, shift, p.shape.range_bits);
        forged
    };
    // forge each output of layer 1 and recompute layer 2 from the forged activations
    for i in 0..8 {
        let mut t = trace.clone();
        let forged1 = forge(0, i);
        let n_in = q.graph.inputs.len();
        t.values[n_in][i] = forged1.rescale[0][i].a; // relu'd output of layer 1
                                                     // recompute layer 2's tensor
        let ctx = q.node_ctx(1, 1, q.table_bits);
        let x = crate::graph::Inputs(vec![t.values[n_in].as_slice()]);
        let out2 = q.graph.nodes[1].op.imp().eval(&ctx, &x).expect("eval");
        t.values[n_in + 1] = out2;
        let mut cw = CircuitWitness::new(&q, p.shape, &t).expect("witness");
        cw.nodes[0] = forged1;
        let inst = instance_field(&cw.instance);
        let errs = mock(&q, &p, cw, inst).expect_err("forged layer 1");
        assert!(
            errs.iter().any(|e| e.contains("freivalds end")),
            "{errs:#?}"
        );
        assert!(errs.len() == 1, "only one failure expected: {errs:#?}");
    }
    // forge layer 2 (the public output, in the second bank when there are two) the same way
    for i in 0..5 {
        let mut t = trace.clone();
        let forged2 = forge(1, i);
        let n_in = q.graph.inputs.len();
        t.values[n_in + 1][i] = forged2.rescale[0][i].y;
        let mut cw = CircuitWitness::new(&q, p.shape, &t).expect("witness");
        cw.nodes[1] = forged2;
        let inst = instance_field(&cw.instance);
        assert_ne!(inst, instance, "the forged output is public");
        let errs = mock(&q, &p, cw, inst).expect_err("forged layer 2");
        assert!(
            errs.iter().any(|e| e.contains("freivalds end")),
            "{errs:#?}"
        );
        assert!(errs.len() == 1, "only one failure expected: {errs:#?}");
        // where it fails: layer 2's last row, below layer 1's rows in one bank, from row 0 of
        // the second bank with two (synthesis put it there, as the plan counted)
        let [w0, w1] = freivalds_block_widths(&q, &p);
        let rows = zkinfer_circuits::freivalds::FreivaldsConfig::rows;
        let end = if banks == 1 {
            rows(3, 8, w0) + rows(8, 5, w1) - 1
        } else {
            rows(8, 5, w1) - 1
        };
        assert!(
            errs[0].contains(&format!("on row {end}\n")),
            "layer 2's check ends at row {end}: {errs:#?}"
        );
    }
}

/// A one-dimensional convolution `[1, 6] → [2, 6]` (two output channels, kernel 3, zero
/// padding 1, ReLU) and a dense `12 → 3` layer after it: the convolution's outputs form a group
/// per position (its two channels), neighbouring positions sharing two of their three inputs.
fn conv_graph() -> FloatGraph {
    let kernel = [[0.5, -1.0, 0.75], [-0.25, 1.25, 0.5]];
    let rows = (0..2)
        .flat_map(|o| (0..6i64).map(move |p| (o, p)))
        .map(|(o, p)| super::linear::Row {
            bias: 0.125 * o as f64 - 0.0625,
            terms: (0..3i64)
                .filter(|d| (0..6).contains(&(p + d - 1)))
                .map(|d| (Ref(0, (p + d - 1) as u32), kernel[o][d as usize]))
                .collect(),
        })
        .collect();
    let w2: Vec<Vec<f64>> = (0..3)
        .map(|i| {
            (0..12)
                .map(|j| ((i * 7 + j) % 5) as f64 / 4.0 - 0.5)
                .collect()
        })
        .collect();
    chain(
        &[1, 6],
        vec![
            (
                vec![],
                vec![1, 2, 6],
                FloatOp::Linear(super::linear::Linear { rows, relu: true }),
            ),
            (vec![], vec![1, 3], dense(&w2, &[0.25, -0.5, 0.0], false)),
        ],
    )
}

/// [`conv_graph`] at Freivalds width 2, four outputs a weight cell at most, its checks merged
/// or not (`merge: false` is the layout of builds made before merging): the model, its plan,
/// the honest witness and trace.
fn conv_freivalds(
    merge: bool,
) -> (
    Arc<QuantModel>,
    crate::plan::Plan,
    CircuitWitness,
    witness::Trace,
) {
    let opts = QuantOptions {
        scale: Some(6),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    let q = quantize(&conv_graph(), None, &opts).expect("quantize");
    let mut shape = plan(&q).expect("plan").shape;
    shape.freivalds = 2;
    shape.freivalds_banks = 1;
    shape.freivalds_pack = crate::plan::freivalds_pack(2, false);
    shape.freivalds_merge = merge;
    let p = crate::plan::plan_of(&q, &shape).expect("a plan zkinfer makes");
    let input = witness::quantize_input(&q, &[1.0, -2.0, 0.5, 0.25, -0.75, 1.5]).expect("in");
    let trace = witness::run(&q, input).expect("run");
    let honest = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    (Arc::new(q), p, honest, trace)
}

/// The output indices of each Freivalds check of linear node `n`, from the checks' sizes in
/// the witness (a check takes consecutive groups whole).
fn check_outputs(q: &QuantModel, cw: &CircuitWitness, n: usize) -> Vec<Vec<u32>> {
    let super::QuantOp::Linear(l) = &q.graph.nodes[n].op else {
        unreachable!("a linear layer")
    };
    let mut groups = l.groups.iter();
    cw.nodes[n]
        .freivalds
        .iter()
        .map(|check| {
            let mut out = vec![];
            while out.len() < check.len() {
                out.extend_from_slice(&groups.next().expect("a group").out);
            }
            assert_eq!(out.len(), check.len(), "checks take whole groups");
            out
        })
        .collect()
}

/// Merged checks: a convolution's six position groups go to the Freivalds chip in checks of
/// up to `K·P` outputs reading the union of their inputs once (fewer rows than a check a
/// group, which older builds keep); honest witnesses verify (MockProver and the real
/// prover), and every convolution output forged alone, consistently downstream, is caught by
/// its check.
#[test]
fn merged_freivalds_checks_read_shared_inputs_once_and_catch_every_forged_output() {
    let (q, p, honest, trace) = conv_freivalds(true);
    let (q_old, p_old, honest_old, _) = conv_freivalds(false);
    let super::QuantOp::Linear(l) = &q.graph.nodes[0].op else {
        unreachable!()
    };
    assert_eq!(l.groups.len(), 6, "a group per position");
    let checks = check_outputs(&q, &honest, 0);
    assert!(
        checks.len() < 6 && checks.len() > 1,
        "positions merged: {checks:?}"
    );
    assert_eq!(honest_old.nodes[0].freivalds.len(), 6, "a check a group");
    assert!(
        p.freivalds_rows < p_old.freivalds_rows,
        "merged {} rows, a check a group {}",
        p.freivalds_rows,
        p_old.freivalds_rows
    );
    // the rows are the chip's for each check's union of inputs
    let ctx = q.node_ctx_in(0, &p.shape);
    let width = p.shape.freivalds * q.graph.nodes[0].op.imp().freivalds_pack(&ctx);
    let mut at = 0;
    let mut expected = vec![];
    for c in &checks {
        let n_groups = c.len() / 2;
        let mut inputs: Vec<Ref> = l.groups[at..at + n_groups]
            .iter()
            .flat_map(|g| g.x.clone())
            .collect();
        inputs.sort();
        inputs.dedup();
        expected.push(zkinfer_circuits::freivalds::FreivaldsConfig::rows(
            inputs.len(),
            c.len(),
            width,
        ));
        at += n_groups;
    }
    assert_eq!(q.graph.nodes[0].op.imp().freivalds_groups(&ctx), expected);
    let instance = instance_field(&honest.instance);
    mock(&q, &p, honest.clone(), instance.clone()).expect("honest, merged");
    real_prove_verify(&q, &p, honest.clone(), instance).expect("honest real proof, merged");
    let inst_old = instance_field(&honest_old.instance);
    mock(&q_old, &p_old, honest_old, inst_old).expect("honest, a check a group");
    let shift = l.shift;
    let n_in = q.graph.inputs.len();
    let mut forged_count = 0;
    for (c, outs) in checks.iter().enumerate() {
        for (at, &j) in outs.iter().enumerate() {
            let j = j as usize;
            let mut forged = honest.nodes[0].clone();
            let z = forged.freivalds[c][at] + (1 << shift);
            forged.freivalds[c][at] = z;
            forged.rescale[0][j] =
                zkinfer_circuits::rescale::RescaleWitness::compute(z, shift, p.shape.range_bits);
            let mut t = trace.clone();
            t.values[n_in][j] = forged.rescale[0][j].a;
            let ctx = q.node_ctx(1, 1, q.table_bits);
            let x = crate::graph::Inputs(vec![t.values[n_in].as_slice()]);
            t.values[n_in + 1] = q.graph.nodes[1].op.imp().eval(&ctx, &x).expect("eval");
            let mut cw = CircuitWitness::new(&q, p.shape, &t).expect("witness");
            cw.nodes[0] = forged;
            let inst = instance_field(&cw.instance);
            let errs = mock(&q, &p, cw, inst).expect_err("forged convolution output");
            assert!(
                errs.iter().any(|e| e.contains("freivalds end")),
                "output {j}: {errs:#?}"
            );
            assert_eq!(errs.len(), 1, "output {j}: only its check fails: {errs:#?}");
            forged_count += 1;
        }
    }
    assert_eq!(forged_count, 12);
}

/// A residual Add folds into the Linear before it (one rescale, no rounding in between, the
/// same float function) when its skip elements are among those the Linear's groups read
/// already; a skip from elsewhere that would split a convolution's position groups, or a
/// broadcast reader of one element, stays a layer of its own.
#[test]
fn a_residual_add_folds_into_the_linear_before_it_only_where_its_groups_stay() {
    // `y_j = A_j + c·s_j` over `n` elements, `A` in slot 0 and the skip `s` in slot 1
    let add = |n: u32, broadcast: bool| {
        FloatOp::Linear(super::linear::Linear {
            rows: (0..n)
                .map(|j| super::linear::Row {
                    bias: 0.0,
                    terms: vec![
                        (Ref(0, if broadcast { 0 } else { j }), 1.0),
                        (Ref(1, j), -0.5),
                    ],
                })
                .collect(),
            relu: false,
        })
    };
    let FloatOp::Linear(conv2) = conv_graph().nodes[0].op.clone() else {
        unreachable!()
    };
    let conv2 = super::linear::Linear {
        relu: false,
        ..conv2
    };
    // one channel: the skip (the convolution's own input) is its patch's centre
    let conv1 = super::linear::Linear {
        rows: conv2.rows[..6].to_vec(),
        relu: false,
    };
    let (w, b) = freivalds_layer();
    let w6: Vec<Vec<f64>> = w[..6]
        .iter()
        .map(|r| vec![r[0], r[1], r[2], 0.5, -0.5, 0.25])
        .collect();
    let mean = dense(&[vec![1.0 / 6.0; 6]], &[0.0], false);
    let x6 = [1.0, -2.0, 0.5, 0.25, -0.75, 1.5];
    // (what, input shapes' lengths, nodes, folds)
    type Nodes = Vec<(Vec<usize>, Vec<usize>, FloatOp)>;
    let cases: Vec<(&str, Vec<usize>, Nodes, bool)> = vec![
        (
            "convolution, skip its input",
            vec![6],
            vec![
                (vec![0], vec![1, 6], FloatOp::Linear(conv1)),
                (vec![1, 0], vec![1, 6], add(6, false)),
            ],
            true,
        ),
        (
            "gemm, skip its input",
            vec![6],
            vec![
                (vec![0], vec![1, 6], dense(&w6, &b[..6], false)),
                (vec![1, 0], vec![1, 6], add(6, false)),
            ],
            true,
        ),
        (
            "two-channel convolution, skip from elsewhere",
            vec![6, 12],
            vec![
                (vec![0], vec![1, 2, 6], FloatOp::Linear(conv2)),
                (vec![2, 1], vec![1, 2, 6], add(12, false)),
            ],
            false,
        ),
        (
            "a mean read by every element",
            vec![6],
            vec![
                (vec![0], vec![1, 1], mean),
                (vec![1, 0], vec![1, 6], add(6, true)),
            ],
            false,
        ),
    ];
    for (what, inputs, nodes, folds) in cases {
        // tensors: the inputs, then one per node (node inputs name tensors by id)
        let mut g = crate::graph::Graph {
            inputs: inputs
                .iter()
                .enumerate()
                .map(|(i, &n)| crate::graph::Input {
                    name: format!("input{i}"),
                    shape: vec![1, n],
                })
                .collect(),
            nodes: vec![],
            outputs: vec![],
            output_names: vec![],
        };
        for (i, (inputs, shape, op)) in nodes.into_iter().enumerate() {
            g.nodes.push(crate::graph::Node {
                name: format!("n{i}"),
                inputs,
                shape,
                op,
            });
        }
        g.outputs = vec![g.n_tensors() - 1];
        let x: Vec<Vec<f64>> = inputs
            .iter()
            .map(|&n| x6.iter().cycle().take(n).copied().collect())
            .collect();
        let before = super::eval_float(&g, &x);
        let mut fused = g.clone();
        super::linear::fuse_linear(&mut fused);
        assert_eq!(
            fused.nodes.len(),
            if folds { 1 } else { 2 },
            "{what}: {:?}",
            fused.nodes.iter().map(|n| &n.inputs).collect::<Vec<_>>()
        );
        let (a, b) = (
            before.last().expect("out"),
            super::eval_float(&fused, &x).last().expect("out").clone(),
        );
        assert!(
            a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-12),
            "{what}: {a:?} against {b:?}"
        );
    }
}

/// The Freivalds chip configured beside a hashed input and output in shared columns (two
/// phases, the Poseidon chip in borrowed columns): honest proofs verify with the real prover.
#[test]
fn freivalds_beside_a_hashed_input_and_output_in_shared_columns_proves() {
    use crate::plan::Privacy;
    let privacy = Privacy {
        hashed_output: true,
        hashed_input: true,
        input: true,
        ..Privacy::default()
    };
    let (q, mut p, trace) = small_private_model(false, true, privacy);
    assert!(p.shape.shared_hash_columns);
    p.shape.freivalds = 4;
    let bits = q.activation_bits();
    let honest = CircuitWitness::new(&q, p.shape, &trace)
        .expect("witness")
        .with_input_salt(halo2_proofs::halo2curves::bn256::Fr::from(77), bits)
        .with_output_salt(halo2_proofs::halo2curves::bn256::Fr::from(5), bits);
    let instance = honest.instance_fields();
    mock(&q, &p, honest.clone(), instance.clone()).expect("honest mock");
    real_prove_verify(&q, &p, honest, instance).expect("honest real");
}

/// Under-constraint search on the whole model circuit of `cw`: every advice cell changed alone.
fn search_model(
    q: &Arc<QuantModel>,
    p: &crate::plan::Plan,
    cw: &CircuitWitness,
    what: &str,
) -> zkinfer_circuits::search::Report {
    let c = ModelCircuit::prove(q.clone(), p.shape, cw.clone());
    zkinfer_circuits::search::Search::new(p.k, vec![cw.instance_fields()])
        .neighbourhood(2)
        .jumps(vec![1, 8, 16, 64])
        .full_range_bits(1)
        .run(&c, |_, _| true)
        .printed(what)
}

/// The op graphs of the model circuit, each with an input.
fn search_graphs() -> Vec<(&'static str, FloatGraph, Vec<f64>)> {
    let relu_gather = chain(
        &[1, 3],
        vec![
            (vec![], vec![1, 3], FloatOp::Relu(Relu { len: 3 })),
            (
                vec![],
                vec![1, 3],
                FloatOp::Gather(Gather {
                    src: vec![Src::Elem(Ref(0, 2)), Src::Const(0.5), Src::Elem(Ref(0, 0))],
                }),
            ),
        ],
    );
    let residual = residual_graph();
    let products = chain(
        &[1, 4],
        vec![(
            vec![0, 0],
            vec![1, 2],
            FloatOp::Mul(super::mul::Mul {
                pairs: vec![(Ref(0, 0), Ref(1, 1)), (Ref(0, 2), Ref(1, 3))],
            }),
        )],
    );
    let argmax = chain(
        &[1, 4],
        vec![(
            vec![],
            vec![1],
            FloatOp::ArgMax(super::argmax::ArgMax { n: 4 }),
        )],
    );
    vec![
        (
            "mlp: dense, fused ReLU, dense",
            super::testutil::mlp(),
            vec![0.5, -1.0, 0.25],
        ),
        ("max", max_graph(false), vec![0.5, 0.25, -0.75, 1.0]),
        ("min", max_graph(true), vec![0.5, 0.25, -0.75, 1.0]),
        ("argmax with a tie", argmax, vec![0.5, 1.0, 1.0, -0.5]),
        ("mul", products, vec![0.5, -1.5, 2.0, 0.25]),
        (
            "relu, gather with constants",
            relu_gather,
            vec![-1.0, 0.0, 2.0],
        ),
        ("two-input linear", residual, vec![0.5, -0.25]),
        ("func tanh", func_graph("tanh", 3), vec![0.5, -1.0, 0.25]),
        ("func gelu", func_graph("gelu", 3), vec![0.5, -1.0, 2.5]),
        ("func sqrt", func_graph("sqrt", 2), vec![0.5, 3.0]),
    ]
}

/// Every op of the model circuit: each advice cell of a small instance, changed alone over a
/// neighbourhood, powers of two and random values, is caught by MockProver (the chips' own
/// tests cover limbs and signs over their whole range). Fixed and private weights, public and
/// private inputs, dense and Freivalds layouts.
#[test]
fn under_constraint_search_of_every_op_finds_no_free_cell() {
    use crate::plan::Privacy;
    let mut cases: Vec<(String, Arc<QuantModel>, crate::plan::Plan, CircuitWitness)> = vec![];
    for (name, g, input) in search_graphs() {
        let s = setup(&g, &input);
        let p = plan(&s.q).expect("plan");
        // small circuits put the product and function chips in the rescale chip's columns
        // (larger ones keep them in their own) and have a tall rescale chip (its limbs in one
        // column): the other layouts too
        let argmax =
            s.q.graph
                .nodes
                .iter()
                .any(|n| matches!(n.op, super::QuantOp::ArgMax(_)));
        let variants = [
            (
                p.shape.func_in_rescale
                    || p.shape.product_in_rescale
                    || p.shape.product_beside_rescale,
                "own columns",
                CircuitShape {
                    func_in_rescale: false,
                    product_in_rescale: false,
                    product_beside_rescale: false,
                    ..p.shape
                },
            ),
            (
                p.shape.products && !p.shape.product_beside_rescale && !argmax,
                "products beside the rescale rows",
                CircuitShape {
                    product_in_rescale: false,
                    product_beside_rescale: true,
                    ..p.shape
                },
            ),
            (
                p.shape.tall_rescale,
                "one row per rescale",
                CircuitShape {
                    tall_rescale: false,
                    weight_offset: false,
                    freivalds_advice_weights: false,
                    freivalds_split: false,
                    ..p.shape
                },
            ),
        ];
        for (_, what, shape) in variants.into_iter().filter(|v| v.0) {
            let p = crate::plan::plan_of(&s.q, &shape).expect("plan");
            cases.push((format!("{name} ({what})"), s.q.clone(), p, s.cw.clone()));
        }
        cases.push((name.into(), s.q.clone(), p, s.cw.clone()));
    }
    let (q, p, cw) = freivalds_model();
    cases.push(("freivalds layer".into(), q, p, cw));
    let (q, p, cw, _) = two_freivalds_layers(2);
    cases.push(("two freivalds banks".into(), q, p, cw));
    let (q, p, cw, _) = two_freivalds_layers_at(1, 2, 4);
    cases.push(("freivalds, four outputs a weight cell".into(), q, p, cw));
    let (q, p, cw, _) = conv_freivalds(true);
    cases.push((
        "freivalds, a convolution's positions merged".into(),
        q,
        p,
        cw,
    ));
    for private in [false, true] {
        let (q, p, cw) = split_freivalds_model(18, 4, private);
        let what = if private {
            "freivalds, a layer split between banks, private advice-only weights"
        } else {
            "freivalds, a layer split between banks"
        };
        cases.push((what.into(), q, p, cw));
    }
    let privacy = Privacy {
        weights: true,
        input: true,
        hashed_input: false,
        hashed_output: false,
    };
    let (q, p, trace) = small_private_model(true, false, privacy);
    let cw = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
    cases.push(("private weights and input".into(), q, p, cw));
    let mut total = 0;
    let n_cases = cases.len();
    for (name, q, p, cw) in cases {
        let r = search_model(&q, &p, &cw, &name);
        assert!(r.survivors.is_empty(), "{name}:\n{}", r.describe());
        assert!(r.searched >= 10, "{name}: {} copy groups", r.searched);
        total += r.attempts;
    }
    println!(
        "{total} changed assignments over {} op circuits, none accepted",
        n_cases
    );
}

/// Hashed input and output: every cell is caught but the Poseidon squares no constraint reads
/// (zkinfer_circuits::poseidon's doc: `sq1`, `sq2` on the 57 partial-round rows, `sq2` on the
/// message row, all three on the last row: 118 per one-block sponge), which the circuits
/// crate's search locates exactly.
#[test]
fn under_constraint_search_of_the_hash_modes_finds_only_unread_squares() {
    use crate::plan::Privacy;
    use halo2_proofs::halo2curves::{bn256::Fr, ff::Field};
    for (name, privacy, relu, bound) in [
        (
            "hashed input",
            Privacy {
                input: true,
                hashed_input: true,
                ..Privacy::default()
            },
            true,
            false,
        ),
        (
            "hashed output",
            Privacy {
                hashed_output: true,
                ..Privacy::default()
            },
            false,
            true,
        ),
    ] {
        let (q, p, trace) = small_private_model(relu, bound, privacy);
        let bits = q.activation_bits();
        let mut cw = CircuitWitness::new(&q, p.shape, &trace).expect("witness");
        if privacy.hashed_input {
            cw = cw.with_input_salt(Fr::from(77), bits);
        } else {
            cw = cw.with_output_salt(Fr::from(5), bits);
        }
        let r = search_model(&q, &p, &cw, name);
        let cells: std::collections::BTreeSet<(usize, usize)> =
            r.survivors.iter().map(|s| (s.column, s.row)).collect();
        let columns: std::collections::BTreeSet<usize> = cells.iter().map(|c| c.0).collect();
        assert_eq!(cells.len(), 2 * 57 + 1 + 3, "{name}:\n{}", r.describe());
        assert_eq!(columns.len(), 3, "{name}: the three square columns");
        assert!(r.survivors.iter().all(|s| s.honest == Fr::ZERO), "{name}");
    }
}

/// The plan puts the function chip in the rescale chip's columns where that keeps `k`, and
/// keeps it in its own where the rows would not fit: 300 tanh elements take 600 rescale rows
/// (input, rescales) and 300 function rows, 900 in all within k = 10; 800 take 1,600 and 800,
/// over k = 11's 2,048 together. No linear layer: no dense chip. `plan_of` honours either
/// choice from settings.json and refuses a dense-chip-less circuit whose nodes need one.
#[test]
fn chips_share_the_rescale_columns_only_where_k_stays() {
    let input = |n: usize| {
        (0..n)
            .map(|i| (i as f64 / n as f64) * 4.0 - 2.0)
            .collect::<Vec<_>>()
    };
    let small = setup(&func_graph("tanh", 300), &input(300));
    let p = plan(&small.q).expect("plan");
    assert!(p.shape.func_in_rescale && !p.shape.dense, "{:?}", p.shape);
    assert_eq!(p.k, 10);
    assert_eq!(p.rescale_rows, 900);
    let own = CircuitShape {
        func_in_rescale: false,
        ..p.shape
    };
    let q = crate::plan::plan_of(&small.q, &own).expect("own columns");
    assert_eq!((q.k, q.rescale_rows, q.product_rows), (10, 600, 300));
    assert_eq!(q.advice_columns, p.advice_columns + 7);
    assert_eq!(q.lookups, p.lookups + 1);
    small.run().expect("shared layout proves");
    let large = setup(&func_graph("tanh", 800), &input(800));
    let p = plan(&large.q).expect("plan");
    assert!(!p.shape.func_in_rescale);
    assert_eq!((p.k, p.rescale_rows), (11, 1600));
    // with it in the rescale columns: k = 12
    let shared = CircuitShape {
        func_in_rescale: true,
        ..p.shape
    };
    assert_eq!(crate::plan::plan_of(&large.q, &shared).expect("plan").k, 12);
    // a dense chip left out where a node needs one
    let s = setup(&super::testutil::mlp(), &[0.5, -1.0, 0.25]);
    let p = plan(&s.q).expect("plan");
    assert!(p.shape.dense && p.dense_rows > 0);
    let no_dense = CircuitShape {
        dense: false,
        ..p.shape
    };
    let err = crate::plan::plan_of(&s.q, &no_dense).expect_err("needs the dense chip");
    assert!(err.to_string().contains("no dense chip"), "{err}");
}
