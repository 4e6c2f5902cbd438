//! Wall-clock time as types: an instant is a [`UnixTime`] (whole seconds since the Unix epoch, as stored and as
//! shown to the SPA) or a [`UnixMillis`] (the refresh lease); a span is a `std::time::Duration`. Seconds and
//! milliseconds never meet as bare integers.

use std::ops::{Add, Sub};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Whole seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixTime(i64);

impl UnixTime {
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }
    pub fn now() -> Self {
        Self(since_epoch().as_secs() as i64)
    }
    pub const fn secs(self) -> i64 {
        self.0
    }
    /// How long after `earlier` this is (zero when it is not later).
    pub fn since(self, earlier: UnixTime) -> Duration {
        Duration::from_secs(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
    /// RFC 3339 in UTC, e.g. `2026-11-25T10:00:00Z`.
    pub fn rfc3339(self) -> String {
        use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
        DateTime::from_secs(self.0).fmt(DateTimeFormat::DateTime).unwrap_or_default()
    }
}

/// Whole seconds of the span are added (sub-second parts are dropped).
impl Add<Duration> for UnixTime {
    type Output = UnixTime;
    fn add(self, d: Duration) -> UnixTime {
        UnixTime(self.0 + d.as_secs() as i64)
    }
}

impl Sub<Duration> for UnixTime {
    type Output = UnixTime;
    fn sub(self, d: Duration) -> UnixTime {
        UnixTime(self.0 - d.as_secs() as i64)
    }
}

/// Milliseconds since the Unix epoch (0: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct UnixMillis(i64);

impl UnixMillis {
    pub const NEVER: UnixMillis = UnixMillis(0);
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub fn now() -> Self {
        Self(since_epoch().as_millis() as i64)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
}

impl Add<Duration> for UnixMillis {
    type Output = UnixMillis;
    fn add(self, d: Duration) -> UnixMillis {
        UnixMillis(self.0 + d.as_millis() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(UnixTime::from_secs(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(UnixTime::from_secs(1_795_000_000).rfc3339(), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn arithmetic_keeps_units_apart() {
        let t = UnixTime::from_secs(100);
        assert_eq!((t + Duration::from_millis(1500)).secs(), 101);
        assert_eq!((t - Duration::from_secs(40)).secs(), 60);
        assert_eq!(t.since(UnixTime::from_secs(40)), Duration::from_secs(60));
        assert_eq!(UnixTime::from_secs(40).since(t), Duration::ZERO);
        assert_eq!((UnixMillis::from_millis(5) + Duration::from_secs(1)).millis(), 1005);
    }
}
