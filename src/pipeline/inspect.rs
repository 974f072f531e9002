//! `inspect`: what the plan chose for a build folder, per layer and for the model, with
//! estimates of the proving cost.

use super::{read_build, PipelineError};
use crate::circuit::configure;
use crate::ops::{Cost, QuantOp};
use halo2_proofs::{halo2curves::bn256::Fr, plonk::ConstraintSystem};
use serde::Serialize;
use std::path::Path;

/// One layer (node) of the model.
#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    /// Node name.
    pub name: String,
    /// The op and its parameters.
    pub op: String,
    /// How the circuit checks it: `dense ×L` (one advice cell per multiply-accumulate in `L`
    /// lanes), `freivalds K` (a random combination of the outputs), and the other chips it
    /// uses.
    pub layout: String,
    /// Rows per chip.
    pub rows: RowsReport,
    /// Table lookups (rescale rows take three, function rows two).
    pub lookups: usize,
}

/// Rows of each chip's columns.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RowsReport {
    /// Dense chip.
    pub dense: usize,
    /// Freivalds chip.
    pub freivalds: usize,
    /// Rescale chip (range checks, ReLU).
    pub rescale: usize,
    /// Product chip.
    pub product: usize,
    /// Function chip.
    pub func: usize,
}

impl From<Cost> for RowsReport {
    fn from(c: Cost) -> Self {
        Self {
            dense: c.dense_rows,
            freivalds: c.freivalds_rows,
            rescale: c.rescale_rows,
            product: c.product_rows,
            func: c.func_rows,
        }
    }
}

/// The model's circuit and estimated costs.
#[derive(Clone, Debug, Serialize)]
pub struct InspectReport {
    /// Model name.
    pub model: String,
    /// Multiply-accumulates of the linear layers (a convolution's weights count once per
    /// output position).
    pub macs: usize,
    /// `k` (the circuit has `2^k` rows).
    pub k: u32,
    /// Dense lanes `L`.
    pub lanes: usize,
    /// Freivalds width `K` (0: no Freivalds chip).
    pub freivalds_width: usize,
    /// Freivalds chips side by side.
    pub freivalds_banks: usize,
    /// Whether the banks take one-block checks largest first
    /// ([`crate::circuit::CircuitShape::freivalds_balance`]).
    pub freivalds_balance: bool,
    /// Outputs per Freivalds weight cell at most (`P`; layers whose bounds need wider
    /// separations take fewer).
    pub freivalds_pack: usize,
    /// Whether the circuit has the dense chip (left out when no layer uses it).
    pub dense_chip: bool,
    /// Whether the function chip's rows are in the rescale chip's columns.
    pub func_in_rescale: bool,
    /// Whether the product chip's rows are in the rescale chip's columns.
    pub product_in_rescale: bool,
    /// Whether the product chip sits beside the rescale chip (products on their rescale rows).
    pub product_beside_rescale: bool,
    /// Whether the rescale chip is tall (its limbs in one column, two or three rows an
    /// element).
    pub tall_rescale: bool,
    /// Per layer.
    pub layers: Vec<LayerReport>,
    /// Rows per chip, all layers (plus the input rows in the rescale columns; the rescale
    /// count includes the function and product rows laid out in its columns).
    pub rows: RowsReport,
    /// Rows of the lookup tables.
    pub table_rows: usize,
    /// Advice columns (each one committed per proof).
    pub advice_columns: usize,
    /// Fixed columns, selectors included.
    pub fixed_columns: usize,
    /// Columns in the permutation argument.
    pub permutation_columns: usize,
    /// Lookup arguments.
    pub lookup_arguments: usize,
    /// Constraint degree.
    pub degree: usize,
    /// Estimated `zkinfer prove` wall time (seconds, 2 cores).
    pub est_prove_seconds: f64,
    /// Estimated proving-key size (bytes).
    pub est_pk_bytes: u64,
    /// Estimated peak memory of `prove` (bytes).
    pub est_peak_bytes: u64,
    /// Estimated proof size (bytes).
    pub est_proof_bytes: u64,
}

/// Polynomials halo2 commits per proof (advice, permutation products, three per lookup, the
/// quotient pieces) and the columns the proving key stores (fixed and permutation).
struct Counts {
    committed: usize,
    stored: usize,
}

fn counts(cs: &ConstraintSystem<Fr>) -> Counts {
    Counts {
        committed: crate::plan::committed_polys(cs),
        stored: cs.num_fixed_columns() + cs.num_selectors() + cs.permutation().get_columns().len(),
    }
}

/// What the plan chose for the build folder `dir`, with estimates.
pub fn inspect(dir: &Path) -> Result<InspectReport, PipelineError> {
    let (settings, model) = read_build(dir)?;
    let shape = settings.plan.shape;
    let mut total = Cost::default();
    let mut layers = Vec::with_capacity(model.graph.nodes.len());
    let mut macs = 0;
    for (i, node) in model.graph.nodes.iter().enumerate() {
        let ctx = model.node_ctx_in(i, &shape);
        let imp = node.op.imp();
        let cost = imp.cost(&ctx);
        total += cost;
        let mut layout = vec![];
        if cost.freivalds_rows > 0 {
            let merged = if imp.freivalds_merges(&ctx) || imp.freivalds_splits(&ctx) {
                format!(" in {} checks", imp.freivalds_groups(&ctx).len())
            } else {
                String::new()
            };
            match imp.freivalds_pack(&ctx) {
                1 => layout.push(format!("freivalds K={}{merged}", shape.freivalds)),
                p => layout.push(format!("freivalds K={}×{p}{merged}", shape.freivalds)),
            }
        }
        if cost.dense_rows > 0 {
            layout.push(format!("dense ×{}", shape.lanes));
        }
        if cost.product_rows > 0 {
            layout.push("product".into());
        } else if shape.product_beside_rescale && matches!(node.op, QuantOp::Mul(_)) {
            layout.push("product beside".into());
        }
        if cost.func_rows > 0 {
            layout.push("function table".into());
        }
        if cost.rescale_rows > 0 {
            layout.push("rescale".into());
        }
        if let QuantOp::Linear(l) = &node.op {
            macs += l
                .groups
                .iter()
                .map(|g| g.w.iter().map(Vec::len).sum::<usize>())
                .sum::<usize>();
        }
        // rows in the chips' columns: a tall rescale element takes 2 or 3, a function row in
        // its columns 2
        let mut rows: RowsReport = cost.into();
        if shape.tall_rescale {
            rows.rescale *= zkinfer_circuits::rescale::RescaleConfig::rows_per_element_of(
                true,
                shape.remainder_limbs,
            );
            if shape.func_in_rescale {
                rows.func *= 2;
            }
        }
        layers.push(LayerReport {
            name: node.name.clone(),
            op: imp.describe(),
            layout: layout.join(" + "),
            rows,
            lookups: 3 * cost.rescale_rows + 2 * cost.func_rows,
        });
    }
    let mut rows: RowsReport = total.into();
    rows.rescale = settings.plan.rescale_rows;
    if shape.tall_rescale && shape.func_in_rescale {
        rows.func *= 2;
    }
    let mut cs = ConstraintSystem::<Fr>::default();
    configure(&mut cs, shape);
    let c = counts(&cs);
    let k = settings.k;
    let n = 1u64 << k;
    // the plan's cost (every committed polynomial costs FFTs and an MSM, every fixed column
    // its FFTs again in each proof: halo2-axiom keeps no extended cosets in the key; about
    // half as much, which two layouts of one model measured side by side bear out: 0.34 and
    // 0.9 of a committed one), fitted on this machine kind (2 cores, release)
    let fixed = cs.num_fixed_columns() + cs.num_selectors();
    let work = (2 * c.committed + fixed) as f64 * n as f64 * f64::from(k);
    let est_prove_seconds = crate::plan::PROVE_SECONDS_BASE + work * crate::plan::SECONDS_PER_COST;
    // the key stores each fixed and permutation column as values and coefficients
    let est_pk_bytes = c.stored as u64 * n * 32 * 2;
    // the key, then every column's values, coefficients and one extended part at a time
    let all = (cs.num_advice_columns() + c.stored + c.committed) as u64;
    let est_peak_bytes = (25 << 20) + est_pk_bytes + all * n * 32 * 3 / 2;
    let est_proof_bytes = crate::plan::proof_bytes(&cs);
    Ok(InspectReport {
        model: settings.model_name.clone(),
        macs,
        k,
        lanes: shape.lanes,
        freivalds_width: shape.freivalds,
        freivalds_banks: shape.freivalds_banks,
        freivalds_balance: shape.freivalds_balance,
        freivalds_pack: shape.freivalds_pack,
        dense_chip: shape.dense,
        func_in_rescale: shape.func_in_rescale,
        product_in_rescale: shape.product_in_rescale,
        product_beside_rescale: shape.product_beside_rescale,
        tall_rescale: shape.tall_rescale,
        layers,
        rows,
        table_rows: settings.plan.table_rows,
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns() + cs.num_selectors(),
        permutation_columns: cs.permutation().get_columns().len(),
        lookup_arguments: cs.lookups().len(),
        degree: cs.degree(),
        est_prove_seconds,
        est_pk_bytes,
        est_peak_bytes,
        est_proof_bytes,
    })
}
