//! `## Streamed answers: 1, 20 and 50 MB`.

use crate::measure::stream::{CALLS, Stream};
use crate::stats::ms;
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, s: &Stream) -> fmt::Result {
    writeln!(out, "## Streamed answers: 1, 20 and 50 MB ({CALLS} calls per size and way, after a warm-up)\n")?;
    writeln!(
        out,
        "The emulator pads its customers answer to the size (`apiResponseBytes`). Direct: a GET of the emulator's API \
         with demo's bearer token. Through the front door: the same GET through the local front door \
         (`infra/front-door.js`, as CloudFront and the proxy's function URL) in front of cargo-lambda's \
         `watch --release` (the proxy function streaming, its JSON through the link rewriter). Medians; TTFB = first body byte. \
         Peak RSS: `VmHWM` of the proxy process after that size's calls (sizes in increasing order).\n"
    )?;
    writeln!(
        out,
        "| Answer | Direct TTFB / total (ms) | Front door TTFB / total (ms) | Bytes direct / front door | Proxy peak RSS (MB) |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for r in &s.rows {
        writeln!(
            out,
            "| {} | {} / {} | {} / {} | {} / {} | {:.1} |",
            r.label,
            ms(r.direct_ttfb.median()),
            ms(r.direct_total.median()),
            ms(r.bff_ttfb.median()),
            ms(r.bff_total.median()),
            r.bytes_direct,
            r.bytes_bff,
            r.proxy_hwm_kib as f64 / 1024.0
        )?;
    }
    Ok(())
}
