//! `## Refresh path`.

use super::ddb_ops;
use crate::measure::refresh::Refresh;
use crate::stats::ms;
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, r: &Refresh) -> fmt::Result {
    let c = &r.0;
    writeln!(out, "## Refresh path (`POST /auth/refresh`)\n")?;
    writeln!(
        out,
        "The release `refresh` function under the runtime-API harness, DynamoDB through the counting ddb-proxy \
         (which adds a Node hop to each DynamoDB call). The first call of a fresh process also fetches discovery.\n"
    )?;
    writeln!(out, "| | Duration (ms) | DynamoDB operations | Identity-server calls | of which refresh grants |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    let (ddb, up) = (&c.first_counts.ddb, &c.first_counts.upstream);
    writeln!(
        out,
        "| First refresh of a fresh process | {} | {} | {} | {} |",
        ms(c.first.duration().as_secs_f64() * 1000.0),
        ddb_ops(ddb, 1),
        up.idp,
        up.refresh_grants
    )?;
    let (ddb, up) = (&c.warm_counts.ddb, &c.warm_counts.upstream);
    writeln!(
        out,
        "| Warm, per refresh ({} refreshes) | {} | {} | {:.2} | {:.2} |\n",
        c.n,
        c.warm.summary(),
        ddb_ops(ddb, c.n),
        up.idp as f64 / c.n as f64,
        up.refresh_grants as f64 / c.n as f64
    )
}
