//! `## Peak memory and warm latency per function`.

use super::statuses;
use crate::budget;
use crate::measure::memory::Memory;
use crate::stats::{mb, ms, ok};
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, m: &Memory) -> fmt::Result {
    writeln!(out, "## Peak memory and warm latency per function ({} sequential invocations each)\n", m.load)?;
    writeln!(
        out,
        "One process per function under the runtime-API harness; peak RSS is `VmHWM` from `/proc/<pid>/status` \
         after the load. Duration is the function's own time per invocation (event handed out → response \
         received), as Lambda bills it. Budget: peak RSS ≤ {} MB.\n",
        budget::in_mb(budget::RSS_BYTES)
    )?;
    writeln!(out, "| Function | Event | Peak RSS (MB) | RSS after (MB) | Duration p50 / p99 (ms) | Status | Budget |")?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for r in &m.rows {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} / {} | {} | {} |",
            r.function,
            r.event,
            mb(r.peak_rss),
            mb(r.rss_after),
            ms(r.duration.median()),
            ms(r.duration.pct(99.0)),
            statuses(&r.statuses),
            ok(budget::rss_met(r.peak_rss))
        )?;
    }
    Ok(())
}
