use super::*;
use crate::ops::testutil::{chain, dense};
use crate::ops::QuantOp;
use crate::quantize::{quantize, QuantOptions};

/// One dense layer `n_in → n_out` at `--scale 4` with `bits`-bit tables.
fn model(n_in: usize, n_out: usize, bits: u32) -> QuantModel {
    let g = chain(
        &[1, n_in],
        vec![(
            vec![],
            vec![1, n_out],
            dense(&vec![vec![0.5; n_in]; n_out], &vec![0.0; n_out], false),
        )],
    );
    let opts = QuantOptions {
        scale: Some(4),
        lookup_bits: Some(bits),
        bound_outputs: false,
    };
    quantize(&g, None, &opts).expect("quantize")
}

fn set_shift(m: &mut QuantModel, shift: u32) {
    if let QuantOp::Linear(l) = &mut m.graph.nodes[0].op {
        l.shift = shift;
    }
}

#[test]
fn k_covers_rows_and_tables_and_is_minimal() {
    for (n_in, n_out, bits) in [(4, 2, 6), (64, 10, 8), (512, 512, 10), (64, 16, 12)] {
        let q = model(n_in, n_out, bits);
        let p = plan(&q).expect("plan");
        // the layer's outputs per weight cell (its bounds may allow fewer than the shape's)
        let pack = q.graph.nodes[0]
            .op
            .imp()
            .freivalds_pack(&q.node_ctx_in(0, &p.shape));
        let need = p
            .dense_rows
            .max(p.freivalds_rows)
            .max(p.rescale_rows)
            .max(p.table_rows)
            + p.reserved_rows;
        assert!(
            need <= 1 << p.k,
            "{n_in}x{n_out}: {need} rows do not fit k = {}",
            p.k
        );
        assert!(
            need > 1 << (p.k - 1) || p.k == 4,
            "{n_in}x{n_out}: k = {} is larger than needed",
            p.k
        );
        if p.shape.freivalds > 0 {
            assert_eq!(p.dense_rows, 0);
            assert_eq!(
                p.freivalds_rows,
                zkinfer_circuits::freivalds::FreivaldsConfig::rows(
                    n_in,
                    n_out,
                    p.shape.freivalds * pack
                )
            );
        } else {
            assert_eq!(
                p.dense_rows,
                zkinfer_circuits::matmul::MatMulConfig::rows(n_in, n_out, p.shape.lanes)
            );
        }
        let per = zkinfer_circuits::rescale::RescaleConfig::rows_per_element_of(
            p.shape.tall_rescale,
            p.shape.remainder_limbs,
        );
        assert_eq!(
            p.rescale_rows,
            n_in + per * n_out,
            "input rows + one (tall: two or three) per output"
        );
    }
}

#[test]
fn a_table_forces_k_at_least_bits_plus_one() {
    let p = plan(&model(4, 2, 12)).expect("plan");
    assert_eq!(p.k, 13);
    assert_eq!(p.shape.lanes, 1, "a tiny layer needs no extra lanes");
}

#[test]
fn remainder_limbs_follow_the_largest_shift() {
    let mut m = model(4, 2, 6);
    set_shift(&mut m, 6);
    assert_eq!(plan(&m).expect("plan").shape.remainder_limbs, 1);
    set_shift(&mut m, 10); // d = 10 > R = 6
    assert_eq!(plan(&m).expect("plan").shape.remainder_limbs, 2);
    set_shift(&mut m, 13); // d > 2R
    assert!(matches!(
        plan(&m),
        Err(PlanError::ShiftTooLarge { shift: 13, .. })
    ));
}

#[test]
fn wide_layers_get_more_lanes_or_freivalds_rather_than_much_larger_k() {
    // private weights too
    let private = Privacy {
        weights: true,
        ..Privacy::default()
    };
    let p = plan_for(&model(512, 512, 10), private).expect("plan");
    assert!(p.shape.freivalds > 0 || p.shape.lanes > 1, "{:?}", p.shape);
    assert!(p.k <= 16, "k = {}", p.k);
}

#[test]
fn wide_public_layers_are_checked_freivalds_style_small_ones_need_not_be() {
    // 512×512 (262 k MACs): a random combination of the outputs in two advice columns
    let p = plan(&model(512, 512, 10)).expect("plan");
    assert!(p.shape.freivalds >= 32, "K = {}", p.shape.freivalds);
    assert_eq!(p.dense_rows, 0);
    assert!(p.k <= 13, "k = {}", p.k);
    assert_eq!(p.shape.lanes, 1);
    // a 4 → 2 layer fits the smallest circuit whichever way: no extra columns for it
    let p = plan(&model(4, 2, 6)).expect("plan");
    assert_eq!(p.shape.freivalds, 0);
}

#[test]
fn private_weights_in_the_freivalds_chip_are_advice_columns() {
    // fixed columns would put them in the verifying key: with private weights the chip's
    // weights are first-phase advice (bound by the weight commitment)
    let shape = crate::circuit::CircuitShape {
        private_weights: true,
        freivalds: 8,
        ..Default::default()
    };
    let mut cs = ConstraintSystem::<Fr>::default();
    let config = configure(&mut cs, shape);
    assert_eq!(cs.num_challenges(), 1);
    assert_eq!(config.weight_columns().len(), shape.lanes + 8);
}

#[test]
fn private_freivalds_weights_keep_no_fixed_columns_and_older_builds_keep_theirs() {
    let private = Privacy {
        weights: true,
        ..Privacy::default()
    };
    let m = model(512, 512, 10);
    let p = plan_for(&m, private).expect("plan");
    assert!(p.shape.freivalds > 0 && p.shape.freivalds_advice_weights);
    // a build from before (the chip's fixed `−1`/offset cells and row-kind column) is
    // derived with its own layout: K + 1 fixed columns more a bank, one advice column less
    let old_shape = CircuitShape {
        freivalds_advice_weights: false,
        ..p.shape
    };
    let old = plan_of(&m, &old_shape).expect("an older private build's plan");
    assert_eq!(old.shape, old_shape);
    let banks = p.shape.freivalds_banks;
    assert_eq!(
        old.fixed_columns,
        p.fixed_columns + banks * (p.shape.freivalds + 1) - banks * 2,
        "{old:?} vs {p:?}"
    );
    assert_eq!(old.advice_columns + banks, p.advice_columns);
    // advice-only weights need private weights and the Freivalds chip
    let fixed = plan(&m).expect("plan");
    let forged = CircuitShape {
        freivalds_advice_weights: true,
        ..fixed.shape
    };
    assert!(matches!(plan_of(&m, &forged), Err(PlanError::NotAPlan(_))));
}

#[test]
fn banks_split_a_layer_too_large_for_one_and_older_builds_stay_whole() {
    // mlp_wide's shape: 64 → 256 → 256 → 10, private weights; the 256 × 256 layer alone
    // takes more rows than k = 11 has at width 32, split between two banks it fits
    let g = chain(
        &[1, 64],
        vec![
            (
                vec![],
                vec![1, 256],
                dense(&vec![vec![0.5; 64]; 256], &vec![0.0; 256], true),
            ),
            (
                vec![],
                vec![1, 256],
                dense(&vec![vec![0.5; 256]; 256], &vec![0.0; 256], true),
            ),
            (
                vec![],
                vec![1, 10],
                dense(&vec![vec![0.5; 256]; 10], &[0.0; 10], false),
            ),
        ],
    );
    let opts = QuantOptions {
        scale: Some(4),
        lookup_bits: Some(9),
        bound_outputs: false,
    };
    let m = quantize(&g, None, &opts).expect("quantize");
    let private = Privacy {
        weights: true,
        ..Privacy::default()
    };
    let p = plan_for(&m, private).expect("plan");
    assert!(
        p.shape.freivalds_split && p.shape.freivalds_banks >= 2,
        "{:?}",
        p.shape
    );
    // the split layer's checks are whole blocks, spread over the banks: no bank holds more
    // than half the rows (plus a block) of the whole checks
    let whole = CircuitShape {
        freivalds_split: false,
        freivalds_balance: false,
        ..p.shape
    };
    let unsplit = plan_of(&m, &whole).expect("the same shape unsplit");
    assert!(!unsplit.shape.freivalds_split);
    assert!(
        p.freivalds_rows < unsplit.freivalds_rows,
        "{p:?} vs {unsplit:?}"
    );
    assert!(p.k <= unsplit.k);
    // a split needs banks
    let forged = CircuitShape {
        freivalds_split: true,
        freivalds_banks: 1,
        ..p.shape
    };
    assert!(matches!(plan_of(&m, &forged), Err(PlanError::NotAPlan(_))));
    // and a balance needs the split
    let forged = CircuitShape {
        freivalds_split: false,
        freivalds_balance: true,
        ..p.shape
    };
    assert!(matches!(plan_of(&m, &forged), Err(PlanError::NotAPlan(_))));
    // a split check lays out and satisfies the circuit: covered end to end by tests/models
    // (mlp_wide with private weights) and by the chip's own tests
}

#[test]
fn private_weights_take_the_cheapest_plan_to_prove_whatever_its_proof_size() {
    // no contract verifies private weights: a smaller proof is not worth a slower prove
    for privacy in [
        Privacy {
            weights: true,
            ..Privacy::default()
        },
        Privacy {
            weights: true,
            input: true,
            hashed_input: true,
            hashed_output: true,
        },
    ] {
        for m in [model(64, 10, 8), model(512, 512, 10)] {
            let (_, cost) = plan_and_cost(&m, privacy).expect("plan");
            let (_, cheapest) = plan_and_cost_within(&m, privacy, Some(u64::MAX)).expect("plan");
            assert_eq!(cost, cheapest, "{privacy:?}");
        }
    }
}

#[test]
fn the_plan_of_a_chosen_shape_is_the_chosen_plan() {
    // setup and prove re-derive the plan from settings.json's choices: it must be the one
    // compile chose, for every privacy
    for m in [model(4, 2, 6), model(64, 10, 8), model(512, 512, 10)] {
        for privacy in [
            Privacy::default(),
            Privacy {
                weights: true,
                ..Privacy::default()
            },
            Privacy {
                input: true,
                hashed_input: true,
                hashed_output: true,
                ..Privacy::default()
            },
        ] {
            let p = plan_for(&m, privacy).expect("plan");
            assert_eq!(plan_of(&m, &p.shape).expect("plan of"), p);
        }
    }
}

#[test]
fn the_plan_of_a_shape_no_plan_makes_is_refused_before_configuring() {
    let m = model(64, 10, 8);
    let p = plan(&m).expect("plan");
    let bad = [
        CircuitShape {
            lanes: 0,
            ..p.shape
        },
        CircuitShape {
            lanes: 1_000_000,
            ..p.shape
        },
        CircuitShape {
            freivalds: 1_000_000_000,
            ..p.shape
        },
        CircuitShape {
            shared_hash_columns: true,
            ..p.shape
        },
        CircuitShape {
            freivalds_banks: 5,
            ..p.shape
        },
        // balanced banks: only with split checks
        CircuitShape {
            freivalds_balance: true,
            ..p.shape
        },
        CircuitShape {
            freivalds: 0,
            freivalds_banks: 2,
            ..p.shape
        },
        // packed outputs: fixed weights only (a private weight is committed one a cell)
        CircuitShape {
            freivalds: 4,
            freivalds_pack: FREIVALDS_PACK,
            private_weights: true,
            ..p.shape
        },
        // products beside the rescale chip: only with products
        CircuitShape {
            product_beside_rescale: true,
            ..p.shape
        },
    ];
    for shape in bad {
        assert!(
            matches!(plan_of(&m, &shape), Err(PlanError::NotAPlan(_))),
            "{shape:?}"
        );
    }
}

/// The sharing decision sizes `k` with `MAX_RESERVED_ROWS` instead of configuring twice: it
/// must bound every shape's reserved rows (every chip, privacy mode and placement).
#[test]
fn reserved_rows_are_within_the_bound_the_plan_decides_with() {
    let mut most = 0;
    for bits in [
        0u8, 0b1_1111, 0b1_0101, 0b0_1010, 0b11_1111, 0b10_0001, 0b100_0010, 0b110_0111,
    ] {
        for (private_weights, input, hashed, shared_hash) in [
            (false, false, false, false),
            (true, true, false, false),
            (false, true, true, false),
            (false, true, true, true),
        ] {
            for freivalds in [0, 4, 256] {
                let shape = CircuitShape {
                    lanes: 2,
                    remainder_limbs: 1 + u32::from(bits & 1),
                    products: bits & 2 != 0,
                    funcs: bits & 4 != 0,
                    func_in_rescale: bits & 8 != 0 && bits & 4 != 0,
                    product_in_rescale: bits & 16 != 0 && bits & 2 != 0,
                    tall_rescale: bits & 32 != 0,
                    product_beside_rescale: bits & 64 != 0 && bits & 2 != 0 && bits & 16 == 0,
                    private_weights,
                    private_input: input,
                    hashed_input: hashed,
                    hashed_output: hashed,
                    shared_hash_columns: shared_hash,
                    freivalds,
                    ..CircuitShape::default()
                };
                let mut cs = ConstraintSystem::<Fr>::default();
                configure(&mut cs, shape);
                most = most.max(cs.minimum_rows());
            }
        }
    }
    assert!(most <= MAX_RESERVED_ROWS, "{most} reserved rows");
}

/// The rescale chip is tall (its limbs in one column and one lookup) where its rows, doubled,
/// keep `k`, and one row an element where they would raise it; the tall circuit commits fewer
/// polynomials at the same `k`.
#[test]
fn the_rescale_chip_is_tall_only_where_k_stays() {
    // 64 → 10: a few dozen rescale rows under the table's 2^8
    let m = model(64, 10, 8);
    let p = plan(&m).expect("plan");
    assert!(p.shape.tall_rescale, "{:?}", p.shape);
    let wide = CircuitShape {
        tall_rescale: false,
        weight_offset: false,
        freivalds_advice_weights: false,
        freivalds_split: false,
        ..p.shape
    };
    let w = plan_of(&m, &wide).expect("plan of the one-row layout");
    assert_eq!(w.k, p.k);
    // one limb column and lookup fewer per limb (lo, and v with two)
    let limbs = p.shape.remainder_limbs as usize;
    assert_eq!(w.rescale_rows, 64 + 10);
    assert_eq!(p.rescale_rows, 64 + (1 + limbs) * 10);
    assert_eq!(w.advice_columns, p.advice_columns + limbs);
    assert_eq!(w.lookups, p.lookups + limbs);
    let committed = |s: CircuitShape| {
        let mut cs = ConstraintSystem::<Fr>::default();
        configure(&mut cs, s);
        committed_polys(&cs)
    };
    assert_eq!(committed(wide), committed(p.shape) + 4 * limbs);
    // 8 → 900: the rescale rows set k = 10; tall they would raise it
    let m = model(8, 900, 6);
    let p = plan(&m).expect("plan");
    assert_eq!(p.k, 10);
    assert!(!p.shape.tall_rescale, "{:?}", p.shape);
    let tall = CircuitShape {
        tall_rescale: true,
        ..p.shape
    };
    assert!(plan_of(&m, &tall).expect("plan of").k > p.k);
}

/// `n` element-wise products of an input of `n + 1` values (`x_i · x_(i+1)`) at `--scale 4`,
/// 8-bit tables.
fn products_model(n: usize) -> QuantModel {
    use crate::graph::Ref;
    let g = chain(
        &[1, n + 1],
        vec![(
            vec![0, 0],
            vec![1, n],
            crate::ops::FloatOp::Mul(crate::ops::mul::Mul {
                pairs: (0..n as u32).map(|i| (Ref(0, i), Ref(1, i + 1))).collect(),
            }),
        )],
    );
    let opts = QuantOptions {
        scale: Some(4),
        lookup_bits: Some(8),
        bound_outputs: false,
    };
    quantize(&g, None, &opts).expect("quantize")
}

#[test]
fn products_go_beside_their_rescale_rows_where_the_rescale_columns_are_full() {
    // 800 products: 1,601 rescale rows with the input (k = 11), 2,401 with the products in
    // the rescale columns (k = 12): beside them, at k = 11, with no rows of their own
    let m = products_model(800);
    let p = plan(&m).expect("plan");
    assert_eq!(p.k, 11);
    assert!(
        p.shape.product_beside_rescale && !p.shape.product_in_rescale,
        "{p:?}"
    );
    assert_eq!(p.product_rows, 0);
    assert_eq!(plan_of(&m, &p.shape).expect("plan of"), p);
    // beside and in the rescale columns at once is no plan
    let both = CircuitShape {
        product_in_rescale: true,
        ..p.shape
    };
    assert!(matches!(plan_of(&m, &both), Err(PlanError::NotAPlan(_))));
    // a build from before (the product chip in columns of its own) keeps its layout: one
    // advice column (and one permutation column) more, its rows
    let old_shape = CircuitShape {
        product_beside_rescale: false,
        ..p.shape
    };
    let old = plan_of(&m, &old_shape).expect("an older build's plan");
    assert_eq!(old.shape, old_shape);
    assert_eq!(old.advice_columns, p.advice_columns + 1);
    assert_eq!(old.product_rows, 800);
    assert_eq!(old.k, p.k);
    // few products still go in the rescale columns, where they keep k
    let small = plan(&products_model(8)).expect("plan");
    assert!(small.shape.product_in_rescale && !small.shape.product_beside_rescale);
    // and a proof budget shares everything in the rescale columns as before
    let budget = plan_and_cost_within(&m, Privacy::default(), Some(1 << 20))
        .expect("plan")
        .0;
    assert_eq!(budget, p);
}

/// A smaller proof is worth a fraction of the proving time, but at most
/// PROOF_SLACK_MAX_SECONDS of it: a quarter or a half more of a bundled model's second or two, not ten seconds
/// more of a 10 M-parameter model's (mlp_10m took k = 17 and 36 s for its 3.2 KB proof).
#[test]
fn the_proof_slack_is_capped_in_seconds() {
    let seconds = |cost: u64| cost as f64 * SECONDS_PER_COST;
    let cost_of = |s: f64| (s / SECONDS_PER_COST) as u64;
    // a bundled model's size: the fraction
    let small = cost_of(2.0);
    assert_eq!(with_slack(small, PROOF_SLACK_WIDE), small + small / 2);
    assert_eq!(with_slack(small, PROOF_SLACK), small + small / 4);
    // mlp_10m's size: one second, whichever fraction
    let large = cost_of(26.0);
    for divisor in [PROOF_SLACK, PROOF_SLACK_WIDE] {
        let extra = seconds(with_slack(large, divisor) - large);
        assert!((extra - PROOF_SLACK_MAX_SECONDS).abs() < 1e-3, "{extra}");
    }
    // never below the cheapest, and no overflow
    assert_eq!(with_slack(0, PROOF_SLACK), 0);
    assert_eq!(with_slack(u64::MAX, PROOF_SLACK), u64::MAX);
}

#[test]
fn balanced_banks_take_the_largest_checks_first() {
    // mlp_wide's checks at width 16 in one-block parts: 16 of 81 rows (64 inputs), 16 of 273
    // (256 inputs), one of 267 (10 outputs): in synthesis order, each to the emptiest bank,
    // the fullest of three takes 2,043 rows (past k = 11's 2,040); largest first, 2,013
    let rows: Vec<usize> = [vec![81; 16], vec![273; 16], vec![267]].concat();
    let load = |order: Vec<usize>| {
        let mut l = [0usize; 3];
        for (r, b) in rows.iter().zip(order) {
            l[b] += r;
        }
        l
    };
    let greedy = load(greedy_order(&rows, 3));
    let balanced = load(bank_order(&rows, 3));
    assert_eq!(greedy.iter().max(), Some(&2043));
    assert_eq!(balanced.iter().max(), Some(&2013));
    assert_eq!(balanced.iter().sum::<usize>(), rows.iter().sum::<usize>());
    // within one check of the average, for any rows
    for seed in 0..50u64 {
        let rows: Vec<usize> = (0..(seed as usize % 17 + 1))
            .map(|i| ((seed * 7919 + i as u64 * 104_729) % 500 + 1) as usize)
            .collect();
        for banks in 1..=4 {
            let order = bank_order(&rows, banks);
            let mut l = vec![0usize; banks];
            for (r, b) in rows.iter().zip(&order) {
                l[*b] += r;
            }
            let total: usize = rows.iter().sum();
            let biggest = rows.iter().copied().max().unwrap_or(0);
            assert!(l.iter().all(|&x| x <= total.div_ceil(banks) + biggest));
        }
    }
    // one bank: everything in it
    assert_eq!(bank_order(&[3, 1, 2], 1), vec![0, 0, 0]);
}
