//! `## Side by side with the Node.js peer` (`--peer`): the sections both sides ran, as one table with the ratios,
//! then the peer's own tables.

use crate::measure::{Measured, Versus};
use crate::stats::ms;
use std::fmt::{self, Write as _};

/// The headline figures of one side (NaN where its section did not run).
struct Side {
    ready: f64,
    first_response: f64,
    peak_rss_mb: f64,
    proxy_p50: f64,
    added_p50: f64,
    cpu_per_call: f64,
    proxy_rss_mb: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { f64::NAN } else { v[(v.len() - 1) / 2] }
}

fn side<'a>(measured: impl Iterator<Item = &'a Measured>) -> Side {
    let nan = f64::NAN;
    let mut s = Side {
        ready: nan,
        first_response: nan,
        peak_rss_mb: nan,
        proxy_p50: nan,
        added_p50: nan,
        cpu_per_call: nan,
        proxy_rss_mb: nan,
    };
    for m in measured {
        match m {
            Measured::Cold(c) => {
                s.ready = median(c.rows.iter().map(|r| r.ready.median()).collect());
                s.first_response = median(c.rows.iter().map(|r| r.first_response.median()).collect());
            }
            Measured::Memory(m) => s.peak_rss_mb = median(m.rows.iter().map(|r| r.peak_rss as f64 / 1e6).collect()),
            Measured::Proxy(p) => {
                s.proxy_p50 = p.bff.median();
                s.added_p50 = p.bff.median() - p.direct.median();
                s.cpu_per_call = p.cpu_bff.bff_ms.unwrap_or(nan);
                s.proxy_rss_mb = p.peak_rss as f64 / 1e6;
            }
            _ => {}
        }
    }
    s
}

pub fn render(out: &mut String, results: &[Measured], v: &Versus) -> fmt::Result {
    let ours = side(results.iter());
    let peer = side(v.peer.iter());
    writeln!(out, "## Side by side with the Node.js peer\n")?;
    writeln!(
        out,
        "The same sections, the same local stack, the same events: each section ran on our release binaries and right \
         after on the peer's executables (`{}`). Ratio = peer ÷ ours (how many times better ours is).\n",
        v.peer_dir.display()
    )?;
    writeln!(out, "| Figure | Ours | Node peer | Ratio | Target |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    let rows: [(&str, f64, f64, &str, &str); 7] = [
        ("ready, median of the functions' medians", ours.ready, peer.ready, "ms", "≥ 40×"),
        ("first response, median of the functions' medians", ours.first_response, peer.first_response, "ms", ""),
        ("peak RSS after the load, median of the functions", ours.peak_rss_mb, peer.peak_rss_mb, "MB", ""),
        ("proxy: function duration p50", ours.proxy_p50, peer.proxy_p50, "ms", ""),
        ("proxy: BFF-added latency p50 (duration − direct call)", ours.added_p50, peer.added_p50, "ms", ""),
        ("proxy: CPU per proxied call", ours.cpu_per_call, peer.cpu_per_call, "ms", "≥ 10×"),
        ("proxy: peak RSS of the hot process", ours.proxy_rss_mb, peer.proxy_rss_mb, "MB", ""),
    ];
    for (what, o, p, unit, target) in rows {
        if o.is_nan() && p.is_nan() {
            continue;
        }
        writeln!(out, "| {what} | {} {unit} | {} {unit} | {} | {target} |", ms(o), ms(p), ratio(o, p))?;
    }
    writeln!(out, "\n### The peer's own tables\n")?;
    for m in &v.peer {
        super::section(out, results, m)?;
        writeln!(out)?;
    }
    Ok(())
}

/// `12.3×`, or `–` where either side is missing.
fn ratio(ours: f64, peer: f64) -> String {
    if ours.is_nan() || peer.is_nan() || ours <= 0.0 { "–".into() } else { format!("{:.1}×", peer / ours) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ratios_and_medians() {
        assert_eq!(super::ratio(2.0, 50.0), "25.0×");
        assert_eq!(super::ratio(f64::NAN, 50.0), "–");
        assert_eq!(super::median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(vec![4.0, 1.0, 3.0, 2.0]), 2.0);
        assert!(super::median(vec![]).is_nan());
    }
}
