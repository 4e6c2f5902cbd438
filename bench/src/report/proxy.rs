//! `## Proxy hot path`.

use super::{ddb_ops, p50_p99_range};
use crate::counters::Counts;
use crate::functions::CUSTOMERS;
use crate::measure::proxy::{CpuRun, Proxy};
use crate::stats::{mb, ms, ok};
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, p: &Proxy) -> fmt::Result {
    latency(out, p)?;
    cpu(out, p)?;
    writeln!(out, "Peak RSS of this proxy process after {} calls: {} MB.\n", p.hot_calls(), mb(p.peak_rss))?;
    counted(out, p)
}

fn latency(out: &mut String, p: &Proxy) -> fmt::Result {
    writeln!(out, "## Proxy hot path (`GET {CUSTOMERS}`)\n")?;
    writeln!(
        out,
        "The release `proxy` under the runtime-API harness (warm: 50 calls first), against a direct call to the same \
         API URL with the same bearer token (reqwest, keep-alive), interleaved call by call in the same run, \
         {} each. **BFF** = the function's duration (event handed out → response received: cookie → \
         GetItem → decrypt → upstream call → link rewrite → response); *via harness* adds the local runtime API's \
         own HTTP hops. Response body: {} bytes through the BFF, {} bytes direct.\n",
        p.calls, p.body_bff, p.body_direct
    )?;
    writeln!(out, "| | p50 (ms) | p99 (ms) | min–max (ms) |")?;
    writeln!(out, "|---|---|---|---|")?;
    writeln!(out, "| Direct call to the API | {} |", p50_p99_range(&p.direct))?;
    writeln!(out, "| Through the BFF (function duration) | {} |", p50_p99_range(&p.bff))?;
    writeln!(out, "| Through the BFF (via harness) | {} |", p50_p99_range(&p.bff_harness))?;
    let (bff, direct) = (&p.bff, &p.direct);
    writeln!(
        out,
        "| **BFF-added** (BFF − direct) | **{}** | **{}** | |",
        ms(bff.median() - direct.median()),
        ms(bff.pct(99.0) - direct.pct(99.0))
    )?;
    writeln!(
        out,
        "| **Ratio** BFF / direct | **{:.2}×** | **{:.2}×** | |\n",
        bff.median() / direct.median(),
        bff.pct(99.0) / direct.pct(99.0)
    )
}

fn cpu(out: &mut String, p: &Proxy) -> fmt::Result {
    writeln!(
        out,
        "CPU per call (utime+stime from `/proc/<pid>/stat`, {} sequential calls each, USER_HZ {}):\n",
        p.calls, p.hz
    )?;
    writeln!(out, "| Run | BFF process CPU/call (ms) | Emulator (upstream API) CPU/call (ms) | Wall time/call (ms) |")?;
    writeln!(out, "|---|---|---|---|")?;
    cpu_row(out, "Through the BFF", &p.cpu_bff)?;
    cpu_row(out, "Direct", &p.cpu_direct)?;
    writeln!(out)
}

fn cpu_row(out: &mut String, run: &str, c: &CpuRun) -> fmt::Result {
    let bff = c.bff_ms.map(|v| format!("{v:.3}")).unwrap_or("–".into());
    writeln!(out, "| {run} | {bff} | {:.3} | {:.3} |", c.emulator_ms, c.wall_ms)
}

fn counted(out: &mut String, p: &Proxy) -> fmt::Result {
    let c = &p.counted;
    writeln!(out, "Calls per proxied request, counted (ddb-proxy operation counters; emulator stats):\n")?;
    writeln!(out, "| | DynamoDB operations | DynamoDB writes | Identity-server calls | API calls |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    let Counts { ddb, upstream } = &c.first_counts;
    writeln!(
        out,
        "| First call of a fresh process | {} | {} | {} | {} |",
        ddb_ops(ddb, 1),
        ddb.writes(),
        upstream.idp,
        upstream.api
    )?;
    let Counts { ddb, upstream } = &c.warm_counts;
    let per = |v: f64| v / c.n as f64;
    writeln!(
        out,
        "| Steady state, per request ({} calls) | {} | {:.3} | {:.3} | {:.3} |\n",
        c.n,
        ddb_ops(ddb, c.n),
        per(ddb.writes() as f64),
        per(upstream.idp as f64),
        per(upstream.api as f64)
    )?;
    writeln!(
        out,
        "Target (exactly 1 GetItem, 0 writes, 0 identity-server calls per request): {}. Identity-server calls are the \
         emulator's counters (token, authorize, userinfo, revocation, end session); discovery and JWKS fetches are \
         not counted there.\n",
        ok(p.target_met())
    )
}
