use super::*;
use crate::graph::Ref;
use crate::ops::gather::{Gather, Src};
use crate::ops::linear::QuantLinear;
use crate::ops::max::Max;
use crate::ops::relu::Relu;
use crate::ops::testutil::{chain, dense, mlp};

fn samples(v: &[&[f64]]) -> Vec<Vec<Vec<f64>>> {
    v.iter().map(|s| vec![s.to_vec()]).collect()
}

fn linear(q: &QuantModel, i: usize) -> &QuantLinear {
    match &q.graph.nodes[i].op {
        QuantOp::Linear(l) => l,
        other => panic!("node {i} is {other:?}"),
    }
}

#[test]
fn calibrated_ranges_fit_the_table_with_the_most_precise_weights() {
    let s = samples(&[&[1.0, 0.5, -1.0], &[0.0, 2.0, 1.0]]);
    let q = quantize(&mlp(), Some(&s), &QuantOptions::default()).expect("quantize");
    assert_eq!(q.table_bits, DEFAULT_TABLE_BITS);
    for i in 0..2 {
        let l = linear(&q, i);
        assert!(l.shift <= 2 * q.table_bits, "shift fits two limbs");
        let s_in = q.scale(q.graph.nodes[i].inputs[0]);
        assert_eq!(l.acc_scale - s_in, MAX_WEIGHT_SCALE, "most precise weights");
    }
    assert!(linear(&q, 0).bounded && linear(&q, 0).relu);
    // the final Linear is the public output: bounded by the verifier, finer scale
    assert!(!linear(&q, 1).bounded);
    assert_eq!(q.output_bits, OUTPUT_BITS);
    assert_eq!(q.scale(2), OUTPUT_SCALE);
    for x in &s {
        let input = crate::witness::quantize_input(&q, &x[0]).expect("input in range");
        crate::witness::run(&q, input).expect("activations in range");
    }
}

#[test]
fn explicit_scale_sizes_the_table_from_data() {
    let s = samples(&[&[1.0, 0.5, -1.0]]);
    let opts = QuantOptions {
        scale: Some(4),
        lookup_bits: None,
        bound_outputs: false,
    };
    let q = quantize(&mlp(), Some(&s), &opts).expect("quantize");
    assert!(q.scales.iter().all(|&s| s == 4));
    assert!(q.table_bits < DEFAULT_TABLE_BITS);
}

#[test]
fn bad_options_and_data_are_errors() {
    let opts = QuantOptions {
        scale: None,
        lookup_bits: Some(40),
        bound_outputs: false,
    };
    assert!(matches!(
        quantize(&mlp(), None, &opts),
        Err(QuantizeError::BadOption(_))
    ));
    let nan = samples(&[&[f64::NAN, 0.0, 0.0]]);
    assert!(matches!(
        quantize(&mlp(), Some(&nan), &QuantOptions::default()),
        Err(QuantizeError::NonFinite { .. })
    ));
    let huge = samples(&[&[1e9, 0.0, 0.0]]);
    assert!(matches!(
        quantize(&mlp(), Some(&huge), &QuantOptions::default()),
        Err(QuantizeError::TooLarge { .. })
    ));
    // a reference past an input's end is a graph error, not a panic
    let mut g = mlp();
    if let crate::ops::FloatOp::Linear(l) = &mut g.nodes[0].op {
        l.rows[0].terms[0].0 = Ref(0, 99);
    }
    assert!(matches!(
        quantize(&g, None, &QuantOptions::default()),
        Err(QuantizeError::Graph(_))
    ));
}

#[test]
fn a_shift_beyond_two_limbs_is_an_error_not_a_bad_circuit() {
    // tiny input (scale 14), huge hidden activations (scale 0): d = 14 > 2·6
    let g = chain(
        &[1, 1],
        vec![
            (vec![], vec![1, 1], dense(&[vec![100_000.0]], &[0.0], true)),
            (vec![], vec![1, 1], dense(&[vec![1.0]], &[0.0], false)),
        ],
    );
    let opts = QuantOptions {
        scale: None,
        lookup_bits: Some(6),
        bound_outputs: false,
    };
    let s = samples(&[&[0.01]]);
    let err = quantize(&g, Some(&s), &opts).expect_err("shift too large");
    assert!(err.to_string().contains("`n0`"), "{err}");
    let q = quantize(&g, Some(&s), &QuantOptions::default()).expect("quantize");
    assert!(q.max_shift() <= 2 * q.table_bits);
}

#[test]
fn weight_scale_backs_off_before_the_accumulator_could_overflow() {
    // |w| = 2^20 against 22-bit activations: at weight scale 16 the worst case is
    // 2^36·2^21 ≈ 2^57 per input, so 64 inputs need a lower scale to stay below 2^61.
    let g = chain(
        &[1, 64],
        vec![(
            vec![],
            vec![1, 1],
            dense(&[vec![1_048_576.0; 64]], &[0.0], false),
        )],
    );
    let q = quantize(&g, None, &QuantOptions::default()).expect("quantize");
    let l = linear(&q, 0);
    assert!(l.acc_scale - q.scale(0) < MAX_WEIGHT_SCALE);
    let worst: i128 = l.groups[0].w[0]
        .iter()
        .map(|&w| i128::from(w).abs() << (q.activation_bits() - 1))
        .sum();
    assert!(worst < 1i128 << (ACCUMULATOR_BITS - 1));
    let x = vec![(1i64 << (q.activation_bits() - 1)) - 1; 64];
    let run = crate::witness::run(&q, x);
    assert!(
        !matches!(run, Err(crate::witness::WitnessError::Overflow { .. })),
        "{run:?}"
    );
    let g2 = chain(
        &[1, 64],
        vec![(vec![], vec![1, 1], dense(&[vec![1e30; 64]], &[0.0], false))],
    );
    let err = quantize(&g2, None, &QuantOptions::default()).expect_err("too large");
    assert!(
        matches!(err, QuantizeError::WeightsTooLarge { ref node, .. } if node == "n0"),
        "{err}"
    );
}

/// One dense layer, 4 inputs to 2 outputs, quantized and well formed: the model the
/// edited-build tests edit.
fn two_output_dense() -> crate::quantize::QuantModel {
    let g = chain(
        &[1, 4],
        vec![(
            vec![],
            vec![1, 2],
            dense(&[vec![0.5; 4], vec![-0.25; 4]], &[0.1, 0.2], true),
        )],
    );
    let q = quantize(&g, None, &QuantOptions::default()).expect("quantize");
    q.check().expect("as quantized");
    q
}

/// The accumulator bound quantization keeps is checked again when a build is read: a
/// model.json edited past it (which the Freivalds chip's packing and the rescale quotient
/// rely on) is refused, one at the edge is not.
#[test]
fn an_edited_model_past_the_accumulator_bound_is_refused_on_reading() {
    let q = two_output_dense();
    let x_max = 1i128 << (q.activation_bits() - 1);
    let limit = 1i128 << (ACCUMULATOR_BITS - 1);
    // four inputs at the largest weight that keeps the worst case under the limit, then one
    // more
    let edge = ((limit - 1) / (4 * x_max)) as i64;
    for (w, ok) in [(edge, true), (edge + 1, false)] {
        let mut e = q.clone();
        if let QuantOp::Linear(l) = &mut e.graph.nodes[0].op {
            l.groups[0].w[0] = vec![w; 4];
            l.groups[0].bias[0] = 0;
        }
        assert_eq!(e.check().is_ok(), ok, "weight {w}: {:?}", e.check());
    }
    // a weight row, a bias or an output dropped or added: refused (merged Freivalds checks
    // would pad a short row with zeros instead of failing)
    type Edit = fn(&mut crate::ops::linear::Group);
    let edits: [(&str, Edit); 4] = [
        ("short weight row", |g| {
            g.w[0].pop();
        }),
        ("long weight row", |g| g.w[1].push(1)),
        ("missing bias", |g| {
            g.bias.pop();
        }),
        ("extra output", |g| g.out.push(0)),
    ];
    for (what, edit) in edits {
        let mut e = q.clone();
        if let QuantOp::Linear(l) = &mut e.graph.nodes[0].op {
            edit(&mut l.groups[0]);
        }
        let err = e.check().expect_err(what);
        assert!(err.contains("differ in length"), "{what}: {err}");
    }
}

#[test]
fn copies_and_comparisons_share_their_inputs_scale() {
    // input (range 1) and a Linear ×100 (range 100), concatenated, then max over pairs:
    // one scale class, sized for the larger range with the max's factor 2
    let g = chain(
        &[1, 2],
        vec![
            (
                vec![0],
                vec![1, 2],
                dense(&[vec![100.0, 0.0], vec![0.0, 100.0]], &[0.0, 0.0], false),
            ),
            (
                vec![0, 1],
                vec![1, 4],
                crate::ops::FloatOp::Gather(Gather {
                    src: vec![
                        Src::Elem(Ref(0, 0)),
                        Src::Elem(Ref(0, 1)),
                        Src::Elem(Ref(1, 0)),
                        Src::Elem(Ref(1, 1)),
                    ],
                }),
            ),
            (
                vec![2],
                vec![1, 2],
                crate::ops::FloatOp::Max(Max {
                    windows: vec![vec![Ref(0, 0), Ref(0, 2)], vec![Ref(0, 1), Ref(0, 3)]],
                    min: false,
                }),
            ),
            (
                vec![3],
                vec![1, 2],
                crate::ops::FloatOp::Relu(Relu { len: 2 }),
            ),
        ],
    );
    let s = samples(&[&[1.0, -1.0], &[0.5, 0.25]]);
    let q = quantize(&g, Some(&s), &QuantOptions::default()).expect("quantize");
    let s0 = q.scale(0);
    assert!(q.scales.iter().all(|&s| s == s0), "{:?}", q.scales);
    // 100 × 1.5 headroom × 2 (max) must fit 22 bits: 2^21 / 300 ≈ 6990 → scale 12
    assert_eq!(s0, 12);
    let t = crate::witness::run(
        &q,
        crate::witness::quantize_input(&q, &[1.0, -1.0]).expect("in"),
    )
    .expect("run");
    assert_eq!(t.output(), vec![100 << 12, 0]);
}

#[test]
fn outputs_get_the_widest_bound_any_of_them_needs() {
    // one free output (a plain Linear) and one bounded output (a ReLU) with 18-bit tables:
    // the verifier's output bound must admit the bounded one's 36 bits
    let g = chain(
        &[1, 2],
        vec![
            (
                vec![0],
                vec![1, 2],
                dense(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[0.0, 0.0], false),
            ),
            (
                vec![0],
                vec![1, 2],
                crate::ops::FloatOp::Relu(Relu { len: 2 }),
            ),
        ],
    );
    let mut g = g;
    g.outputs = vec![1, 2];
    let opts = QuantOptions {
        scale: None,
        lookup_bits: Some(18),
        bound_outputs: false,
    };
    let q = quantize(&g, Some(&samples(&[&[1000.0, -3.0]])), &opts).expect("quantize");
    assert!(!linear(&q, 0).bounded);
    assert_eq!(q.output_bits, 36);
    let t = crate::witness::run(
        &q,
        crate::witness::quantize_input(&q, &[1000.0, -3.0]).expect("in"),
    )
    .expect("run");
    assert!(t
        .output()
        .iter()
        .all(|&v| zkinfer_circuits::fixed::fits_signed(v, q.output_bits)));
}

/// A concatenation's constant edited in model.json past the activation range is refused on
/// reading: the layers after it bound their accumulators assuming it in range (and a private
/// weight cell's offset assumes it below 2^61).
#[test]
fn an_edited_gather_constant_past_the_activation_range_is_refused_on_reading() {
    let g = chain(
        &[1, 2],
        vec![(
            vec![0],
            vec![1, 3],
            crate::ops::FloatOp::Gather(Gather {
                src: vec![Src::Elem(Ref(0, 0)), Src::Const(0.5), Src::Elem(Ref(0, 1))],
            }),
        )],
    );
    let q = quantize(&g, None, &QuantOptions::default()).expect("quantize");
    q.check().expect("as quantized");
    let top = (1i64 << (q.activation_bits() - 1)) - 1;
    for (c, ok) in [
        (top, true),
        (-top - 1, true),
        (top + 1, false),
        (i64::MIN, false),
    ] {
        let mut e = q.clone();
        let crate::ops::QuantOp::Gather(gq) = &mut e.graph.nodes[0].op else {
            panic!("a gather")
        };
        gq.src[1] = Src::Const(c);
        assert_eq!(e.check().is_ok(), ok, "constant {c}: {:?}", e.check());
    }
}

/// A linear node's output indices edited in model.json so that one is computed twice, one
/// not at all, or one out of range: refused on reading (a row computed twice would leave an
/// unrescaled accumulator, free, in a packed Freivalds check).
#[test]
fn an_edited_model_computing_an_output_twice_or_not_at_all_is_refused_on_reading() {
    let q = two_output_dense();
    let outs = |q: &crate::quantize::QuantModel| -> Vec<u32> {
        let QuantOp::Linear(l) = &q.graph.nodes[0].op else {
            panic!("linear")
        };
        l.groups.iter().flat_map(|g| g.out.clone()).collect()
    };
    assert_eq!(outs(&q), vec![0, 1]);
    for (edit, what) in [
        (vec![0, 0], "twice"),
        (vec![1, 1], "twice"),
        (vec![0, 2], "out of range"),
    ] {
        let mut e = q.clone();
        let QuantOp::Linear(l) = &mut e.graph.nodes[0].op else {
            panic!("linear")
        };
        let mut it = edit.iter();
        for g in &mut l.groups {
            for o in &mut g.out {
                *o = *it.next().expect("two outputs");
            }
        }
        let err = e.check().expect_err(what);
        assert!(err.contains("output"), "{err}");
    }
}
