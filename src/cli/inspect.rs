//! `zkinfer inspect DIR [--json]`

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use zkinfer::pipeline::{inspect, InspectReport};

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// Build folder after `zkinfer compile`.
    pub dir: PathBuf,
    /// Print the report as JSON (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// Runs `inspect`.
pub fn exec(args: Args) -> Result<ExitCode> {
    let r = inspect(&args.dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_report(&r);
    }
    Ok(ExitCode::SUCCESS)
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn print_report(r: &InspectReport) {
    println!(
        "{}: {} layers, {} multiply-accumulates",
        r.model,
        r.layers.len(),
        r.macs
    );
    let name_w = r
        .layers
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(4)
        .max(5);
    let layout_w = r
        .layers
        .iter()
        .map(|l| l.layout.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<name_w$}  {:<layout_w$}  {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  op",
        "layer", "layout", "dense", "freivalds", "rescale", "product", "function", "lookups"
    );
    for l in &r.layers {
        println!(
            "{:<name_w$}  {:<layout_w$}  {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  {}",
            l.name,
            l.layout,
            l.rows.dense,
            l.rows.freivalds,
            l.rows.rescale,
            l.rows.product,
            l.rows.func,
            l.lookups,
            l.op
        );
    }
    let mut hosted = vec!["the input"];
    if r.func_in_rescale {
        hosted.push("the function rows");
    }
    if r.product_in_rescale {
        hosted.push("the product rows");
    }
    let in_rescale = |yes: bool| if yes { " (in the rescale columns)" } else { "" };
    println!(
        "rows: dense {}{} · freivalds {}{} · rescale {}{} (with {}) · product {}{} · function {}{} · tables {}",
        r.rows.dense,
        if r.dense_chip { "" } else { " (no dense chip)" },
        r.rows.freivalds,
        if r.freivalds_banks > 1 {
            format!(
                " (in {} banks side by side{})",
                r.freivalds_banks,
                if r.freivalds_balance {
                    ", balanced: one-block checks, largest first"
                } else {
                    ""
                }
            )
        } else {
            String::new()
        },
        r.rows.rescale,
        if r.tall_rescale {
            " (tall: limbs in one column)"
        } else {
            ""
        },
        hosted.join(", "),
        r.rows.product,
        if r.product_beside_rescale {
            " (the products beside their rescale rows)"
        } else {
            in_rescale(r.product_in_rescale)
        },
        r.rows.func,
        in_rescale(r.func_in_rescale),
        r.table_rows
    );
    println!(
        "circuit: k = {} ({} rows), {} lanes, Freivalds width {}{} × {} banks, {} advice / {} fixed columns, {} in the permutation, {} lookups, degree {}",
        r.k,
        1u64 << r.k,
        r.lanes,
        r.freivalds_width,
        if r.freivalds_pack > 1 {
            format!(" (up to {} outputs a cell)", r.freivalds_pack)
        } else {
            String::new()
        },
        r.freivalds_banks,
        r.advice_columns,
        r.fixed_columns,
        r.permutation_columns,
        r.lookup_arguments,
        r.degree
    );
    println!(
        "estimates (2 cores): prove {:.2} s · proving key {} · peak memory {} · proof {} bytes",
        r.est_prove_seconds,
        mib(r.est_pk_bytes),
        mib(r.est_peak_bytes),
        r.est_proof_bytes
    );
}
