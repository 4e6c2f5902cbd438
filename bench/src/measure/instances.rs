//! Many ERP.net instances (`INSTANCE_REGISTRY=true`): the proxy's cold start, first call and hot path with the
//! registry off (one instance), and on with 1 and with 100 registered instances, measured side by side in rounds.
//! A stack of its own (`tests::Options::instances`: the harness's acme and globex), demo signed in on each host.

use crate::functions::{CUSTOMERS, event};
use crate::stats::Samples;
use shared::http::cookies::SESSION;
use std::path::Path;
use std::time::Duration;
use tests::instances::entry;
use tests::runtime::{FnProcess, RuntimeApi};
use tests::{Browser, Options, TestApp, spawn_app_with};

pub struct Instances {
    pub runs: usize,
    pub calls: usize,
    pub hz: u64,
    pub rows: Vec<Row>,
}

pub struct Row {
    pub mode: &'static str,
    /// Instances in the registry (0: the registry is off).
    pub registered: usize,
    pub ready: Samples,
    /// Spawn → the first proxied answer (the registry read, the session read, the API call).
    pub first: Samples,
    /// The function's duration of the warm calls.
    pub hot: Samples,
    /// CPU per warm call, ms (all rounds).
    pub cpu_ms: f64,
}

const MODES: [(&str, usize); 3] = [("registry off (one instance)", 0), ("registry on", 1), ("registry on", 100)];

pub async fn run(bin_dir: &Path, runs: usize, calls: usize) -> Instances {
    eprintln!("bench: instances, a stack with acme and globex");
    let app = spawn_app_with(Options { instances: true, ..Options::default() }).await;
    let default_cookie = sign_in(&app, &app.origin(), "localhost").await;
    let acme = app.instance_origin("acme");
    let acme_cookie = sign_in(&app, &acme, "acme.localhost").await;
    let env_on = app.function_env();
    let env_off: Vec<_> = env_on.iter().filter(|(k, _)| k != "INSTANCE_REGISTRY").cloned().collect();
    let logs = tests::repo_root().join("target").join("bench");
    std::fs::create_dir_all(&logs).unwrap();
    let host = |o: &str| o.trim_start_matches("http://").to_string();
    let mut rows: Vec<Row> = MODES
        .iter()
        .map(|(mode, n)| Row {
            mode,
            registered: *n,
            ready: Samples::default(),
            first: Samples::default(),
            hot: Samples::default(),
            cpu_ms: 0.0,
        })
        .collect();
    let mut ticks = vec![0u64; rows.len()];
    // Rounds, each mode once per round, so every mode sees the same machine.
    for _ in 0..runs {
        for (i, row) in rows.iter_mut().enumerate() {
            let (env, ev) = match row.registered {
                0 => (&env_off, event(&host(&app.origin()), "GET", CUSTOMERS, Some(&default_cookie), true)),
                n => {
                    registry_of(&app, n).await;
                    (&env_on, event(&host(&acme), "GET", CUSTOMERS, Some(&acme_cookie), true))
                }
            };
            ticks[i] += one_process(bin_dir, &logs, env, &ev, calls, row).await;
        }
    }
    let hz = crate::stats::clock_ticks();
    for (row, t) in rows.iter_mut().zip(ticks) {
        row.cpu_ms = t as f64 * 1000.0 / hz as f64 / (runs * calls) as f64;
    }
    Instances { runs, calls, hz, rows }
}

/// One cold process: ready, first answer, then `calls` warm ones; returns the warm calls' CPU ticks.
async fn one_process(
    bin: &Path,
    logs: &Path,
    env: &[(String, String)],
    ev: &serde_json::Value,
    calls: usize,
    row: &mut Row,
) -> u64 {
    let rt = RuntimeApi::start("proxy").await.expect("runtime API");
    let rx = rt.submit(ev);
    let p = FnProcess::spawn("proxy", &bin.join("proxy"), rt, env, &logs.join("instances-proxy.log"));
    let polled = p.rt.first_poll(Duration::from_secs(30)).await.expect("the proxy became ready");
    let first = tokio::time::timeout(Duration::from_secs(60), rx).await.expect("a first answer").expect("outcome");
    assert_eq!(first.status(), 200, "{}: {}", row.mode, first.json());
    row.ready.push(polled - p.spawned);
    row.first.push(first.done - p.spawned);
    for _ in 0..10 {
        p.call(ev).await;
    }
    let before = p.cpu_ticks();
    for _ in 0..calls {
        let o = p.call(ev).await;
        assert_eq!(o.status(), 200);
        row.hot.push(o.duration());
    }
    p.cpu_ticks() - before
}

/// Exactly `n` instances registered: acme (the emulator) and `n - 1` others (globex removed).
async fn registry_of(app: &TestApp, n: usize) {
    let acme = entry(app.emulator.port, "env:BFF_SECRET_ACME");
    app.register("acme", &acme).await;
    app.deregister("globex").await;
    for i in 1..100 {
        let key = format!("bench-{i:03}");
        if i < n {
            app.register(&key, &entry(app.emulator.port, "env:BFF_SECRET_ACME")).await;
        } else {
            app.deregister(&key).await;
        }
    }
    assert_eq!(app.registry().all().await.expect("registry").len(), n);
}

async fn sign_in(app: &TestApp, origin: &str, cookie_host: &str) -> String {
    let mut b = Browser::new();
    app.sign_in_at(origin, &mut b, "demo", "demo").await;
    let value = b.cookie(cookie_host, SESSION).expect("a session cookie");
    format!("{SESSION}={value}")
}
