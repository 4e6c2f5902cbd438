//! `## Lambda Managed Instances`.

use crate::measure::managed::Managed;
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, m: &Managed) -> fmt::Result {
    writeln!(out, "## Lambda Managed Instances: one process, several invocations at once ({} calls each)\n", m.calls)?;
    writeln!(
        out,
        "The proxy's hot-path call (a valid session), one process under the runtime-API harness with \
         `AWS_LAMBDA_MAX_CONCURRENCY` = N (N > 1: a multi-thread runtime and N polling workers; 1: the classic \
         single-thread, one-event-at-a-time model), the harness keeping max(N, 4) calls in flight. Per core = calls ÷ \
         the process's CPU seconds (utime+stime, USER_HZ {}): what one core would serve were it the process's alone.\n",
        m.hz
    )?;
    writeln!(
        out,
        "| AWS_LAMBDA_MAX_CONCURRENCY | In flight | 200s | Wall (s) | Requests/s | CPU (s) | Requests/s per core |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for r in &m.rows {
        writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.0} |",
            r.concurrency,
            r.in_flight,
            r.ok,
            r.wall_s,
            r.per_second(m.calls),
            r.cpu_s,
            r.per_core_second(m.calls)
        )?;
    }
    Ok(())
}
