//! `## Cold start`.

use super::statuses;
use crate::budget;
use crate::measure::cold::{Cold, ColdRow};
use crate::stats::ok;
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, c: &Cold) -> fmt::Result {
    writeln!(out, "## Cold start (release x86_64 binaries, {} runs per function)\n", c.runs)?;
    writeln!(
        out,
        "Process spawn → first `GET …/invocation/next` (**ready**: `main`, config, AWS SDK and HTTP clients built) and \
         → the first invocation's response (**first response**; the event was queued before the spawn). One \
         unreported run per function first warms the page cache. Median (min–max), ms. Budget: ready ≤ \
         {} ms.\n",
        budget::READY_MS
    )?;
    writeln!(out, "| Function | Event | Ready | First response | Status | Budget (ready) |")?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for r in &c.rows {
        row(out, r.function, r.event, r)?;
    }
    let Some(bundle_only) = &c.bundle_only else {
        return Ok(());
    };
    row(
        out,
        "proxy, roots from the bundle file only (`SSL_CERT_FILE`=the bundle, `SSL_CERT_DIR`=an empty directory)",
        "(same)",
        bundle_only,
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "The last row isolates the root-certificate loading: with `SSL_CERT_FILE`/`SSL_CERT_DIR` unset, a function \
         reads the distribution's bundle file alone, once, for all its TLS clients, the AWS SDK's included \
         (shared/src/tls.rs); the row sets them to the same bundle, so both rows should agree.\n"
    )
}

fn row(out: &mut String, function: &str, event: &str, r: &ColdRow) -> fmt::Result {
    writeln!(
        out,
        "| {function} | {event} | {} | {} | {} | {} |",
        r.ready.summary(),
        r.first_response.summary(),
        statuses(&r.statuses),
        ok(budget::ready_met(r.ready.median()))
    )
}
