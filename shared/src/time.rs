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

tokio::task_local! {
    /// When the current Lambda invocation is cut off (`None`: not known).
    static INVOCATION_END: Option<tokio::time::Instant>;
}

/// Deadlines before this (2001-09-09) are not points in time: `cargo lambda watch` sends its own timeout there, as
/// a span (600 000 ms), and is taken at its word.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// Runs `f` as an invocation that Lambda cuts off at `deadline_ms` (milliseconds since the epoch, from the
/// runtime's `Lambda-Runtime-Deadline-Ms`; 0: not known).
pub async fn within_invocation<F: std::future::Future>(deadline_ms: u64, f: F) -> F::Output {
    let end = (deadline_ms > 0).then(|| {
        let left = match deadline_ms {
            span if span < EPOCH_MS_FLOOR => Duration::from_millis(span),
            at => Duration::from_millis(at).saturating_sub(since_epoch()),
        };
        tokio::time::Instant::now() + left
    });
    INVOCATION_END.scope(end, f).await
}

/// How long the current invocation has left before Lambda cuts it off (`None`: not known, e.g. outside
/// [`within_invocation`]). A step that must not be cut off halfway (a refresh lease) checks this first.
pub fn invocation_left() -> Option<Duration> {
    let end = INVOCATION_END.try_with(|end| *end).ok().flatten()?;
    Some(end.saturating_duration_since(tokio::time::Instant::now()))
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

    #[tokio::test]
    async fn invocation_left_counts_down_to_the_deadline() {
        assert_eq!(invocation_left(), None);
        let in_10s = (since_epoch() + Duration::from_secs(10)).as_millis() as u64;
        let left = within_invocation(in_10s, async { invocation_left() }).await.unwrap();
        assert!(left > Duration::from_secs(9) && left <= Duration::from_secs(10), "{left:?}");
        assert_eq!(within_invocation(0, async { invocation_left() }).await, None);
        let past = (since_epoch() - Duration::from_secs(1)).as_millis() as u64;
        assert_eq!(within_invocation(past, async { invocation_left() }).await, Some(Duration::ZERO));
        // cargo lambda watch's 600 s, sent as a span.
        let left = within_invocation(600_000, async { invocation_left() }).await.unwrap();
        assert!(left > Duration::from_secs(599), "{left:?}");
    }
}
