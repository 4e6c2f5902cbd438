//! Load storms: many browsers calling at once, for the race tests, the soak and the scale benchmark.

use crate::Browser;
use reqwest::Method;
use std::time::{Duration, Instant};

/// One call of a [`storm`].
#[derive(Debug, Clone)]
pub struct Call {
    pub status: u16,
    /// The user the API answered for (`@emulator.user`), or the body of a failure.
    pub who: String,
    pub expected: &'static str,
    pub elapsed: Duration,
}

/// Fires `calls` GETs of `path` per browser at once, at most `in_flight` at a time, spread round-robin over
/// `origins` (several runtimes = several execution environments).
///
/// The cap: with several hundred requests parked in one `cargo lambda watch` runtime at once, the runtime stopped
/// dispatching invocations to its (idle) function processes — a limit of the local emulator, not of Lambda.
pub async fn storm(
    browsers: &[(Browser, &'static str)],
    origins: &[String],
    calls: usize,
    path: &str,
    in_flight: usize,
) -> Vec<Call> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut set = tokio::task::JoinSet::new();
    let mut n = 0;
    for _ in 0..calls {
        for (b, expected) in browsers {
            let mut b = b.clone();
            let url = format!("{}{path}", origins[n % origins.len()]);
            let expected = *expected;
            n += 1;
            let gate = gate.clone();
            set.spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let t = Instant::now();
                let r = b.request(Method::GET, &url, &[("x-csrf", "1")], None).await;
                let who = if r.status == 200 {
                    r.json()["@emulator.user"].as_str().unwrap_or("").to_string()
                } else {
                    r.text()
                };
                Call { status: r.status, who, expected, elapsed: t.elapsed() }
            });
        }
    }
    set.join_all().await
}
