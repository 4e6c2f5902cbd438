//! The budgets the figures are checked against (the `Budget` columns of BENCHMARKS.md), defined once.

/// A function's init: process spawn → its first `GET …/invocation/next`.
pub const READY_MS: f64 = 15.0;
/// A function's peak RSS (`VmHWM`), in bytes (decimal MB, as the budgets are written).
pub const RSS_BYTES: u64 = 40_000_000;
/// A function's deployment zip, in bytes.
pub const ZIP_BYTES: u64 = 5_000_000;

pub fn ready_met(median_ms: f64) -> bool {
    median_ms <= READY_MS
}

pub fn rss_met(peak_bytes: u64) -> bool {
    peak_bytes <= RSS_BYTES
}

pub fn zip_met(bytes: u64) -> bool {
    bytes <= ZIP_BYTES
}

/// A budget in whole megabytes, as the report states it.
pub fn in_mb(bytes: u64) -> u64 {
    bytes / 1_000_000
}
