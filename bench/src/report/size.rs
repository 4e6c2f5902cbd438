//! `## Size`.

use crate::budget;
use crate::measure::size::Size;
use crate::stats::{mb, ok};
use std::fmt::{self, Write as _};

pub fn render(out: &mut String, s: &Size) -> fmt::Result {
    let Size::Measured(rows) = s else {
        return writeln!(out, "## Size\n\n`cargo lambda build --release --arm64` failed.");
    };
    writeln!(out, "## Size (arm64 release, as deployed)\n")?;
    writeln!(
        out,
        "`cargo lambda build --release --arm64 --output-format zip -p <each function>` (release profile: `strip = \
         true`). `bootstrap` = target/aarch64-unknown-linux-gnu/release/<fn>; zip = target/lambda/<fn>/bootstrap.zip. \
         x86_64 binary for comparison. MB = 10^6 bytes. Budget: zip ≤ {} MB.\n",
        budget::in_mb(budget::ZIP_BYTES)
    )?;
    writeln!(out, "| Function | arm64 bootstrap (MB) | arm64 zip (MB) | x86_64 binary (MB) | Budget |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    let show = |v: Option<u64>| v.map(mb).unwrap_or("–".into());
    for r in rows {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.function,
            show(r.bootstrap),
            show(r.zip),
            show(r.x86_64),
            r.zip.map(|z| ok(budget::zip_met(z))).unwrap_or("–")
        )?;
    }
    Ok(())
}
