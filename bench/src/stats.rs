//! Small helpers: percentiles over samples, number formatting, `/proc` and machine facts.

use std::time::Duration;

/// Latency samples in milliseconds.
#[derive(Default, Clone)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    }
    /// Nearest-rank percentile (p in 0..=100); NaN when empty.
    pub fn pct(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    }
    pub fn median(&self) -> f64 {
        self.pct(50.0)
    }
    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }
    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }
    /// `median (min–max)`.
    pub fn summary(&self) -> String {
        if self.0.is_empty() {
            return "–".into();
        }
        format!("{} ({}–{})", ms(self.median()), ms(self.min()), ms(self.max()))
    }
}

/// A millisecond figure with a precision that fits its size.
pub fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Decimal megabytes (10^6 bytes), as the budgets are written.
pub fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

pub fn ok(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

/// Clock ticks per second for `/proc/<pid>/stat` (USER_HZ).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn command(prog: &str, args: &[&str]) -> String {
    std::process::Command::new(prog)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The machine, for the report's header.
pub fn machine() -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let root = tests::repo_root();
    let root = root.to_str().unwrap_or(".");
    let rev = command("git", &["-C", root, "rev-parse", "--short", "HEAD"]);
    let dirty = !command("git", &["-C", root, "status", "--porcelain", "--untracked-files=no"]).is_empty();
    vec![
        ("CPU".into(), format!("{} × {cpu}", command("nproc", &[]))),
        ("Memory".into(), mem),
        ("Kernel".into(), command("uname", &["-r"])),
        ("Rust".into(), command("rustc", &["-V"])),
        ("Commit".into(), format!("{rev}{}", if dirty { " + uncommitted changes" } else { "" })),
        ("Load average at start (1/5/15 min)".into(), loadavg()),
    ]
}
