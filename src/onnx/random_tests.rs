//! Property tests over the ONNX attribute space: random Conv, pooling, reduce and layout nodes
//! (random shapes, kernels, strides, pads incl. asymmetric and `auto_pad`, dilations, groups,
//! attributes omitted at random so ONNX defaults apply), built in memory, compared against
//! tract's own evaluation, quantized, and checked by MockProver.

use super::load_proto;
use crate::circuit::{instance_field, CircuitWitness, ModelCircuit};
use crate::ops::forward;
use crate::quantize::{quantize, QuantOptions};
use crate::witness;
use halo2_proofs::dev::MockProver;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use tract_onnx::prelude::*;

struct Rng(ChaCha20Rng);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u32() as usize) % n.max(1)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 1
    }
    fn floats(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.0.next_u32() as f64 / u32::MAX as f64) * 2.0 - 1.0) as f32)
            .collect()
    }
}

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn value_info(name: &str, shape: Option<&[usize]>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: shape.map(|s| TensorShapeProto {
                    dim: s
                        .iter()
                        .map(|&d| tensor_shape_proto::Dimension {
                            value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tensor(name: &str, shape: &[usize], data: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        float_data: data,
        ..Default::default()
    }
}

fn int_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

/// A one-node model `y = op(x, initializers…)`.
fn model(op: &str, x: &[usize], inits: Vec<TensorProto>, attrs: Vec<AttributeProto>) -> ModelProto {
    let mut inputs = vec!["x".to_string()];
    inputs.extend(inits.iter().map(|t| t.name.clone()));
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(GraphProto {
            name: "g".into(),
            node: vec![NodeProto {
                input: inputs,
                output: vec!["y".into()],
                name: format!("{}0", op.to_lowercase()),
                op_type: op.into(),
                attribute: attrs,
                ..Default::default()
            }],
            initializer: inits,
            input: vec![value_info("x", Some(x))],
            output: vec![value_info("y", None)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// tract evaluation, zkinfer float graph, fixed-point witness and MockProver on one model.
fn check(proto: &ModelProto, x_shape: &[usize], what: &str, rng: &mut Rng) {
    let g = match load_proto(proto, what) {
        Ok(g) => g,
        Err(e) => panic!("{what}: {e}"),
    };
    let n: usize = x_shape.iter().product();
    let samples: Vec<Vec<Vec<f64>>> = (0..3)
        .map(|_| vec![rng.floats(n).into_iter().map(f64::from).collect()])
        .collect();
    let x = &samples[0][0];
    let reference: Vec<f64> = tract_onnx::onnx()
        .model_for_proto_model(proto)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .and_then(|m| {
            let f: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            m.run(tvec![Tensor::from_shape(x_shape, &f)?.into()])
        })
        .map(|out| {
            out[0]
                .cast_to::<f64>()
                .expect("cast")
                .to_plain_array_view::<f64>()
                .expect("view")
                .iter()
                .copied()
                .collect()
        })
        .unwrap_or_else(|e| panic!("{what}: tract: {e:#}"));
    let got = forward(&g, &samples[0]);
    assert_eq!(got.len(), reference.len(), "{what}: output length");
    for (a, b) in got.iter().zip(&reference) {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "{what}: {a} vs tract {b}"
        );
    }
    let q = quantize(&g, Some(&samples), &QuantOptions::default())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let trace = witness::run(&q, witness::quantize_input(&q, x).expect("input"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let s = q.scale(q.graph.outputs[0]);
    for (&v, b) in trace.output().iter().zip(&reference) {
        let a = witness::dequantize(v, s);
        assert!(
            (a - b).abs() <= 1e-3 * (1.0 + b.abs()),
            "{what}: fixed {a} vs {b}"
        );
    }
    let plan = crate::plan::plan(&q).expect("plan");
    let q = std::sync::Arc::new(q);
    let cw = CircuitWitness::new(&q, plan.shape, &trace).expect("witness");
    let instance = instance_field(&cw.instance);
    let circuit = ModelCircuit::prove(q, plan.shape, cw);
    let prover = MockProver::run(plan.k, &circuit, vec![instance]).expect("mock");
    if let Err(f) = prover.verify() {
        panic!("{what}: {} failures, first {:?}", f.len(), f.first());
    }
}

/// Padding attributes: explicit (possibly asymmetric, each side < kernel extent), one of the
/// `auto_pad` modes, or nothing (ONNX default: no padding).
fn padding(rng: &mut Rng, extent: &[usize]) -> Vec<AttributeProto> {
    match rng.below(4) {
        0 => vec![],
        1 => {
            let mut pads: Vec<usize> = extent.iter().map(|&e| rng.below(e)).collect();
            pads.extend(extent.iter().map(|&e| rng.below(e)));
            vec![ints("pads", &pads)]
        }
        2 => vec![string("auto_pad", "SAME_UPPER")],
        _ => vec![string(
            "auto_pad",
            if rng.coin() { "SAME_LOWER" } else { "VALID" },
        )],
    }
}

#[test]
fn random_convolutions_match_tract() {
    let mut rng = Rng(ChaCha20Rng::seed_from_u64(11));
    for case in 0..24 {
        let rank = if case % 6 == 5 { 1 } else { 2 };
        let c_in = rng.range(1, 4);
        let group = match rng.below(3) {
            0 => 1,
            1 => c_in, // depthwise
            _ => (1..=c_in)
                .rev()
                .find(|g| c_in.is_multiple_of(*g) && *g < c_in)
                .unwrap_or(1),
        };
        let c_out = group * rng.range(1, 2);
        let kernel: Vec<usize> = (0..rank).map(|_| rng.range(1, 3)).collect();
        let dil: Vec<usize> = (0..rank).map(|_| rng.range(1, 2)).collect();
        let stride: Vec<usize> = (0..rank).map(|_| rng.range(1, 3)).collect();
        let extent: Vec<usize> = kernel
            .iter()
            .zip(&dil)
            .map(|(k, d)| (k - 1) * d + 1)
            .collect();
        let spatial: Vec<usize> = extent.iter().map(|&e| e + rng.below(5)).collect();
        let mut x = vec![1, c_in];
        x.extend(&spatial);
        let mut w_shape = vec![c_out, c_in / group];
        w_shape.extend(&kernel);
        let mut inits = vec![tensor("w", &w_shape, rng.floats(w_shape.iter().product()))];
        if rng.coin() {
            inits.push(tensor("b", &[c_out], rng.floats(c_out)));
        }
        let mut attrs = padding(&mut rng, &extent);
        if rng.coin() || group > 1 {
            attrs.push(int("group", group as i64));
        }
        if rng.coin() || stride.iter().any(|&s| s > 1) {
            attrs.push(ints("strides", &stride));
        }
        if rng.coin() || dil.iter().any(|&d| d > 1) {
            attrs.push(ints("dilations", &dil));
        }
        if rng.coin() {
            attrs.push(ints("kernel_shape", &kernel));
        }
        let what = format!("conv case {case}: x {x:?} w {w_shape:?} {attrs:?}");
        let m = model("Conv", &x, inits, attrs);
        // the direct reading of the kernel gives the very graph probing tract gives
        let direct = load_proto(&m, &what).expect("direct");
        super::ops::conv::PROBE_ONLY.with(|p| p.set(true));
        let probed = load_proto(&m, &what);
        super::ops::conv::PROBE_ONLY.with(|p| p.set(false));
        assert_eq!(direct, probed.expect("probed"), "{what}: direct vs probed");
        check(&m, &x, &what, &mut rng);
    }
}

#[test]
fn random_pools_match_tract() {
    let mut rng = Rng(ChaCha20Rng::seed_from_u64(12));
    for case in 0..24 {
        let op = ["MaxPool", "AveragePool"][case % 2];
        let c = rng.range(1, 3);
        let kernel: Vec<usize> = (0..2).map(|_| rng.range(1, 3)).collect();
        let dil: Vec<usize> = (0..2).map(|_| rng.range(1, 2)).collect();
        let extent: Vec<usize> = if op == "MaxPool" {
            kernel
                .iter()
                .zip(&dil)
                .map(|(k, d)| (k - 1) * d + 1)
                .collect()
        } else {
            kernel.clone()
        };
        let spatial: Vec<usize> = extent.iter().map(|&e| e + rng.below(4)).collect();
        let x = vec![1, c, spatial[0], spatial[1]];
        let mut attrs = vec![ints("kernel_shape", &kernel)];
        // explicit pads must be smaller than the kernel for pools
        attrs.extend(padding(&mut rng, &kernel));
        if rng.coin() {
            attrs.push(ints("strides", &[rng.range(1, 3), rng.range(1, 3)]));
        }
        if op == "MaxPool" && dil.iter().any(|&d| d > 1) {
            attrs.push(ints("dilations", &dil));
        }
        if op == "AveragePool" && rng.coin() {
            attrs.push(int("count_include_pad", 1));
        }
        if rng.coin() {
            attrs.push(int("ceil_mode", 1));
        }
        let what = format!("{op} case {case}: x {x:?} {attrs:?}");
        check(&model(op, &x, vec![], attrs), &x, &what, &mut rng);
    }
}

#[test]
fn random_reductions_and_transposes_match_tract() {
    let mut rng = Rng(ChaCha20Rng::seed_from_u64(13));
    for case in 0..16 {
        let x = vec![1, rng.range(1, 3), rng.range(1, 4), rng.range(1, 4)];
        if case % 4 == 3 {
            let mut perm = vec![0usize, 1, 2, 3];
            for i in (1..4).rev() {
                let j = rng.below(i + 1);
                perm.swap(i, j);
            }
            let what = format!("Transpose case {case}: x {x:?} perm {perm:?}");
            let m = model("Transpose", &x, vec![], vec![ints("perm", &perm)]);
            check(&m, &x, &what, &mut rng);
            continue;
        }
        let op = ["ReduceMean", "ReduceMax", "ReduceMin"][case % 4];
        let axes: Vec<usize> = (1..4).filter(|_| rng.coin()).collect();
        let mut attrs = vec![int("keepdims", rng.below(2) as i64)];
        if !axes.is_empty() {
            attrs.push(ints("axes", &axes));
        }
        let what = format!("{op} case {case}: x {x:?} {attrs:?}");
        check(&model(op, &x, vec![], attrs), &x, &what, &mut rng);
    }
    // ReduceSum takes its axes as an input in opset 13
    let x = [1usize, 2, 3, 4];
    let m = model("ReduceSum", &x, vec![], vec![int("keepdims", 0)]);
    let mut m2 = m.clone();
    if let Some(g) = m2.graph.as_mut() {
        g.initializer.push(int_tensor("axes", &[1, 3]));
        g.node[0].input.push("axes".into());
    }
    check(&m2, &x, "ReduceSum axes [1, 3]", &mut rng);
}
