//! The model graph every stage walks (DESIGN §1, §9): a DAG of nodes over shaped tensors.
//!
//! Tensor ids: `0..inputs.len()` are the graph inputs, `inputs.len() + i` is the output of node
//! `i`. Nodes are in evaluation order (every input id is smaller than the node's own output id).
//! Values are flat, row-major; an op refers to one element of one of its inputs by a [`Ref`].
//!
//! The same container carries the float graph ([`crate::ops::FloatOp`]) and the fixed-point
//! model ([`crate::ops::QuantOp`]); `N` is the per-node payload.

use serde::{Deserialize, Serialize};

/// A tensor id (see the module doc).
pub type TensorId = usize;

/// One element of one input of a node: `(input slot, flat index)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ref(pub u32, pub u32);

impl Ref {
    /// The node input slot.
    pub fn slot(self) -> usize {
        self.0 as usize
    }
    /// The flat index inside that input.
    pub fn idx(self) -> usize {
        self.1 as usize
    }
}

/// A graph node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node<N> {
    /// The ONNX (tract) node it came from; several nodes may share one name.
    pub name: String,
    /// Input tensors.
    pub inputs: Vec<TensorId>,
    /// Output shape.
    pub shape: Vec<usize>,
    /// The op and its parameters.
    pub op: N,
}

impl<N> Node<N> {
    /// Number of output elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A graph input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// ONNX input name.
    pub name: String,
    /// Shape (symbolic dimensions fixed to 1).
    pub shape: Vec<usize>,
}

/// A DAG of nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph<N> {
    /// Graph inputs (tensor ids `0..inputs.len()`).
    pub inputs: Vec<Input>,
    /// Nodes in evaluation order.
    pub nodes: Vec<Node<N>>,
    /// Output tensors, in ONNX order.
    pub outputs: Vec<TensorId>,
    /// The ONNX names of the outputs (empty: use the producers' names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_names: Vec<String>,
}

impl<N> Graph<N> {
    /// Number of tensors.
    pub fn n_tensors(&self) -> usize {
        self.inputs.len() + self.nodes.len()
    }
    /// The node producing tensor `t`, if `t` is not a graph input.
    pub fn producer(&self, t: TensorId) -> Option<&Node<N>> {
        t.checked_sub(self.inputs.len())
            .and_then(|i| self.nodes.get(i))
    }
    /// Shape of tensor `t`.
    pub fn shape(&self, t: TensorId) -> &[usize] {
        match self.producer(t) {
            Some(n) => &n.shape,
            None => self.inputs.get(t).map_or(&[], |i| &i.shape),
        }
    }
    /// Element count of tensor `t`.
    pub fn len(&self, t: TensorId) -> usize {
        self.shape(t).iter().product()
    }
    /// Whether the graph has no tensors.
    pub fn is_empty(&self) -> bool {
        self.n_tensors() == 0
    }
    /// Name of tensor `t` (its producer's node name, or the input name).
    pub fn name(&self, t: TensorId) -> &str {
        match self.producer(t) {
            Some(n) => &n.name,
            None => self.inputs.get(t).map_or("?", |i| &i.name),
        }
    }
    /// Name of output `i`.
    pub fn output_name(&self, i: usize) -> &str {
        match self.output_names.get(i) {
            Some(n) => n,
            None => self.outputs.get(i).map_or("?", |&t| self.name(t)),
        }
    }
    /// Total input elements (all inputs, in order).
    pub fn input_len(&self) -> usize {
        (0..self.inputs.len()).map(|t| self.len(t)).sum()
    }
    /// Total output elements (all outputs, in order).
    pub fn output_len(&self) -> usize {
        self.outputs.iter().map(|&t| self.len(t)).sum()
    }
    /// For every tensor, the nodes (indices) consuming it.
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut c = vec![Vec::new(); self.n_tensors()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &t in &n.inputs {
                if let Some(list) = c.get_mut(t) {
                    if !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
        }
        c
    }
    /// Checks the structural invariants: inputs precede their consumers, outputs exist, and
    /// every [`Ref`] an op makes is in range (`refs` lists them per node).
    pub fn check(&self, refs: impl Fn(&N) -> Vec<Ref>) -> Result<(), String> {
        for (i, n) in self.nodes.iter().enumerate() {
            let own = self.inputs.len() + i;
            if let Some(&bad) = n.inputs.iter().find(|&&t| t >= own) {
                return Err(format!(
                    "node `{}` reads tensor {bad}, not computed before it",
                    n.name
                ));
            }
            for r in refs(&n.op) {
                let ok = n
                    .inputs
                    .get(r.slot())
                    .is_some_and(|&t| r.idx() < self.len(t));
                if !ok {
                    return Err(format!(
                        "node `{}` refers to element {} of input {}, which does not exist",
                        n.name,
                        r.idx(),
                        r.slot()
                    ));
                }
            }
        }
        if self.outputs.is_empty() || self.outputs.iter().any(|&t| t >= self.n_tensors()) {
            return Err("the graph's outputs are missing or out of range".into());
        }
        Ok(())
    }

    /// Maps the payload of every node.
    pub fn map<M, E>(
        &self,
        mut f: impl FnMut(usize, &Node<N>) -> Result<M, E>,
    ) -> Result<Graph<M>, E> {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(Node {
                    name: n.name.clone(),
                    inputs: n.inputs.clone(),
                    shape: n.shape.clone(),
                    op: f(i, n)?,
                })
            })
            .collect::<Result<_, E>>()?;
        Ok(Graph {
            inputs: self.inputs.clone(),
            nodes,
            outputs: self.outputs.clone(),
            output_names: self.output_names.clone(),
        })
    }
}

/// Values of a node's inputs, indexed by [`Ref`].
pub struct Inputs<'a, T>(pub Vec<&'a [T]>);

impl<T: Copy> Inputs<'_, T> {
    /// The element `r` refers to.
    pub fn at(&self, r: Ref) -> Option<T> {
        self.0.get(r.slot())?.get(r.idx()).copied()
    }
    /// The elements `refs` refer to (`None` if any is out of range).
    pub fn all(&self, refs: impl IntoIterator<Item = Ref>) -> Option<Vec<T>> {
        refs.into_iter().map(|r| self.at(r)).collect()
    }
}

impl<N> Graph<N> {
    /// Makes every consumer of tensor `from` (and the outputs) read `to` instead.
    pub fn replace_uses(&mut self, from: TensorId, to: TensorId) {
        for n in &mut self.nodes {
            for t in &mut n.inputs {
                if *t == from {
                    *t = to;
                }
            }
        }
        for t in &mut self.outputs {
            if *t == from {
                *t = to;
            }
        }
    }

    /// Drops the nodes nothing reads (transitively) and renumbers the tensors.
    pub fn retain_used(&mut self) {
        let n_in = self.inputs.len();
        let mut used = vec![false; self.n_tensors()];
        for &t in &self.outputs {
            used[t] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if used[n_in + i] {
                for &t in &self.nodes[i].inputs {
                    used[t] = true;
                }
            }
        }
        let mut new_id = vec![usize::MAX; self.n_tensors()];
        let mut next = n_in;
        for (t, id) in new_id.iter_mut().enumerate() {
            if t < n_in {
                *id = t;
            } else if used[t] {
                *id = next;
                next += 1;
            }
        }
        let nodes = std::mem::take(&mut self.nodes);
        self.nodes = nodes
            .into_iter()
            .enumerate()
            .filter(|(i, _)| used[n_in + i])
            .map(|(_, mut n)| {
                for t in &mut n.inputs {
                    *t = new_id[*t];
                }
                n
            })
            .collect();
        for t in &mut self.outputs {
            *t = new_id[*t];
        }
    }
}
