//! Renders the scenarios' results into the Markdown report (the layout of BENCHMARKS.md's figures).

mod cold;
mod instances;
mod managed;
mod memory;
mod proxy;
mod refresh;
mod scale;
mod size;
mod stream;
mod throughput;
mod versus;

#[cfg(test)]
mod layout_tests;

use crate::counters::DdbCounts;
use crate::measure::Measured;
use crate::stats;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

/// What the report's header and footer say about the run.
pub struct Run {
    /// The sections' names, as in `bench <sections>`.
    pub sections: Vec<String>,
    /// `--bin-dir`, where given.
    pub bin_dir: Option<PathBuf>,
    /// The machine, read at the start.
    pub machine: Vec<(String, String)>,
    pub took: Duration,
}

/// The whole report.
pub fn document(run: &Run, results: &[Measured]) -> String {
    let mut doc = String::new();
    header(&mut doc, run).expect("a String takes every write");
    for m in results {
        section(&mut doc, results, m).expect("a String takes every write");
        doc.push('\n');
    }
    doc.push_str(&format!(
        "Load average at the end: {}; the whole run took {:.0} s.\n",
        stats::loadavg(),
        run.took.as_secs_f64()
    ));
    doc
}

fn header(doc: &mut String, run: &Run) -> fmt::Result {
    writeln!(doc, "# Benchmark figures\n")?;
    writeln!(
        doc,
        "Produced by `bench {}` (`make bench`). Every figure is from one run on a shared, noisy machine: compare \
         ratios and orders of magnitude, not single milliseconds.\n",
        run.sections.join(" ")
    )?;
    writeln!(doc, "| Machine | |\n|---|---|")?;
    for (k, v) in &run.machine {
        writeln!(doc, "| {k} | {v} |")?;
    }
    writeln!(doc)?;
    if let Some(dir) = &run.bin_dir {
        writeln!(doc, "Function binaries from `{}`.\n", dir.display())?;
    }
    Ok(())
}

fn section(out: &mut String, results: &[Measured], m: &Measured) -> fmt::Result {
    match m {
        Measured::Cold(c) => cold::render(out, c),
        Measured::Memory(m) => memory::render(out, m),
        Measured::Proxy(p) => proxy::render(out, p),
        Measured::Refresh(r) => refresh::render(out, r),
        Measured::Throughput(t) => throughput::render(out, t),
        Measured::Scale(s) => scale::render(out, s),
        Measured::Size(s) => size::render(out, s),
        Measured::Stream(s) => stream::render(out, s),
        Measured::Managed(m) => managed::render(out, m),
        Measured::Instances(i) => instances::render(out, i),
        Measured::Versus(v) => versus::render(out, results, v),
    }
}

/// `200×19, 502×1`: a tally of answers.
fn statuses<K: fmt::Display>(tally: &BTreeMap<K, usize>) -> String {
    tally.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(", ")
}

/// `GetItem 1, UpdateItem 2`: the operations, each divided by `per`.
fn ddb_ops(ddb: &DdbCounts, per: usize) -> String {
    if ddb.ops.is_empty() {
        return "none".into();
    }
    ddb.ops
        .iter()
        .map(|(k, v)| {
            let n = *v as f64 / per as f64;
            if n.fract() == 0.0 { format!("{k} {n}") } else { format!("{k} {n:.3}") }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A latency row's three cells: p50, p99 and min–max.
fn p50_p99_range(s: &stats::Samples) -> String {
    use stats::ms;
    format!("{} | {} | {}–{}", ms(s.median()), ms(s.pct(99.0)), ms(s.min()), ms(s.max()))
}
