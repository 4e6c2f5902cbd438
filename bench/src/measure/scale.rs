//! Concurrent refresh at scale: expired sessions hit at once over four runtimes of the harness's debug build.

use super::Statuses;
use crate::counters::{DdbCounts, Upstream};
use crate::functions::CUSTOMERS;
use crate::stats::Samples;
use std::time::{Duration, Instant};
use tests::{Browser, Options, TestApp, spawn_app_with};

/// Sessions (demo and alice alternately), calls per session, the access tokens' lifetime (s), runtimes.
pub const SESSIONS: usize = 50;
pub const PER_SESSION: usize = 20;
pub const TOKEN_TTL: u64 = 20;
pub const RUNTIMES: usize = 4;
/// Calls in flight at the most.
pub const IN_FLIGHT: usize = 100;

pub struct Scale {
    pub sessions: usize,
    pub per_session: usize,
    pub ttl: u64,
    /// How long signing every session in took.
    pub sign_in: Duration,
    pub calls: usize,
    /// Refresh-token grants at the emulator during the storm.
    pub refreshes: i64,
    /// Session items in the table, and those at version 2 (refreshed once).
    pub versions: usize,
    pub at_v2: usize,
    /// Non-200 answers, and 200s that answered for another user.
    pub failures: usize,
    pub mixed: usize,
    pub statuses: Statuses,
    pub wall: Duration,
    pub latency: Samples,
    pub ddb: DdbCounts,
}

impl Scale {
    /// One refresh per session, no failure, no answer for another user.
    pub fn passed(&self) -> bool {
        self.refreshes == self.sessions as i64 && self.failures == 0 && self.mixed == 0
    }
}

pub async fn run() -> Scale {
    let (sessions, per_session) = (SESSIONS, PER_SESSION);
    let app = start_runtimes().await;
    let origins = app.runtime_origins();
    eprintln!("bench: signing in {sessions} sessions");
    let t = Instant::now();
    let mut browsers = vec![];
    for i in 0..sessions {
        let user = if i % 2 == 0 { "demo" } else { "alice" };
        let mut b = Browser::new();
        app.sign_in(&mut b, user, user).await;
        browsers.push((b, user));
    }
    let sign_in = t.elapsed();
    app.wait_access_tokens_expired().await;
    app.ddb_reset().await;
    let s0 = app.emulator_stats().await;

    eprintln!("bench: {} calls over {sessions} expired sessions", sessions * per_session);
    let started = Instant::now();
    let calls = tests::storm(&browsers, &origins, per_session, CUSTOMERS, IN_FLIGHT).await;
    let wall = started.elapsed();
    let s1 = app.emulator_stats().await;
    let ddb = DdbCounts::from_stats(&app.ddb_stats().await);
    let mut latency = Samples::default();
    let mut statuses = Statuses::new();
    for c in &calls {
        latency.push(c.elapsed);
        super::tally(&mut statuses, c.status);
    }
    let failures = calls.iter().filter(|c| c.status != 200).count();
    let mixed = calls.iter().filter(|c| c.status == 200 && c.who != c.expected).count();
    let refreshes = Upstream::between(&s0, &s1).refresh_grants;
    let versions: Vec<i64> = app
        .session_items()
        .await
        .iter()
        .filter_map(|i| {
            i.get(shared::session::store::attr::VER).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
        })
        .collect();
    let at_v2 = versions.iter().filter(|v| **v == 2).count();
    let (calls, versions) = (calls.len(), versions.len());
    Scale {
        sessions,
        per_session,
        ttl: TOKEN_TTL,
        sign_in,
        calls,
        refreshes,
        versions,
        at_v2,
        failures,
        mixed,
        statuses,
        wall,
        latency,
        ddb,
    }
}

/// A stack with short-lived access tokens and [`RUNTIMES`] runtimes, each runtime's proxy process started (an
/// anonymous call: 401).
async fn start_runtimes() -> TestApp {
    eprintln!("bench: concurrent refresh at scale: starting a stack with {RUNTIMES} runtimes");
    let mut app = spawn_app_with(Options {
        access_token_ttl: TOKEN_TTL,
        bff_env: vec![("REFRESH_SKEW".into(), "1".into())],
        ddb_proxy: true,
        ..Options::default()
    })
    .await;
    for _ in 1..RUNTIMES {
        app.spawn_runtime().await;
    }
    for o in &app.runtime_origins() {
        let mut b = Browser::new();
        let r = b.request(reqwest::Method::GET, &format!("{o}{CUSTOMERS}"), &[("x-csrf", "1")], None).await;
        assert_eq!(r.status, 401, "warm-up: {}", r.text());
    }
    app
}
