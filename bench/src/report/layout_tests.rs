//! The report's layout from made-up figures: the headings and table headers BENCHMARKS.md reproduces.

use super::{Run, document};
use crate::counters::{Counted, Counts, DdbCounts, Upstream};
use crate::measure::wrk::Wrk;
use crate::measure::{Measured, Statuses, cold, memory, proxy, refresh, scale, size, throughput};
use crate::stats::Samples;
use std::time::{Duration, Instant};
use tests::runtime::Outcome;

fn samples(ms: &[u64]) -> Samples {
    let mut s = Samples::default();
    ms.iter().for_each(|v| s.push(Duration::from_millis(*v)));
    s
}

fn ok200(n: usize) -> Statuses {
    Statuses::from([(200, n)])
}

fn counts(ops: &[(&str, u64)], idp: i64) -> Counts {
    let ops = ops.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let total = ops_total(&ops);
    Counts { ddb: DdbCounts { ops, total }, upstream: Upstream { idp, refresh_grants: idp, api: 1 } }
}

fn ops_total(ops: &std::collections::BTreeMap<String, u64>) -> u64 {
    ops.values().sum()
}

fn counted(n: usize, ops: &[(&str, u64)], idp: i64) -> Counted {
    let t = Instant::now();
    let first = Outcome { ok: true, body: br#"{"statusCode":200}"#.to_vec(), submitted: t, dispatched: t, done: t };
    let warm_ops: Vec<(&str, u64)> = ops.iter().map(|(k, v)| (*k, v * n as u64)).collect();
    let mut warm_counts = counts(&warm_ops, 0);
    warm_counts.upstream.api = n as i64;
    Counted { first, first_counts: counts(ops, idp), warm: samples(&[5, 6]), warm_counts, n }
}

fn every_section() -> Vec<Measured> {
    let cold_row = |f| cold::ColdRow {
        function: f,
        event: "GET /x",
        ready: samples(&[7, 8]),
        first_response: samples(&[9]),
        statuses: ok200(3),
    };
    let wrk = || {
        let (p50, p99, errors) = ("1.20ms".into(), "3.40ms".into(), "0".into());
        Some(Wrk { rps: 800.0, p50, p99, requests: 8000, errors })
    };
    vec![
        Measured::Cold(cold::Cold { runs: 3, rows: vec![cold_row("login")], bundle_only: Some(cold_row("proxy")) }),
        Measured::Memory(memory::Memory {
            load: 50,
            rows: vec![memory::MemoryRow {
                function: "login",
                event: "GET /x",
                peak_rss: 14_000_000,
                rss_after: 13_000_000,
                duration: samples(&[1, 2]),
                statuses: ok200(50),
            }],
        }),
        Measured::Proxy(proxy::Proxy {
            calls: 10,
            body_bff: 100,
            body_direct: 100,
            bff: samples(&[2]),
            bff_harness: samples(&[3]),
            direct: samples(&[1]),
            hz: 100,
            cpu_bff: proxy::CpuRun { bff_ms: Some(0.5), emulator_ms: 0.3, wall_ms: 1.0 },
            cpu_direct: proxy::CpuRun { bff_ms: None, emulator_ms: 0.2, wall_ms: 0.3 },
            peak_rss: 15_000_000,
            counted: counted(200, &[("GetItem", 1)], 0),
        }),
        Measured::Refresh(refresh::Refresh(counted(30, &[("GetItem", 1), ("UpdateItem", 2)], 1))),
        Measured::Throughput(throughput::Throughput::Measured(throughput::Measured {
            origin: "http://127.0.0.1:1".into(),
            by_connections: vec![(1, wrk()), (4, None)],
            by_size: vec![throughput::SizeRow {
                label: "1 KB",
                body: 1000,
                direct: samples(&[1]),
                bff: samples(&[2]),
                watch: samples(&[3]),
                watch_answers: [("200".to_string(), 49), ("timeout".to_string(), 1)].into(),
                watch_wrk: wrk(),
            }],
            peak_rss: 31_000_000,
        })),
        Measured::Scale(scale::Scale {
            sessions: 50,
            per_session: 20,
            ttl: 20,
            sign_in: Duration::from_secs(9),
            calls: 1000,
            refreshes: 50,
            versions: 50,
            at_v2: 50,
            failures: 0,
            mixed: 0,
            statuses: ok200(1000),
            wall: Duration::from_secs(4),
            latency: samples(&[40, 90]),
            ddb: counts(&[("GetItem", 1100), ("UpdateItem", 100)], 0).ddb,
        }),
        Measured::Size(size::Size::Measured(vec![size::SizeRow {
            function: "login",
            bootstrap: Some(4_000_000),
            zip: None,
            x86_64: Some(4_500_000),
        }])),
    ]
}

fn lines_starting(doc: &str, prefixes: &[&str]) -> Vec<String> {
    doc.lines().filter(|l| prefixes.iter().any(|p| l.starts_with(p))).map(String::from).collect()
}

#[test]
fn every_section_keeps_its_heading_and_table_header() {
    let run = Run { sections: vec!["all".into()], bin_dir: None, machine: vec![], took: Duration::from_secs(1) };
    let doc = document(&run, &every_section());
    let headings = lines_starting(&doc, &["#"]);
    assert_eq!(
        headings,
        [
            "# Benchmark figures",
            "## Cold start (release x86_64 binaries, 3 runs per function)",
            "## Peak memory and warm latency per function (50 sequential invocations each)",
            "## Proxy hot path (`GET /api/domain/odata/Crm_Sales_Customers?$top=10`)",
            "## Refresh path (`POST /auth/refresh`)",
            "## Throughput of one instance (wrk → cargo-lambda's `watch --release` → proxy)",
            "### Latency vs response size",
            "## Concurrent refresh at scale",
            "## Size (arm64 release, as deployed)",
        ]
    );
    for header in [
        "| Function | Event | Ready | First response | Status | Budget (ready) |",
        "| Function | Event | Peak RSS (MB) | RSS after (MB) | Duration p50 / p99 (ms) | Status | Budget |",
        "| Direct call to the API | 1.00 | 1.00 | 1.00–1.00 |",
        "| Through the BFF | 0.500 | 0.300 | 1.000 |",
        "| Direct | – | 0.200 | 0.300 |",
        "| Steady state, per request (200 calls) | GetItem 1 | 0.000 | 0.000 | 1.000 |",
        "| First refresh of a fresh process | 0.00 | GetItem 1, UpdateItem 2 | 1 | 1 |",
        "| Warm, per refresh (30 refreshes) | 5.00 (5.00–6.00) | GetItem 1, UpdateItem 2 | 0.00 | 0.00 |",
        "| 4 | wrk failed | | | | |",
        "| 1000 | **50** (sessions: 50) | 50 of 50 | **0** | 0 | 200×1000 |",
        "| login | 4.00 | – | 4.50 | – |",
    ] {
        assert!(doc.lines().any(|l| l == header), "no line {header:?} in\n{doc}");
    }
    assert!(doc.contains("Target (exactly 1 GetItem, 0 writes, 0 identity-server calls per request): **met**."));
    assert!(doc.contains("A timeout through cargo-lambda's `watch` is the local emulator's"));
    assert!(doc.contains("Refreshes = sessions and no failure: **met**."));
    assert!(doc.trim_end().lines().last().unwrap().starts_with("Load average at the end: "));
}

#[test]
fn skipped_sections_say_why() {
    let run = Run { sections: vec![], bin_dir: Some("/old".into()), machine: vec![], took: Duration::ZERO };
    let doc =
        document(&run, &[Measured::Throughput(throughput::Throughput::NoWrk), Measured::Size(size::Size::BuildFailed)]);
    assert!(doc.contains("Function binaries from `/old`.\n"));
    assert!(doc.contains("## Throughput\n\nSkipped: `wrk` is not installed"));
    assert!(doc.contains("## Size\n\n`cargo lambda build --release --arm64` failed.\n"));
}
