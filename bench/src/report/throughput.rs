//! `## Throughput of one instance` and `### Latency vs response size`.

use super::statuses;
use crate::budget;
use crate::functions::CUSTOMERS;
use crate::measure::throughput::{Measured, SizeRow, Throughput};
use crate::stats::{mb, ms, ok};
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, t: &Throughput) -> fmt::Result {
    let Throughput::Measured(m) = t else {
        return writeln!(out, "## Throughput\n\nSkipped: `wrk` is not installed (`apt-get install -y wrk`).");
    };
    connections(out, m)?;
    sizes(out, m)
}

fn connections(out: &mut String, m: &Measured) -> fmt::Result {
    writeln!(out, "## Throughput of one instance (wrk → cargo-lambda's `watch --release` → proxy)\n")?;
    writeln!(
        out,
        "`wrk -t1 -c<C> -d10s --latency -H 'X-CSRF: 1' -H 'Cookie: <session>' {}{CUSTOMERS}`; one \
         execution environment (`--concurrency 1`: Lambda gives one request at a time to an environment, so \
         extra connections queue). cargo lambda's own runtime API and HTTP front door are in the path.\n",
        m.origin
    )?;
    writeln!(out, "| Connections | Requests/s | p50 | p99 | Requests | Errors |")?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for (c, w) in &m.by_connections {
        match w {
            Some(w) => writeln!(out, "| {c} | {:.0} | {} | {} | {} | {} |", w.rps, w.p50, w.p99, w.requests, w.errors),
            None => writeln!(out, "| {c} | wrk failed | | | | |"),
        }?;
    }
    writeln!(out)
}

fn sizes(out: &mut String, m: &Measured) -> fmt::Result {
    writeln!(out, "### Latency vs response size\n")?;
    writeln!(
        out,
        "The emulator pads the collection response (`apiResponseBytes`). Direct and BFF (release proxy under the \
         runtime-API harness, function duration) interleaved, 20 calls each after 2 warm-ups, median (min–max) ms. \
         Then through cargo-lambda's `watch --release`: 50 sequential calls (5 s timeout each; stops after 3 \
         timeouts), and wrk -c1 -d10s --timeout 5s.\n"
    )?;
    writeln!(
        out,
        "| Size | Body (bytes) | Direct | BFF | BFF − direct (p50) | Ratio (p50) | Via watch, sequential (statuses) | \
         Via watch, wrk: req/s, p50, p99 |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for r in &m.by_size {
        size_row(out, r)?;
    }
    if m.stalled() {
        writeln!(
            out,
            "\nA timeout through cargo-lambda's `watch` is the local emulator's: the function's own log \
             (target/bench/watch.log) shows it answered every invocation it got with 200, in the time of the BFF \
             column, but the answer never reached the client: those figures measure the local emulator, not the BFF."
        )?;
    }
    writeln!(
        out,
        "\nPeak RSS of that proxy process after the 5 MB responses: **{} MB** (budget {} MB: {}).\n",
        mb(m.peak_rss),
        budget::in_mb(budget::RSS_BYTES),
        ok(budget::rss_met(m.peak_rss))
    )
}

fn size_row(out: &mut String, r: &SizeRow) -> fmt::Result {
    let w = r.watch_wrk.as_ref();
    let w = w.map(|w| format!("{:.0}, {}, {} ({} errors)", w.rps, w.p50, w.p99, w.errors)).unwrap_or("–".into());
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {:.2}× | {} ({}) | {w} |",
        r.label,
        r.body,
        r.direct.summary(),
        r.bff.summary(),
        ms(r.bff.median() - r.direct.median()),
        r.bff.median() / r.direct.median(),
        r.watch.summary(),
        statuses(&r.watch_answers)
    )
}
