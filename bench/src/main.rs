//! The benchmark suite of the BFF, printed as Markdown (the figures in BENCHMARKS.md).
//!
//! ```sh
//! infra/with-dynamodb.sh cargo run --release -p bench -- all      # or: cold memory proxy refresh throughput scale size
//! cargo run --release -p bench -- --help
//! ```
//!
//! Release binaries of the six functions (`target/release/<fn>`, or `--bin-dir`) run under
//! [`tests::runtime::RuntimeApi`], a minimal Lambda Runtime API in this process (the test harness's), against the
//! real local stack from the test harness (`tests::spawn_app_with`: the ERP.net emulator, DynamoDB Local behind
//! `infra/ddb-proxy.js`, and `cargo lambda watch` for the sign-in). Throughput goes through `cargo lambda watch --release` with wrk; the concurrent-refresh
//! scenario through four harness runtimes; sizes come from `cargo lambda build --release --arm64 --output-format zip`.
//!
//! [`measure`] has one module per scenario, each returning its figures; [`report`] renders them.

mod budget;
mod cli;
mod counters;
mod functions;
mod measure;
mod report;
mod stack;
mod stats;

use clap::Parser;
use cli::{Cli, Section};
use measure::Measured;
use std::path::PathBuf;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let args = Cli::parse();
    let started = Instant::now();
    let machine = stats::machine();
    let bin_dir = args.bin_dir.as_deref().map(checked_bin_dir);
    let results = run(&args, bin_dir.clone()).await;
    let run = report::Run {
        sections: args.sections().iter().map(|s| s.name()).collect(),
        bin_dir,
        machine,
        took: started.elapsed(),
    };
    let doc = report::document(&run, &results);
    print!("{doc}");
    if let Some(path) = &args.out {
        std::fs::write(path, &doc).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// Runs the selected sections, in the report's order.
async fn run(args: &Cli, bin_dir: Option<PathBuf>) -> Vec<Measured> {
    let on_stack = [
        Section::Cold,
        Section::Memory,
        Section::Proxy,
        Section::Refresh,
        Section::Throughput,
        Section::Stream,
        Section::Managed,
    ];
    let mut results = vec![];
    if on_stack.iter().any(|s| args.has(*s)) {
        if args.build_functions() {
            functions::build();
        }
        let bin_dir = bin_dir.clone().unwrap_or_else(|| tests::repo_root().join("target").join("release"));
        let mut ctx = stack::Ctx::new(bin_dir).await;
        let mut versus =
            args.peer.as_deref().map(|dir| measure::Versus { peer_dir: checked_bin_dir(dir), peer: vec![] });
        for section in [Section::Cold, Section::Memory, Section::Proxy].into_iter().filter(|s| args.has(*s)) {
            results.push(side(&mut ctx, args, section).await);
            let Some(v) = versus.as_mut() else { continue };
            // The peer right after ours, on the same stack; ours stays the warm proxy of the later sections.
            let ours_dir = ctx.use_bin_dir(v.peer_dir.clone());
            let ours_hot = ctx.hot_proxy.take();
            v.peer.push(side(&mut ctx, args, section).await);
            ctx.hot_proxy = ours_hot;
            ctx.use_bin_dir(ours_dir);
        }
        if args.has(Section::Refresh) {
            results.push(Measured::Refresh(measure::refresh::run(&ctx).await));
        }
        if args.has(Section::Throughput) {
            results.push(Measured::Throughput(measure::throughput::run(&mut ctx).await));
        }
        if args.has(Section::Stream) {
            results.push(Measured::Stream(measure::stream::run(&mut ctx).await));
        }
        if args.has(Section::Managed) {
            results.push(Measured::Managed(measure::managed::run(&ctx, args.calls * 4).await));
        }
        if let Some(v) = versus {
            results.push(Measured::Versus(Box::new(v)));
        }
    }
    if args.has(Section::Scale) {
        results.push(Measured::Scale(measure::scale::run().await));
    }
    if args.has(Section::Instances) {
        if args.build_functions() {
            functions::build();
        }
        let dir = bin_dir.clone().unwrap_or_else(|| tests::repo_root().join("target").join("release"));
        results.push(Measured::Instances(measure::instances::run(&dir, args.runs, args.calls).await));
    }
    if args.has(Section::Size) {
        results.push(Measured::Size(measure::size::run(args.build_zips())));
    }
    results
}

/// One of the sections that run on both sides (`--peer`).
async fn side(ctx: &mut stack::Ctx, args: &Cli, section: Section) -> Measured {
    match section {
        Section::Cold => Measured::Cold(measure::cold::run(ctx, args.runs).await),
        Section::Memory => Measured::Memory(measure::memory::run(ctx, args.load).await),
        _ => Measured::Proxy(measure::proxy::run(ctx, args.calls).await),
    }
}

/// `--bin-dir`, absolute, holding at least one of the functions' binaries (the sections skip a missing one).
fn checked_bin_dir(dir: &std::path::Path) -> PathBuf {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|e| panic!("--bin-dir {}: {e}", dir.display()));
    let found: Vec<&str> = functions::FUNCTIONS.into_iter().filter(|f| dir.join(f).is_file()).collect();
    assert!(!found.is_empty(), "--bin-dir {}: none of {:?} is there", dir.display(), functions::FUNCTIONS);
    eprintln!("bench: function binaries from {} ({})", dir.display(), found.join(", "));
    dir
}
