//! The benchmark suite of the BFF (spec §8, issue 7), printed as Markdown.
//!
//! ```sh
//! infra/with-dynamodb.sh cargo run --release -p bench -- all      # or: cold memory proxy refresh throughput scale size
//! ```
//!
//! Release binaries of the six functions (`target/release/<fn>`) run under [`runtime::RuntimeApi`], a minimal
//! Lambda Runtime API in this process, against the real local stack from the test harness (`tests::spawn_app_with`:
//! the ERP.net emulator, DynamoDB Local behind `infra/ddb-proxy.js`, and `cargo lambda watch` for the sign-in).
//! Throughput goes through `cargo lambda watch --release` with wrk; the concurrent-refresh scenario through four
//! harness runtimes; sizes come from `cargo lambda build --release --arm64 --output-format zip`.

mod runtime;
mod stats;

use runtime::{FnProcess, Outcome, RuntimeApi, cpu_ticks};
use serde_json::{Value, json};
use stats::{Samples, mb, ms, ok};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tests::{Browser, Options, TestApp, spawn_app_with};

const FUNCTIONS: [&str; 6] = ["login", "callback", "session", "refresh", "logout", "proxy"];
const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers?$top=10";
const SESSION_COOKIE: &str = "__Host-bff-session";

const READY_BUDGET_MS: f64 = 15.0;
const RSS_BUDGET_BYTES: u64 = 40_000_000;
const ZIP_BUDGET_BYTES: u64 = 5_000_000;

struct Args {
    sections: Vec<String>,
    runs: usize,
    calls: usize,
    load: usize,
    out: Option<PathBuf>,
    build: bool,
    bin_dir: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args { sections: vec![], runs: 20, calls: 1000, load: 1000, out: None, build: true, bin_dir: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--runs" => a.runs = num("--runs"),
            "--calls" => a.calls = num("--calls"),
            "--load" => a.load = num("--load"),
            "--out" => a.out = Some(PathBuf::from(it.next().expect("--out needs a path"))),
            "--no-build" => a.build = false,
            "--bin-dir" => a.bin_dir = Some(PathBuf::from(it.next().expect("--bin-dir needs a path"))),
            "all" => a
                .sections
                .extend(["cold", "memory", "proxy", "refresh", "throughput", "scale", "size"].map(String::from)),
            "cold" | "memory" | "proxy" | "refresh" | "throughput" | "scale" | "size" => a.sections.push(arg),
            "-h" | "--help" => {
                println!(
                    "usage: bench [all|cold|memory|proxy|refresh|throughput|scale|size]... \
                     [--runs N (cold starts per function, 20)] [--calls N (proxied calls, 1000)] \
                     [--load N (invocations per function for peak RSS, 1000)] [--out FILE] [--no-build] \
                     [--bin-dir DIR (the function binaries; default target/release; implies --no-build)]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other} (try --help)"),
        }
    }
    if a.sections.is_empty() {
        a.sections = ["cold", "memory", "proxy", "refresh", "throughput", "scale", "size"].map(String::from).to_vec();
    }
    a
}

impl Args {
    fn has(&self, s: &str) -> bool {
        self.sections.iter().any(|x| x == s)
    }
}

fn venv_path() -> String {
    let venv = tests::repo_root().join(".venv").join("bin");
    format!("{}:{}", venv.display(), std::env::var("PATH").unwrap_or_default())
}

/// `cargo build --release` of the six functions: a no-op when this binary was built in the same invocation (the
/// bench depends on `shared`, so both resolve the same features and share every artifact).
fn build_functions() {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(tests::repo_root()).args(["build", "--release", "--quiet"]);
    for f in FUNCTIONS {
        cmd.args(["-p", f]);
    }
    eprintln!("bench: cargo build --release of the six functions");
    let st = cmd.status().expect("cargo");
    assert!(st.success(), "the release build failed");
}

/// An API Gateway v2 (HTTP API) event, as the function receives it from API Gateway.
fn event(host: &str, method: &str, target: &str, cookie: Option<&str>, csrf: bool) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = json!({
        "host": host,
        "user-agent": "bench",
        "accept": "application/json",
        "x-forwarded-proto": "https",
        "x-forwarded-for": "127.0.0.1",
    });
    if csrf {
        headers["x-csrf"] = json!("1");
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": host,
            "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    if let Some(c) = cookie {
        ev["cookies"] = json!([c]);
    }
    ev
}

/// The local stack and what every section needs from it.
struct Ctx {
    app: TestApp,
    logs: PathBuf,
    /// The BFF's environment (from the harness's env file) with DynamoDB Local called directly …
    env_direct: Vec<(String, String)>,
    /// … and through the counting ddb-proxy.
    env_counted: Vec<(String, String)>,
    host: String,
    /// `name=value` session cookies: demo for the proxy and session, alice for refresh.
    demo: String,
    alice: String,
    /// demo's access token, for the direct calls to the API.
    demo_token: String,
    direct: reqwest::Client,
    hz: u64,
    /// The warm proxy process of the hot-path section (reused by the response-size sweep).
    hot_proxy: Option<FnProcess>,
    bin_dir: PathBuf,
}

impl Ctx {
    async fn new(bin_dir: PathBuf) -> Ctx {
        eprintln!("bench: starting the local stack (emulator, ddb-proxy, cargo lambda watch)");
        let app = spawn_app_with(Options { ddb_proxy: true, ..Options::default() }).await;
        let logs = tests::repo_root().join("target").join("bench");
        std::fs::create_dir_all(&logs).unwrap();
        let env_file = PathBuf::from(app.bff_log.to_string_lossy().replace("-bff.log", "-bff.env"));
        let env_counted: Vec<(String, String)> = std::fs::read_to_string(&env_file)
            .unwrap_or_else(|e| panic!("cannot read the harness's env file {}: {e}", env_file.display()))
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let env_direct = env_counted
            .iter()
            .map(|(k, v)| {
                let v = if k == "AWS_ENDPOINT_URL_DYNAMODB" { tests::dynamodb_endpoint() } else { v.clone() };
                (k.clone(), v)
            })
            .collect();
        let host = app.origin().trim_start_matches("http://").to_string();

        let mut b = Browser::new();
        app.sign_in(&mut b, "demo", "demo").await;
        let demo = format!("{SESSION_COOKIE}={}", b.cookie("localhost", SESSION_COOKIE).expect("demo's cookie"));
        let secrets = app.emulator_secrets().await;
        let demo_token =
            secrets["accessTokens"].as_array().and_then(|a| a.last()).and_then(Value::as_str).unwrap().to_string();
        let mut b = Browser::new();
        app.sign_in(&mut b, "alice", "alice").await;
        let alice = format!("{SESSION_COOKIE}={}", b.cookie("localhost", SESSION_COOKIE).expect("alice's cookie"));

        let direct = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        Ctx {
            app,
            logs,
            env_direct,
            env_counted,
            host,
            demo,
            alice,
            demo_token,
            direct,
            hz: stats::clock_ticks(),
            hot_proxy: None,
            bin_dir,
        }
    }

    fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// The event each function gets in the cold-start and load runs.
    fn load_event(&self, name: &str) -> (Value, &'static str) {
        let h = &self.host;
        match name {
            "login" => (event(h, "GET", "/auth/login?returnUrl=%2F", None, false), "GET /auth/login (302; PutItem)"),
            "callback" => (
                event(h, "GET", "/auth/callback?code=bench&state=bench", None, false),
                "GET /auth/callback, unknown state (400)",
            ),
            "session" => {
                (event(h, "GET", "/auth/session", Some(&self.demo), true), "GET /auth/session, signed in (GetItem)")
            }
            "refresh" => (
                event(h, "POST", "/auth/refresh", Some(&self.alice), true),
                "POST /auth/refresh, signed in (a real refresh)",
            ),
            "logout" => (event(h, "GET", "/auth/logout", None, false), "GET /auth/logout, no session (302)"),
            "proxy" => (event(h, "GET", CUSTOMERS, Some(&self.demo), true), "GET /api/…Customers?$top=10 (200)"),
            _ => unreachable!(),
        }
    }

    /// Starts a function process and waits for its first `next` poll.
    async fn start(&self, name: &str, env: &[(String, String)]) -> FnProcess {
        let rt = RuntimeApi::start(name).await.expect("runtime API");
        let p = FnProcess::spawn(name, &self.binary(name), rt, env, &self.log(name));
        if p.rt.first_poll(Duration::from_secs(30)).await.is_none() {
            panic!("{name} never polled for an invocation (init error: {:?})", p.rt.init_error());
        }
        p
    }

    /// A direct call to the API with demo's bearer token: (latency, status, body bytes).
    async fn direct_call(&self) -> (Duration, u16, usize) {
        let url = format!("{}{}", self.app.emulator.origin(), CUSTOMERS);
        let t = Instant::now();
        let r = self
            .direct
            .get(url)
            .header("authorization", format!("Bearer {}", self.demo_token))
            .header("accept", "application/json")
            .send()
            .await
            .expect("direct call");
        let status = r.status().as_u16();
        let body = r.bytes().await.expect("direct body");
        (t.elapsed(), status, body.len())
    }

    async fn emulator_stats(&self) -> Value {
        self.app.emulator_stats().await
    }
}

/// Identity-server calls between two emulator stats snapshots (token endpoint of any grant, authorize, userinfo,
/// revocation, end session).
fn idp_calls(a: &Value, b: &Value) -> i64 {
    let n = |v: &Value, p: &[&str]| p.iter().fold(v, |v, k| &v[*k]).as_i64().unwrap_or(0);
    let mut total = 0;
    for g in ["authorization_code", "refresh_token", "other"] {
        total += n(b, &["token", g]) - n(a, &["token", g]);
    }
    for k in ["authorize", "userinfo", "revocation", "endSession"] {
        total += n(b, &[k]) - n(a, &[k]);
    }
    total
}

fn api_calls(a: &Value, b: &Value) -> i64 {
    b["api"].as_i64().unwrap_or(0) - a["api"].as_i64().unwrap_or(0)
}

/// `GetItem 1, UpdateItem 2` from the ddb-proxy's counters, divided by `per`.
fn ddb_ops(stats: &Value, per: usize) -> String {
    let Some(ops) = stats["ops"].as_object().filter(|o| !o.is_empty()) else {
        return "none".into();
    };
    ops.iter()
        .map(|(k, v)| {
            let n = v.as_f64().unwrap_or(0.0) / per as f64;
            if n.fract() == 0.0 { format!("{k} {n}") } else { format!("{k} {n:.3}") }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ddb_writes(stats: &Value) -> u64 {
    let Some(ops) = stats["ops"].as_object() else { return 0 };
    ops.iter()
        .filter(|(k, _)| {
            ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"].contains(&k.as_str())
        })
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum()
}

fn statuses(outcomes: &BTreeMap<u16, usize>) -> String {
    outcomes.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------------------------
// Sections.

async fn cold(ctx: &Ctx, runs: usize) -> String {
    let mut out = String::new();
    writeln!(out, "## Cold start (release x86_64 binaries, {runs} runs per function)\n").unwrap();
    writeln!(
        out,
        "Process spawn → first `GET …/invocation/next` (**ready**: `main`, config, AWS SDK and HTTP clients built) and \
         → the first invocation's response (**first response**; the event was queued before the spawn). One \
         unreported run per function first warms the page cache. Median (min–max), ms. Budget: ready ≤ \
         {READY_BUDGET_MS} ms.\n"
    )
    .unwrap();
    writeln!(out, "| Function | Event | Ready | First response | Status | Budget (ready) |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|").unwrap();
    for name in FUNCTIONS {
        if !ctx.binary(name).exists() {
            continue;
        }
        eprintln!("bench: cold start of {name}");
        let (ev, what) = ctx.load_event(name);
        let mut ready = Samples::default();
        let mut first = Samples::default();
        let mut codes = BTreeMap::new();
        for i in 0..=runs {
            let rt = RuntimeApi::start(name).await.expect("runtime API");
            let rx = rt.submit(&ev);
            let p = FnProcess::spawn(name, &ctx.binary(name), rt, &ctx.env_direct, &ctx.log(name));
            let polled = p.rt.first_poll(Duration::from_secs(30)).await;
            let Some(polled) = polled else {
                panic!("{name} never became ready (init error: {:?})", p.rt.init_error());
            };
            let o: Outcome = tokio::time::timeout(Duration::from_secs(60), rx)
                .await
                .unwrap_or_else(|_| panic!("{name}: no first response"))
                .expect("outcome");
            if i > 0 {
                ready.push(polled - p.spawned);
                first.push(o.done - p.spawned);
                *codes.entry(o.status()).or_insert(0) += 1;
            }
        }
        writeln!(
            out,
            "| {name} | {what} | {} | {} | {} | {} |",
            ready.summary(),
            first.summary(),
            statuses(&codes),
            ok(ready.median() <= READY_BUDGET_MS)
        )
        .unwrap();
    }
    // Where init time goes: each of the three TLS clients (the AWS SDK's, reqwest for the identity server, hyper-rustls
    // for the API) loads the platform's root certificates itself, and on Debian that means reading every file in
    // /etc/ssl/certs. The same proxy with that directory pointed at an empty one (the bundle file still loads):
    let empty = ctx.logs.join("empty-cert-dir");
    std::fs::create_dir_all(&empty).unwrap();
    let mut env = ctx.env_direct.clone();
    env.push(("SSL_CERT_DIR".into(), empty.display().to_string()));
    // Setting either variable makes rustls-native-certs read only what they name: keep the bundle file.
    env.push(("SSL_CERT_FILE".into(), "/etc/ssl/certs/ca-certificates.crt".into()));
    let (ev, _) = ctx.load_event("proxy");
    let mut ready = Samples::default();
    let mut first = Samples::default();
    for i in 0..=runs {
        let rt = RuntimeApi::start("proxy").await.expect("runtime API");
        let rx = rt.submit(&ev);
        let p = FnProcess::spawn("proxy", &ctx.binary("proxy"), rt, &env, &ctx.log("proxy"));
        let polled = p.rt.first_poll(Duration::from_secs(30)).await.expect("ready");
        let o = tokio::time::timeout(Duration::from_secs(60), rx).await.expect("first response").expect("outcome");
        assert_eq!(o.status(), 200);
        if i > 0 {
            ready.push(polled - p.spawned);
            first.push(o.done - p.spawned);
        }
    }
    writeln!(
        out,
        "| proxy, roots from the bundle file only (`SSL_CERT_FILE`=the bundle, `SSL_CERT_DIR`=an empty \
         directory) | (same) | {} | {} | 200×{runs} | {} |\n",
        ready.summary(),
        first.summary(),
        ok(ready.median() <= READY_BUDGET_MS)
    )
    .unwrap();
    writeln!(
        out,
        "The last row isolates the root-certificate loading: every function builds three TLS clients (AWS SDK, \
         reqwest for the identity server, hyper-rustls for the API) and each loads the platform roots itself, which \
         on this Debian machine means the bundle file plus every one of the ~150 certificate files in \
         /etc/ssl/certs, three times over (seen with `strace`).\n"
    )
    .unwrap();
    out
}

async fn memory(ctx: &Ctx, load: usize) -> String {
    let mut out = String::new();
    writeln!(out, "## Peak memory and warm latency per function ({load} sequential invocations each)\n").unwrap();
    writeln!(
        out,
        "One process per function under the runtime-API harness; peak RSS is `VmHWM` from `/proc/<pid>/status` \
         after the load. Duration is the function's own time per invocation (event handed out → response \
         received), as Lambda bills it. Budget: peak RSS ≤ {} MB.\n",
        RSS_BUDGET_BYTES / 1_000_000
    )
    .unwrap();
    writeln!(out, "| Function | Event | Peak RSS (MB) | RSS after (MB) | Duration p50 / p99 (ms) | Status | Budget |")
        .unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|").unwrap();
    for name in FUNCTIONS {
        if !ctx.binary(name).exists() {
            continue;
        }
        eprintln!("bench: {load} invocations of {name}");
        let (ev, what) = ctx.load_event(name);
        let p = ctx.start(name, &ctx.env_direct).await;
        let mut d = Samples::default();
        let mut codes = BTreeMap::new();
        for _ in 0..load {
            let o = p.call(&ev).await;
            d.push(o.duration());
            *codes.entry(o.status()).or_insert(0) += 1;
        }
        let (hwm, rss) = p.memory_kib();
        writeln!(
            out,
            "| {name} | {what} | {} | {} | {} / {} | {} | {} |",
            mb(hwm * 1024),
            mb(rss * 1024),
            ms(d.median()),
            ms(d.pct(99.0)),
            statuses(&codes),
            ok(hwm * 1024 <= RSS_BUDGET_BYTES)
        )
        .unwrap();
    }
    out
}

async fn proxy(ctx: &mut Ctx, calls: usize) -> String {
    let mut out = String::new();
    let ev = event(&ctx.host, "GET", CUSTOMERS, Some(&ctx.demo), true);
    eprintln!("bench: proxy hot path, {calls} calls each way");
    let p = ctx.start("proxy", &ctx.env_direct).await;
    let mut body_bff = 0;
    let mut body_direct = 0;
    for _ in 0..50 {
        let o = p.call(&ev).await;
        assert_eq!(o.status(), 200, "proxy: {}", String::from_utf8_lossy(&o.body));
        body_bff = o.body_len();
        let (_, s, n) = ctx.direct_call().await;
        assert_eq!(s, 200, "direct call");
        body_direct = n;
    }
    // Latency: the two interleaved, so both see the same machine.
    let (mut bff, mut bff_rt, mut direct) = (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..calls {
        let o = p.call(&ev).await;
        assert_eq!(o.status(), 200);
        bff.push(o.duration());
        bff_rt.push(o.done - o.submitted);
        direct.push(ctx.direct_call().await.0);
    }
    // CPU: each alone.
    let emu = ctx.app.emulator.proc.pid();
    // BENCH_PERF=1: a `perf record -g` of the proxy process over this loop (for an unstripped binary, see --bin-dir).
    let perf = std::env::var("BENCH_PERF").is_ok_and(|v| v == "1").then(|| {
        let data = ctx.logs.join("perf.data");
        Command::new("perf")
            .args(["record", "-F", "4000", "-g", "-o"])
            .arg(&data)
            .args(["-p", &p.pid().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    if perf.is_some() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (p0, e0) = (p.cpu_ticks(), cpu_ticks(emu));
    let t = Instant::now();
    for _ in 0..calls {
        p.call(&ev).await;
    }
    let bff_wall = t.elapsed();
    if let Some(Some(mut perf)) = perf {
        let _ = Command::new("kill").args(["-INT", &perf.id().to_string()]).status();
        let _ = perf.wait();
    }
    let (p1, e1) = (p.cpu_ticks(), cpu_ticks(emu));
    let t = Instant::now();
    for _ in 0..calls {
        ctx.direct_call().await;
    }
    let direct_wall = t.elapsed();
    let e2 = cpu_ticks(emu);
    let per_call = |ticks: u64| ticks as f64 * 1000.0 / ctx.hz as f64 / calls as f64;
    let (hwm, _) = p.memory_kib();
    ctx.hot_proxy = Some(p);

    // Counting: a fresh process against the counting ddb-proxy; its first call separately.
    eprintln!("bench: counting DynamoDB and identity-server calls of the proxy");
    ctx.app.ddb_reset().await;
    let s0 = ctx.emulator_stats().await;
    let counted = ctx.start("proxy", &ctx.env_counted).await;
    let first = counted.call(&ev).await;
    assert_eq!(first.status(), 200);
    let ddb_first = ctx.app.ddb_stats().await;
    let s1 = ctx.emulator_stats().await;
    ctx.app.ddb_reset().await;
    let n = 200;
    for _ in 0..n {
        assert_eq!(counted.call(&ev).await.status(), 200);
    }
    let ddb_steady = ctx.app.ddb_stats().await;
    let s2 = ctx.emulator_stats().await;
    drop(counted);

    writeln!(out, "## Proxy hot path (`GET {CUSTOMERS}`)\n").unwrap();
    writeln!(
        out,
        "The release `proxy` under the runtime-API harness (warm: 50 calls first), against a direct call to the same \
         API URL with the same bearer token (reqwest, keep-alive), interleaved call by call in the same run, \
         {calls} each. **BFF** = the function's duration (event handed out → response received: cookie → \
         GetItem → decrypt → upstream call → link rewrite → response); *via harness* adds the local runtime API's \
         own HTTP hops. Response body: {body_bff} bytes through the BFF, {body_direct} bytes direct.\n"
    )
    .unwrap();
    writeln!(out, "| | p50 (ms) | p99 (ms) | min–max (ms) |").unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    writeln!(
        out,
        "| Direct call to the API | {} | {} | {}–{} |",
        ms(direct.median()),
        ms(direct.pct(99.0)),
        ms(direct.min()),
        ms(direct.max())
    )
    .unwrap();
    writeln!(
        out,
        "| Through the BFF (function duration) | {} | {} | {}–{} |",
        ms(bff.median()),
        ms(bff.pct(99.0)),
        ms(bff.min()),
        ms(bff.max())
    )
    .unwrap();
    writeln!(
        out,
        "| Through the BFF (via harness) | {} | {} | {}–{} |",
        ms(bff_rt.median()),
        ms(bff_rt.pct(99.0)),
        ms(bff_rt.min()),
        ms(bff_rt.max())
    )
    .unwrap();
    writeln!(
        out,
        "| **BFF-added** (BFF − direct) | **{}** | **{}** | |",
        ms(bff.median() - direct.median()),
        ms(bff.pct(99.0) - direct.pct(99.0))
    )
    .unwrap();
    writeln!(
        out,
        "| **Ratio** BFF / direct | **{:.2}×** | **{:.2}×** | |\n",
        bff.median() / direct.median(),
        bff.pct(99.0) / direct.pct(99.0)
    )
    .unwrap();
    writeln!(
        out,
        "CPU per call (utime+stime from `/proc/<pid>/stat`, {calls} sequential calls each, USER_HZ {}):\n",
        ctx.hz
    )
    .unwrap();
    writeln!(out, "| Run | BFF process CPU/call (ms) | Emulator (upstream API) CPU/call (ms) | Wall time/call (ms) |")
        .unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    writeln!(
        out,
        "| Through the BFF | {:.3} | {:.3} | {:.3} |",
        per_call(p1 - p0),
        per_call(e1 - e0),
        bff_wall.as_secs_f64() * 1000.0 / calls as f64
    )
    .unwrap();
    writeln!(
        out,
        "| Direct | – | {:.3} | {:.3} |\n",
        per_call(e2 - e1),
        direct_wall.as_secs_f64() * 1000.0 / calls as f64
    )
    .unwrap();
    writeln!(out, "Peak RSS of this proxy process after {} calls: {} MB.\n", 50 + 3 * calls, mb(hwm * 1024)).unwrap();
    writeln!(out, "Calls per proxied request, counted (ddb-proxy operation counters; emulator stats):\n").unwrap();
    writeln!(out, "| | DynamoDB operations | DynamoDB writes | Identity-server calls | API calls |").unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    writeln!(
        out,
        "| First call of a fresh process | {} | {} | {} | {} |",
        ddb_ops(&ddb_first, 1),
        ddb_writes(&ddb_first),
        idp_calls(&s0, &s1),
        api_calls(&s0, &s1)
    )
    .unwrap();
    writeln!(
        out,
        "| Steady state, per request ({n} calls) | {} | {:.3} | {:.3} | {:.3} |\n",
        ddb_ops(&ddb_steady, n),
        ddb_writes(&ddb_steady) as f64 / n as f64,
        idp_calls(&s1, &s2) as f64 / n as f64,
        api_calls(&s1, &s2) as f64 / n as f64
    )
    .unwrap();
    let gets = ddb_steady["ops"]["GetItem"].as_u64().unwrap_or(0);
    let total = ddb_steady["total"].as_u64().unwrap_or(0);
    writeln!(
        out,
        "Target (exactly 1 GetItem, 0 writes, 0 identity-server calls per request): {}. Identity-server calls are the \
         emulator's counters (token, authorize, userinfo, revocation, end session); discovery and JWKS fetches are \
         not counted there.\n",
        ok(gets == n as u64 && total == n as u64 && idp_calls(&s1, &s2) == 0)
    )
    .unwrap();
    out
}

async fn refresh(ctx: &Ctx, n: usize) -> String {
    eprintln!("bench: refresh path");
    let mut out = String::new();
    let ev = event(&ctx.host, "POST", "/auth/refresh", Some(&ctx.alice), true);
    ctx.app.ddb_reset().await;
    let s0 = ctx.emulator_stats().await;
    let p = ctx.start("refresh", &ctx.env_counted).await;
    let first = p.call(&ev).await;
    assert_eq!(first.status(), 200, "refresh: {}", String::from_utf8_lossy(&first.body));
    let ddb_first = ctx.app.ddb_stats().await;
    let s1 = ctx.emulator_stats().await;
    ctx.app.ddb_reset().await;
    let mut d = Samples::default();
    for _ in 0..n {
        let o = p.call(&ev).await;
        assert_eq!(o.status(), 200);
        d.push(o.duration());
    }
    let ddb_steady = ctx.app.ddb_stats().await;
    let s2 = ctx.emulator_stats().await;
    let refreshes = |a: &Value, b: &Value| {
        b["token"]["refresh_token"].as_i64().unwrap_or(0) - a["token"]["refresh_token"].as_i64().unwrap_or(0)
    };
    writeln!(out, "## Refresh path (`POST /auth/refresh`)\n").unwrap();
    writeln!(
        out,
        "The release `refresh` function under the runtime-API harness, DynamoDB through the counting ddb-proxy \
         (which adds a Node hop to each DynamoDB call). The first call of a fresh process also fetches discovery.\n"
    )
    .unwrap();
    writeln!(out, "| | Duration (ms) | DynamoDB operations | Identity-server calls | of which refresh grants |")
        .unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    writeln!(
        out,
        "| First refresh of a fresh process | {} | {} | {} | {} |",
        ms(first.duration().as_secs_f64() * 1000.0),
        ddb_ops(&ddb_first, 1),
        idp_calls(&s0, &s1),
        refreshes(&s0, &s1)
    )
    .unwrap();
    writeln!(
        out,
        "| Warm, per refresh ({n} refreshes) | {} | {} | {:.2} | {:.2} |\n",
        d.summary(),
        ddb_ops(&ddb_steady, n),
        idp_calls(&s1, &s2) as f64 / n as f64,
        refreshes(&s1, &s2) as f64 / n as f64
    )
    .unwrap();
    out
}

struct Wrk {
    rps: f64,
    p50: String,
    p99: String,
    requests: u64,
    errors: String,
}

/// A wrk script that prints the first few non-200 answers (status and the start of the body) to its output.
const WRK_SCRIPT: &str = r#"
local seen = 0
function response(status, headers, body)
  if status ~= 200 and seen < 3 then
    seen = seen + 1
    io.write("non-200: ", status, " ", string.sub(body or "", 1, 200), "\n")
  end
end
"#;

fn wrk(url: &str, cookie: &str, conns: usize, secs: u64) -> Option<Wrk> {
    let script = tests::repo_root().join("target").join("bench").join("status.lua");
    std::fs::write(&script, WRK_SCRIPT).ok()?;
    let out = Command::new("wrk")
        .arg("-s")
        .arg(&script)
        .args(["-t1", "-c", &conns.to_string(), "-d", &format!("{secs}s"), "--latency", "--timeout", "5s"])
        .args(["-H", "X-CSRF: 1", "-H", &format!("Cookie: {cookie}"), url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = tests::repo_root().join("target").join("bench").join("wrk.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        use std::io::Write;
        let _ = writeln!(f, "$ wrk -c{conns} -d{secs}s {url}\n{text}");
    }
    let find = |prefix: &str| {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_string())
    };
    let rps = find("Requests/sec:")?.parse().ok()?;
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut errors = vec![];
    if let Some(e) = find("Non-2xx or 3xx responses:") {
        let mut codes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("non-200: "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        codes.dedup();
        errors.push(format!("{e} non-2xx (e.g. {})", codes.join(", ")));
    }
    if let Some(e) = find("Socket errors:") {
        errors.push(format!("socket errors: {e}"));
    }
    Some(Wrk {
        rps,
        p50: find("50%")?,
        p99: find("99%")?,
        requests,
        errors: if errors.is_empty() { "0".into() } else { errors.join("; ") },
    })
}

/// Sequential GETs through cargo lambda watch: latencies of the 200s, and a tally of statuses and timeouts.
async fn via_watch(url: &str, cookie: &str, n: usize) -> (Samples, String) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut lat = Samples::default();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut timeouts = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = async {
            let r = http.get(url).header("x-csrf", "1").header("cookie", cookie).send().await?;
            let s = r.status().as_u16();
            r.bytes().await?;
            Ok::<_, reqwest::Error>(s)
        }
        .await;
        let key = match r {
            Ok(200) => {
                lat.push(t.elapsed());
                "200".to_string()
            }
            Ok(s) => s.to_string(),
            Err(e) if e.is_timeout() => {
                timeouts += 1;
                "timeout".into()
            }
            Err(_) => "error".into(),
        };
        *codes.entry(key).or_insert(0) += 1;
        if timeouts >= 3 {
            break;
        }
    }
    (lat, codes.iter().map(|(k, v)| format!("{k}×{v}")).collect::<Vec<_>>().join(", "))
}

async fn throughput(ctx: &mut Ctx) -> String {
    let mut out = String::new();
    if Command::new("wrk").arg("--version").output().is_err() {
        return "## Throughput\n\nSkipped: `wrk` is not installed (`apt-get install -y wrk`).\n".into();
    }
    // Our own `cargo lambda watch --release` (the harness's runs the debug build) with the same configuration.
    let port = tests::free_port();
    let env_file = ctx.logs.join("watch.env");
    std::fs::write(&env_file, ctx.env_direct.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>()).unwrap();
    eprintln!("bench: the release build under cargo lambda, port {port}");
    let watch = xtask::stack::Watch { release: true, ..xtask::stack::Watch::new(port, env_file) }
        .spawn(&ctx.logs.join("watch.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    let origin = format!("http://127.0.0.1:{port}");
    let url = format!("{origin}{CUSTOMERS}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let probe = |u: String| {
        let http = http.clone();
        let cookie = ctx.demo.clone();
        async move {
            matches!(http.get(u).header("x-csrf", "1").header("cookie", cookie).send().await, Ok(r) if r.status() == 200)
        }
    };
    tests::wait_until("the release build to serve the proxy", Duration::from_secs(600), || probe(url.clone())).await;
    for _ in 0..20 {
        probe(url.clone()).await;
    }

    writeln!(out, "## Throughput of one instance (wrk → `cargo lambda watch --release` → proxy)\n").unwrap();
    writeln!(
        out,
        "`wrk -t1 -c<C> -d10s --latency -H 'X-CSRF: 1' -H 'Cookie: <session>' {origin}{CUSTOMERS}`; one \
         execution environment (`--concurrency 1`: Lambda gives one request at a time to an environment, so \
         extra connections queue). cargo lambda's own runtime API and HTTP front door are in the path.\n"
    )
    .unwrap();
    writeln!(out, "| Connections | Requests/s | p50 | p99 | Requests | Errors |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|").unwrap();
    for c in [1, 4, 16] {
        eprintln!("bench: wrk -c{c}");
        // Requests that wrk abandoned at the end of the previous run are still queued in the runtime: let them drain.
        tokio::time::sleep(Duration::from_secs(3)).await;
        match wrk(&url, &ctx.demo, c, 10) {
            Some(w) => writeln!(out, "| {c} | {:.0} | {} | {} | {} | {} |", w.rps, w.p50, w.p99, w.requests, w.errors),
            None => writeln!(out, "| {c} | wrk failed | | | | |"),
        }
        .unwrap();
    }
    writeln!(out).unwrap();

    // Response size.
    let p = ctx.hot_proxy.take();
    let p = match p {
        Some(p) => p,
        None => ctx.start("proxy", &ctx.env_direct).await,
    };
    let ev = event(&ctx.host, "GET", CUSTOMERS, Some(&ctx.demo), true);
    writeln!(out, "### Latency vs response size\n").unwrap();
    writeln!(
        out,
        "The emulator pads the collection response (`apiResponseBytes`). Direct and BFF (release proxy under the \
         runtime-API harness, function duration) interleaved, 20 calls each after 2 warm-ups, median (min–max) ms. \
         Then through `cargo lambda watch --release`: 50 sequential calls (5 s timeout each; stops after 3 \
         timeouts), and wrk -c1 -d10s --timeout 5s.\n"
    )
    .unwrap();
    writeln!(
        out,
        "| Size | Body (bytes) | Direct | BFF | BFF − direct (p50) | Ratio (p50) | Via watch, sequential (statuses) | \
         Via watch, wrk: req/s, p50, p99 |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|").unwrap();
    let mut stalled = false;
    for (label, bytes) in [("1 KB", 1_000u64), ("100 KB", 100_000), ("5 MB", 5_000_000)] {
        eprintln!("bench: response size {label}");
        ctx.app.emulator_control(json!({ "apiResponseBytes": bytes })).await;
        let (mut d, mut b) = (Samples::default(), Samples::default());
        let mut size = 0;
        for i in 0..22 {
            let o = p.call(&ev).await;
            assert_eq!(o.status(), 200, "{label}: {}", String::from_utf8_lossy(&o.body[..o.body.len().min(300)]));
            let (t, s, n) = ctx.direct_call().await;
            assert_eq!(s, 200);
            if i >= 2 {
                b.push(o.duration());
                d.push(t);
                size = n;
            }
        }
        // Through cargo lambda watch: sequential calls with a short timeout (it can stall on large bodies), then wrk.
        let (watch_lat, watch_codes) = via_watch(&url, &ctx.demo, 50).await;
        stalled |= watch_codes.contains("timeout");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let w = wrk(&url, &ctx.demo, 1, 10);
        let w = w.map(|w| format!("{:.0}, {}, {} ({} errors)", w.rps, w.p50, w.p99, w.errors)).unwrap_or("–".into());
        writeln!(
            out,
            "| {label} | {size} | {} | {} | {} | {:.2}× | {} ({}) | {w} |",
            d.summary(),
            b.summary(),
            ms(b.median() - d.median()),
            b.median() / d.median(),
            watch_lat.summary(),
            watch_codes
        )
        .unwrap();
    }
    ctx.app.emulator_control(json!({})).await;
    if stalled {
        writeln!(
            out,
            "\nA timeout through `cargo lambda watch` is the local emulator's: the function's own log \
             (target/bench/watch.log) shows it answered every invocation it got with 200, in the time of the BFF \
             column, but the answer never reached the client: those figures measure the local emulator, not the BFF."
        )
        .unwrap();
    }
    let (hwm, _) = p.memory_kib();
    writeln!(
        out,
        "\nPeak RSS of that proxy process after the 5 MB responses: **{} MB** (budget {} MB: {}).\n",
        mb(hwm * 1024),
        RSS_BUDGET_BYTES / 1_000_000,
        ok(hwm * 1024 <= RSS_BUDGET_BYTES)
    )
    .unwrap();
    drop(p);
    drop(watch);
    out
}

async fn scale(sessions: usize, per_session: usize) -> String {
    eprintln!("bench: concurrent refresh at scale: starting a stack with 4 runtimes");
    let ttl = 20;
    let mut app = spawn_app_with(Options {
        access_token_ttl: ttl,
        bff_env: vec![("REFRESH_SKEW".into(), "1".into())],
        ddb_proxy: true,
        ..Options::default()
    })
    .await;
    for _ in 0..3 {
        app.spawn_instance().await;
    }
    let origins = app.runtime_origins();
    // Start each runtime's proxy process before the storm (an anonymous call: 401).
    for o in &origins {
        let mut b = Browser::new();
        let r = b.request(reqwest::Method::GET, &format!("{o}{CUSTOMERS}"), &[("x-csrf", "1")], None).await;
        assert_eq!(r.status, 401, "warm-up: {}", r.text());
    }
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
    let results: Vec<(u16, Duration, bool)> = tests::storm(&browsers, &origins, per_session, CUSTOMERS, 100)
        .await
        .into_iter()
        .map(|c| (c.status, c.elapsed, c.who == c.expected))
        .collect();
    let wall = started.elapsed();
    let s1 = app.emulator_stats().await;
    let ddb = app.ddb_stats().await;
    let mut lat = Samples::default();
    let mut codes = BTreeMap::new();
    for (s, d, _) in &results {
        lat.push(*d);
        *codes.entry(*s).or_insert(0) += 1;
    }
    let failures = results.iter().filter(|(s, _, _)| *s != 200).count();
    let mixed = results.iter().filter(|(s, _, same)| *s == 200 && !same).count();
    let refreshes =
        s1["token"]["refresh_token"].as_i64().unwrap_or(0) - s0["token"]["refresh_token"].as_i64().unwrap_or(0);
    let versions: Vec<i64> = app
        .session_items()
        .await
        .iter()
        .filter_map(|i| i.get("ver").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()))
        .collect();
    let at_v2 = versions.iter().filter(|v| **v == 2).count();
    let pass = refreshes == sessions as i64 && failures == 0 && mixed == 0;

    let mut out = String::new();
    writeln!(out, "## Concurrent refresh at scale\n").unwrap();
    writeln!(
        out,
        "{sessions} sessions (demo and alice alternately, signed in through the real flow in {:.1} s), access tokens \
         of {ttl} s (`REFRESH_SKEW=1`), all expired; then {} proxied GETs ({per_session} per session) at once, at \
         most 100 in flight, round-robin over **4 runtimes** (the harness's `cargo lambda watch` + \
         `spawn_instance` ×3: independent execution environments of the debug build; each runtime's proxy \
         started beforehand).\n",
        sign_in.as_secs_f64(),
        results.len()
    )
    .unwrap();
    writeln!(out, "| Calls | Refreshes (token endpoint) | Sessions at version 2 | Failures | Answers for another user | Statuses |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|").unwrap();
    writeln!(
        out,
        "| {} | **{refreshes}** (sessions: {sessions}) | {at_v2} of {} | **{failures}** | {mixed} | {} |\n",
        results.len(),
        versions.len(),
        statuses(&codes)
    )
    .unwrap();
    writeln!(
        out,
        "Wall time {:.1} s ({:.0} calls/s); latency p50 {} ms, p99 {} ms, max {} ms. DynamoDB operations during the \
         storm: {} (total {}), i.e. {:.2} per call. Refreshes = sessions and no failure: {}.\n",
        wall.as_secs_f64(),
        results.len() as f64 / wall.as_secs_f64(),
        ms(lat.median()),
        ms(lat.pct(99.0)),
        ms(lat.max()),
        ddb_ops(&ddb, 1),
        ddb["total"].as_u64().unwrap_or(0),
        ddb["total"].as_f64().unwrap_or(0.0) / results.len() as f64,
        ok(pass)
    )
    .unwrap();
    out
}

fn file_size(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.len())
}

fn size(build: bool) -> String {
    let root = tests::repo_root();
    let mut out = String::new();
    if build {
        eprintln!(
            "bench: cargo lambda build --release --arm64 --output-format zip (a full cross build the first time)"
        );
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&root).env("PATH", venv_path()).args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--output-format",
            "zip",
        ]);
        for f in FUNCTIONS {
            cmd.args(["-p", f]);
        }
        let st = cmd.status().expect("cargo lambda");
        if !st.success() {
            return "## Size\n\n`cargo lambda build --release --arm64` failed.\n".into();
        }
    }
    writeln!(out, "## Size (arm64 release, as deployed)\n").unwrap();
    writeln!(
        out,
        "`cargo lambda build --release --arm64 --output-format zip -p <each function>` (release profile: `strip = \
         true`). `bootstrap` = target/aarch64-unknown-linux-gnu/release/<fn>; zip = target/lambda/<fn>/bootstrap.zip. \
         x86_64 binary for comparison. MB = 10^6 bytes. Budget: zip ≤ {} MB.\n",
        ZIP_BUDGET_BYTES / 1_000_000
    )
    .unwrap();
    writeln!(out, "| Function | arm64 bootstrap (MB) | arm64 zip (MB) | x86_64 binary (MB) | Budget |").unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for f in FUNCTIONS {
        let bin = file_size(&root.join("target/aarch64-unknown-linux-gnu/release").join(f));
        let zip = file_size(&root.join("target/lambda").join(f).join("bootstrap.zip"));
        let x86 = file_size(&root.join("target/release").join(f));
        let show = |v: Option<u64>| v.map(mb).unwrap_or("–".into());
        writeln!(
            out,
            "| {f} | {} | {} | {} | {} |",
            show(bin),
            show(zip),
            show(x86),
            zip.map(|z| ok(z <= ZIP_BUDGET_BYTES)).unwrap_or("–")
        )
        .unwrap();
    }
    out
}

#[tokio::main]
async fn main() {
    let args = args();
    let started = Instant::now();
    let mut doc = String::new();
    writeln!(doc, "# Benchmark figures\n").unwrap();
    writeln!(
        doc,
        "Produced by `bench {}` (`make bench`). Every figure is from one run on a shared, noisy machine: compare \
         ratios and orders of magnitude, not single milliseconds.\n",
        args.sections.join(" ")
    )
    .unwrap();
    writeln!(doc, "| Machine | |\n|---|---|").unwrap();
    for (k, v) in stats::machine() {
        writeln!(doc, "| {k} | {v} |").unwrap();
    }
    writeln!(doc).unwrap();

    let needs_stack = ["cold", "memory", "proxy", "refresh", "throughput"].iter().any(|s| args.has(s));
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| tests::repo_root().join("target").join("release"));
    if needs_stack && args.build && args.bin_dir.is_none() {
        build_functions();
    }
    if args.bin_dir.is_some() {
        writeln!(doc, "Function binaries from `{}`.\n", bin_dir.display()).unwrap();
    }
    let mut sections = vec![];
    if needs_stack {
        let mut ctx = Ctx::new(bin_dir).await;
        if args.has("cold") {
            sections.push(cold(&ctx, args.runs).await);
        }
        if args.has("memory") {
            sections.push(memory(&ctx, args.load).await);
        }
        if args.has("proxy") {
            sections.push(proxy(&mut ctx, args.calls).await);
        }
        if args.has("refresh") {
            sections.push(refresh(&ctx, 30).await);
        }
        if args.has("throughput") {
            sections.push(throughput(&mut ctx).await);
        }
    }
    if args.has("scale") {
        sections.push(scale(50, 20).await);
    }
    if args.has("size") {
        sections.push(size(args.build));
    }
    for s in sections {
        doc.push_str(&s);
        doc.push('\n');
    }
    writeln!(
        doc,
        "Load average at the end: {}; the whole run took {:.0} s.",
        stats::loadavg(),
        started.elapsed().as_secs_f64()
    )
    .unwrap();
    print!("{doc}");
    if let Some(path) = args.out {
        std::fs::write(&path, &doc).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}
