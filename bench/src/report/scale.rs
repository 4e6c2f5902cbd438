//! `## Concurrent refresh at scale`.

use super::{ddb_ops, statuses};
use crate::measure::scale::{IN_FLIGHT, RUNTIMES, Scale};
use crate::stats::{ms, ok};
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, s: &Scale) -> fmt::Result {
    writeln!(out, "## Concurrent refresh at scale\n")?;
    writeln!(
        out,
        "{} sessions (demo and alice alternately, signed in through the real flow in {:.1} s), access tokens \
         of {} s (`REFRESH_SKEW=1`), all expired; then {} proxied GETs ({} per session) at once, at \
         most {IN_FLIGHT} in flight, round-robin over **{RUNTIMES} runtimes** (the harness's cargo-lambda's `watch` + \
         `spawn_runtime` ×{}: independent execution environments of the debug build; each runtime's proxy \
         started beforehand).\n",
        s.sessions,
        s.sign_in.as_secs_f64(),
        s.ttl,
        s.calls,
        s.per_session,
        RUNTIMES - 1
    )?;
    writeln!(
        out,
        "| Calls | Refreshes (token endpoint) | Sessions at version 2 | Failures | Answers for another user | Statuses |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    writeln!(
        out,
        "| {} | **{}** (sessions: {}) | {} of {} | **{}** | {} | {} |\n",
        s.calls,
        s.refreshes,
        s.sessions,
        s.at_v2,
        s.versions,
        s.failures,
        s.mixed,
        statuses(&s.statuses)
    )?;
    let total = s.ddb.total;
    writeln!(
        out,
        "Wall time {:.1} s ({:.0} calls/s); latency p50 {} ms, p99 {} ms, max {} ms. DynamoDB operations during the \
         storm: {} (total {total}), i.e. {:.2} per call. Refreshes = sessions and no failure: {}.\n",
        s.wall.as_secs_f64(),
        s.calls as f64 / s.wall.as_secs_f64(),
        ms(s.latency.median()),
        ms(s.latency.pct(99.0)),
        ms(s.latency.max()),
        ddb_ops(&s.ddb, 1),
        total as f64 / s.calls as f64,
        ok(s.passed())
    )
}
