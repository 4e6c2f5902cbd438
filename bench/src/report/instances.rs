//! `## Many ERP.net instances`.

use crate::measure::instances::Instances;
use crate::stats::ms;
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, m: &Instances) -> fmt::Result {
    writeln!(out, "## Many ERP.net instances: the registry off, and on with 1 and 100 instances\n")?;
    writeln!(
        out,
        "The proxy under the runtime-API harness, demo's `GET …Customers?$top=10`: on the app's own host with \
         `INSTANCE_REGISTRY` off, and on `acme.localhost` with it on and 1 or 100 instances registered. {} rounds, \
         each mode once per round (a fresh process each: ready, then the first answer, which reads the registry \
         entry; then {} warm calls). Medians (min–max); CPU per warm call over all rounds (USER_HZ {}).\n",
        m.runs, m.calls, m.hz
    )?;
    writeln!(out, "| Mode | Registered | Ready | First answer | Warm call (function) | CPU per warm call |")?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for r in &m.rows {
        let registered = if r.registered == 0 { "–".to_string() } else { r.registered.to_string() };
        writeln!(
            out,
            "| {} | {registered} | {} | {} | {} | {} |",
            r.mode,
            r.ready.summary(),
            r.first.summary(),
            r.hot.summary(),
            ms(r.cpu_ms)
        )?;
    }
    Ok(())
}
