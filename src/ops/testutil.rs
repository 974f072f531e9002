//! Small graphs for unit tests.

use super::linear::{Linear, Row};
use super::{FloatGraph, FloatOp};
use crate::graph::{Graph, Input, Node, Ref};

/// A graph with one input of `shape` and the given nodes (each reading the previous tensor
/// unless `inputs` says otherwise); the last node is the output.
pub fn chain(shape: &[usize], nodes: Vec<(Vec<usize>, Vec<usize>, FloatOp)>) -> FloatGraph {
    let mut g = Graph {
        inputs: vec![Input {
            name: "input".into(),
            shape: shape.to_vec(),
        }],
        nodes: vec![],
        outputs: vec![],
        output_names: vec![],
    };
    for (i, (inputs, shape, op)) in nodes.into_iter().enumerate() {
        let inputs = if inputs.is_empty() { vec![i] } else { inputs };
        g.nodes.push(Node {
            name: format!("n{i}"),
            inputs,
            shape,
            op,
        });
    }
    g.outputs = vec![g.n_tensors() - 1];
    g
}

/// A dense layer `y = W x + b` over input slot 0.
pub fn dense(weights: &[Vec<f64>], bias: &[f64], relu: bool) -> FloatOp {
    FloatOp::Linear(Linear {
        rows: weights
            .iter()
            .zip(bias)
            .map(|(w, &b)| Row {
                bias: b,
                terms: w
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| (Ref(0, i as u32), w))
                    .collect(),
            })
            .collect(),
        relu,
    })
}

/// The MLP 3 → 2 (ReLU) → 1.
pub fn mlp() -> FloatGraph {
    chain(
        &[1, 3],
        vec![
            (
                vec![],
                vec![1, 2],
                dense(
                    &[vec![0.5, -1.25, 2.0], vec![1.0, 1.0, 1.0]],
                    &[0.1, -0.2],
                    true,
                ),
            ),
            (
                vec![],
                vec![1, 1],
                dense(&[vec![3.0, -0.5]], &[0.25], false),
            ),
        ],
    )
}
