//! Cold start of each function: process spawn → ready (first `next` poll) → first response.

use super::Statuses;
use crate::stack::Ctx;
use crate::stats::Samples;
use serde_json::Value;
use std::time::Duration;
use tests::runtime::{FnProcess, Outcome, RuntimeApi};

pub struct Cold {
    pub runs: usize,
    /// One row per function found in the binaries' directory.
    pub rows: Vec<ColdRow>,
    /// The proxy again, its root certificates from the bundle file only (where the proxy's binary is there).
    pub bundle_only: Option<ColdRow>,
}

pub struct ColdRow {
    pub function: &'static str,
    /// The event, as the report describes it.
    pub event: &'static str,
    pub ready: Samples,
    pub first_response: Samples,
    pub statuses: Statuses,
}

pub async fn run(ctx: &Ctx, runs: usize) -> Cold {
    let mut rows = vec![];
    for name in ctx.present_functions() {
        eprintln!("bench: cold start of {name}");
        let (ev, what) = ctx.load_event(name);
        rows.push(starts(ctx, name, what, &ev, &ctx.env_direct, runs).await);
    }
    let bundle_only = if ctx.binary("proxy").exists() { Some(bundle_only(ctx, runs).await) } else { None };
    Cold { runs, rows, bundle_only }
}

/// The proxy's cold starts with its root certificates from the bundle file only; every answer must be 200.
async fn bundle_only(ctx: &Ctx, runs: usize) -> ColdRow {
    // The root certificates named explicitly (the bundle file, an empty directory), against the default row's own
    // choice of the bundle file (shared/src/tls.rs): a check that the default reads no more than the bundle.
    let empty = ctx.logs.join("empty-cert-dir");
    std::fs::create_dir_all(&empty).unwrap();
    let mut env = ctx.env_direct.clone();
    env.push(("SSL_CERT_DIR".into(), empty.display().to_string()));
    // Setting either variable makes rustls-native-certs read only what they name: keep the bundle file.
    env.push(("SSL_CERT_FILE".into(), "/etc/ssl/certs/ca-certificates.crt".into()));
    let (ev, what) = ctx.load_event("proxy");
    let row = starts(ctx, "proxy", what, &ev, &env, runs).await;
    assert!(row.statuses.keys().all(|s| *s == 200), "proxy, bundle only: {:?}", row.statuses);
    row
}

/// `runs` cold starts of one function with `ev` queued before each spawn, after one unreported run that warms the
/// page cache.
async fn starts(
    ctx: &Ctx,
    name: &'static str,
    what: &'static str,
    ev: &Value,
    env: &[(String, String)],
    runs: usize,
) -> ColdRow {
    let mut row = ColdRow {
        function: name,
        event: what,
        ready: Samples::default(),
        first_response: Samples::default(),
        statuses: Statuses::new(),
    };
    for i in 0..=runs {
        let rt = RuntimeApi::start(name).await.expect("runtime API");
        let rx = rt.submit(ev);
        let p = FnProcess::spawn(name, &ctx.binary(name), rt, env, &ctx.log(name));
        let Some(polled) = p.rt.first_poll(Duration::from_secs(30)).await else {
            panic!("{name} never became ready (init error: {:?})", p.rt.init_error());
        };
        let o: Outcome = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .unwrap_or_else(|_| panic!("{name}: no first response"))
            .expect("outcome");
        if i > 0 {
            row.ready.push(polled - p.spawned);
            row.first_response.push(o.done - p.spawned);
            super::tally(&mut row.statuses, o.status());
        }
    }
    row
}
