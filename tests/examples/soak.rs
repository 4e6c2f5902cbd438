//! The soak run (a script, not CI): several BFF runtimes, hundreds of sessions, tens of thousands of proxied calls
//! over several minutes, access tokens expiring every few seconds, DynamoDB faults injected at a small rate.
//! Every response is checked: it is a 200 for **its own user** (the emulator stamps each body with the token's user),
//! or a problem+json; anything else is counted as a failure.
//!
//!   make soak                                  # defaults below
//!   SOAK_SESSIONS=300 SOAK_SECONDS=300 make soak
//!
//! Env: SOAK_SESSIONS (200), SOAK_SECONDS (300), SOAK_RUNTIMES (4), SOAK_IN_FLIGHT (48), SOAK_TOKEN_TTL (6 s),
//! SOAK_DDB_FAULT_RATE (0.02: half throttling, half 500s), and the chaos suite's faults (tests/tests/api/chaos.rs):
//! SOAK_DROP_ANSWER_RATE (0.25: conditional writes applied whose answer is lost), SOAK_TOKEN_JITTER_MS (4500: the
//! token endpoint delayed 0..N ms at random), SOAK_KILL_EVERY (60 s: one runtime other than the first is killed
//! with SIGKILL, in turn, and replaced; 0: never).

use reqwest::Method;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::{Browser, Options, spawn_app_with};
use tokio::sync::{Mutex, Semaphore};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default, Debug)]
struct Tally {
    calls: u64,
    ok: u64,
    problems: BTreeMap<String, u64>,
    wrong_user: u64,
    non_problem_errors: u64,
    transport_errors: u64,
    sessions_lost: u64,
    latencies_ms: Vec<f64>,
}

/// A runtime calls are sent to, and how many are on their way to it (so a kill can tell which transport errors it
/// caused).
#[derive(Clone)]
struct Runtime {
    origin: String,
    in_flight: Arc<AtomicU64>,
}

impl Runtime {
    fn new(origin: String) -> Self {
        Runtime { origin, in_flight: Arc::new(AtomicU64::new(0)) }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sessions: usize = env("SOAK_SESSIONS", 200);
    let seconds: u64 = env("SOAK_SECONDS", 300);
    let runtimes: usize = env("SOAK_RUNTIMES", 4);
    let in_flight: usize = env("SOAK_IN_FLIGHT", 48);
    let ttl: u64 = env("SOAK_TOKEN_TTL", 6);
    let fault_rate: f64 = env("SOAK_DDB_FAULT_RATE", 0.02);
    let drop_rate: f64 = env("SOAK_DROP_ANSWER_RATE", 0.25);
    let jitter_ms: u64 = env("SOAK_TOKEN_JITTER_MS", 4500);
    let kill_every: u64 = env("SOAK_KILL_EVERY", 60);
    println!(
        "soak: {sessions} sessions, {seconds} s, {runtimes} runtimes, {in_flight} in flight, access tokens live {ttl} s, \
         DynamoDB fault rate {fault_rate}, answers of conditional writes dropped {drop_rate}, token delay 0-{jitter_ms} ms, \
         a runtime killed every {kill_every} s"
    );

    let mut app = spawn_app_with(Options {
        access_token_ttl: ttl,
        ddb_proxy: true,
        bff_env: vec![("REFRESH_SKEW".into(), "1".into()), ("RUST_LOG".into(), "warn".into())],
        ..Options::default()
    })
    .await;
    for _ in 1..runtimes {
        app.spawn_runtime().await;
    }
    let mut live: Vec<Runtime> = app.runtime_origins().into_iter().map(Runtime::new).collect();
    let (mut kills, mut killed_in_flight) = (0u64, 0u64);

    let started = Instant::now();
    let mut users: Vec<(Browser, &'static str)> = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let mut b = Browser::new();
        let user = if i % 2 == 0 { "demo" } else { "alice" };
        app.sign_in(&mut b, user, user).await;
        users.push((b, user));
    }
    println!("signed in {sessions} sessions in {:.1} s", started.elapsed().as_secs_f64());
    app.ddb_control(serde_json::json!({
        "throttleRate": fault_rate / 2.0,
        "errorRate": fault_rate / 2.0,
        "dropAnswerRate": drop_rate,
    }))
    .await;
    app.emulator_control(serde_json::json!({"tokenDelayJitterMs": jitter_ms})).await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let gate = Arc::new(Semaphore::new(in_flight));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let kill_every = Duration::from_secs(kill_every);
    let mut next_kill = Instant::now() + kill_every;
    let mut n = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    while Instant::now() < deadline {
        if !kill_every.is_zero() && Instant::now() >= next_kill && live.len() > 1 {
            killed_in_flight += kill_and_replace(&mut app, &mut live, kills).await;
            kills += 1;
            next_kill = Instant::now() + kill_every;
        }
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (mut b, user) = users[n % users.len()].clone();
        let runtime = live[n % live.len()].clone();
        runtime.in_flight.fetch_add(1, Ordering::SeqCst);
        let task_tally = tally.clone();
        let stop = stop.clone();
        n += 1;
        let path = if n.is_multiple_of(10) { "/auth/session" } else { "/api/domain/odata/Crm_Sales_Customers?$top=3" };
        tasks.spawn(async move {
            let _permit = permit;
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let t = Instant::now();
            let r = b.request(Method::GET, &format!("{}{path}", runtime.origin), &[("x-csrf", "1")], None).await;
            runtime.in_flight.fetch_sub(1, Ordering::SeqCst);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let mut tl = task_tally.lock().await;
            tl.calls += 1;
            tl.latencies_ms.push(ms);
            let ct = r.header("content-type").unwrap_or("").to_string();
            if r.status == 200 {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let who = if path.starts_with("/auth/session") {
                    v["user"]["sub"].clone()
                } else {
                    v["@emulator.user"].clone()
                };
                if who == user {
                    tl.ok += 1;
                } else {
                    tl.wrong_user += 1;
                    eprintln!("WRONG USER: expected {user}, got {who}");
                }
            } else if ct == "application/problem+json" {
                let code = serde_json::from_slice::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(String::from))
                    .unwrap_or_default();
                if code == "session_expired" || code == "not_authenticated" {
                    tl.sessions_lost += 1;
                }
                *tl.problems.entry(format!("{} {}", r.status, code)).or_default() += 1;
            } else {
                tl.non_problem_errors += 1;
                eprintln!("NON-PROBLEM ERROR {} {}: {}", r.status, ct, r.text().chars().take(200).collect::<String>());
            }
        });
        while let Some(done) = tasks.try_join_next() {
            if done.is_err() {
                tally.lock().await.transport_errors += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = tasks.join_next().await {
        if done.is_err() {
            tally.lock().await.transport_errors += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ddb = app.ddb_stats().await;
    let idp = app.emulator_stats().await;
    let mut tl = tally.lock().await;
    tl.latencies_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| tl.latencies_ms.get(((tl.latencies_ms.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0.0);
    println!("\n## Soak result\n");
    println!("| figure | value |\n|---|---|");
    println!("| duration (incl. sign-ins) | {elapsed:.0} s |");
    println!("| sessions | {sessions} over {runtimes} runtimes |");
    println!("| calls | {} ({:.0}/s) |", tl.calls, tl.calls as f64 / seconds as f64);
    println!("| 200 for the right user | {} |", tl.ok);
    println!("| responses carrying another user's data | {} |", tl.wrong_user);
    println!("| sessions lost (session_expired / not_authenticated) | {} |", tl.sessions_lost);
    println!("| non-problem+json errors | {} |", tl.non_problem_errors);
    println!("| runtimes killed (SIGKILL) and replaced | {kills} |");
    println!("| calls cut off by a kill (sent to the killed runtime) | {killed_in_flight} |");
    println!("| transport errors (client side) | {} |", tl.transport_errors);
    println!("| problem+json answers | {:?} |", tl.problems);
    println!("| latency p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |", pct(0.5), pct(0.99), pct(1.0));
    println!("| refresh_token grants at the IdP | {} |", idp["token"]["refresh_token"]);
    println!("| invalid_grant at the IdP | {} |", idp["tokenErrors"]["invalid_grant"]);
    println!("| DynamoDB faults injected | {} |", ddb["faults"]);
    println!("| DynamoDB operations | {} |", ddb["ops"]);
    // Only the calls that were on their way to a killed runtime may fail in transport.
    let unexplained_transport = tl.transport_errors.saturating_sub(killed_in_flight);
    let failed = tl.wrong_user > 0 || tl.non_problem_errors > 0 || unexplained_transport > 0 || tl.sessions_lost > 0;
    if failed {
        eprintln!("SOAK FAILED");
        std::process::exit(1);
    }
    println!("\nSOAK PASSED");
}

/// Kills runtime `1 + kills % (n - 1)` (never the first: it is the app's public origin) with SIGKILL, starts a
/// replacement in its place, and answers how many calls were on their way to it.
async fn kill_and_replace(app: &mut tests::TestApp, runtimes: &mut [Runtime], kills: u64) -> u64 {
    let slot = 1 + (kills as usize % (runtimes.len() - 1));
    // No new call goes to it from here on; the ones already sent are cut off.
    let first = runtimes[0].clone();
    let victim = std::mem::replace(&mut runtimes[slot], first);
    let cut_off = victim.in_flight.load(Ordering::SeqCst);
    app.runtimes[slot - 1].kill();
    let origin = app.spawn_runtime().await;
    let last = app.runtimes.len() - 1;
    app.runtimes.swap(slot - 1, last);
    runtimes[slot] = Runtime::new(origin);
    println!("killed runtime {slot} ({} calls on their way to it); replaced", cut_off);
    cut_off
}
