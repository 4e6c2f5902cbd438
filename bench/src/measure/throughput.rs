//! Throughput of one instance (wrk → `cargo lambda watch --release` → proxy), and latency against response size.

use super::wrk::{self, Wrk};
use crate::functions::CUSTOMERS;
use crate::stack::Ctx;
use crate::stats::Samples;
use serde_json::json;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

/// wrk's connection counts.
pub const CONNECTIONS: [usize; 3] = [1, 4, 16];
/// The emulator's padded response sizes.
pub const SIZES: [(&str, u64); 3] = [("1 KB", 1_000), ("100 KB", 100_000), ("5 MB", 5_000_000)];

pub enum Throughput {
    /// `wrk` is not installed.
    NoWrk,
    Measured(Measured),
}

pub struct Measured {
    /// `cargo lambda watch --release`'s address.
    pub origin: String,
    /// One wrk run per entry of [`CONNECTIONS`] (`None`: wrk failed).
    pub by_connections: Vec<(usize, Option<Wrk>)>,
    pub by_size: Vec<SizeRow>,
    /// `VmHWM` of the harness's proxy process after the largest responses, bytes.
    pub peak_rss: u64,
}

pub struct SizeRow {
    pub label: &'static str,
    /// The direct call's body, bytes.
    pub body: usize,
    pub direct: Samples,
    /// The harness's release proxy, function duration.
    pub bff: Samples,
    /// Sequential calls through `cargo lambda watch --release`: the 200s' latency, and every answer's tally.
    pub watch: Samples,
    pub watch_answers: BTreeMap<String, usize>,
    pub watch_wrk: Option<Wrk>,
}

impl Measured {
    /// Whether a call through `cargo lambda watch` timed out.
    pub fn stalled(&self) -> bool {
        self.by_size.iter().any(|r| r.watch_answers.contains_key("timeout"))
    }
}

pub async fn run(ctx: &mut Ctx) -> Throughput {
    if !wrk::installed() {
        return Throughput::NoWrk;
    }
    let (watch, origin) = start_release_watch(ctx).await;
    let url = format!("{origin}{CUSTOMERS}");
    let probe = prober(ctx, &url);
    for _ in 0..20 {
        probe().await;
    }
    let mut by_connections = vec![];
    for c in CONNECTIONS {
        eprintln!("bench: wrk -c{c}");
        // Requests that wrk abandoned at the end of the previous run are still queued in the runtime: let them drain.
        tokio::time::sleep(Duration::from_secs(3)).await;
        by_connections.push((c, wrk::wrk(&url, &ctx.demo, c, 10)));
    }
    let (by_size, peak_rss) = by_size(ctx, &url).await;
    drop(watch);
    Throughput::Measured(Measured { origin, by_connections, by_size, peak_rss })
}

/// Our own `cargo lambda watch --release` (the harness's runs the debug build) with the same configuration, once it
/// serves the proxy: the process and its origin.
pub async fn start_release_watch(ctx: &Ctx) -> (tests::Proc, String) {
    let port = tests::free_port();
    let env_file = ctx.logs.join("watch.env");
    xtask::stack::write_env_file(&ctx.env_direct, &env_file).unwrap();
    eprintln!("bench: the release build under cargo lambda, port {port}");
    let watch = xtask::stack::Watch { release: true, ..xtask::stack::Watch::new(port, env_file) }
        .spawn(&ctx.logs.join("watch.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    let origin = format!("http://127.0.0.1:{port}");
    let probe = prober(ctx, &format!("{origin}{CUSTOMERS}"));
    tests::wait_until("the release build to serve the proxy", Duration::from_secs(600), &probe).await;
    (watch, origin)
}

/// A check that demo's GET of `url` answers 200 (with the front door's secret header when the functions want it).
pub fn prober(ctx: &Ctx, url: &str) -> impl Fn() -> Pin<Box<dyn Future<Output = bool>>> + use<> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let (url, cookie) = (url.to_string(), ctx.demo.clone());
    let secret = ctx.env_direct.iter().find(|(k, _)| k == xtask::stack::front_door::SECRET_ENV).map(|(_, v)| v.clone());
    move || {
        let mut req = http.get(&url).header("x-csrf", "1").header("cookie", &cookie);
        if let Some(s) = &secret {
            req = req.header("x-bff-front-door", s);
        }
        Box::pin(async move { matches!(req.send().await, Ok(r) if r.status() == 200) })
    }
}

/// Each of [`SIZES`]: direct and the harness's proxy interleaved (20 calls each after 2 warm-ups), then through
/// `cargo lambda watch --release`; the proxy process's peak RSS after them.
async fn by_size(ctx: &mut Ctx, url: &str) -> (Vec<SizeRow>, u64) {
    let p = match ctx.hot_proxy.take() {
        Some(p) => p,
        None => ctx.start("proxy", &ctx.env_direct).await,
    };
    let ev = ctx.customers_event();
    let mut rows = vec![];
    for (label, bytes) in SIZES {
        eprintln!("bench: response size {label}");
        ctx.app.emulator_control(json!({ "apiResponseBytes": bytes })).await;
        let (mut direct, mut bff) = (Samples::default(), Samples::default());
        let mut body = 0;
        for i in 0..22 {
            let o = p.call(&ev).await;
            assert_eq!(o.status(), 200, "{label}: {}", String::from_utf8_lossy(&o.body[..o.body.len().min(300)]));
            let (t, s, n) = ctx.direct_call().await;
            assert_eq!(s, 200);
            if i >= 2 {
                bff.push(o.duration());
                direct.push(t);
                body = n;
            }
        }
        // Through cargo lambda watch: sequential calls with a short timeout (it can stall on large bodies), then wrk.
        let (watch, watch_answers) = wrk::sequential(url, &ctx.demo, 50).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let watch_wrk = wrk::wrk(url, &ctx.demo, 1, 10);
        rows.push(SizeRow { label, body, direct, bff, watch, watch_answers, watch_wrk });
    }
    ctx.app.emulator_control(json!({})).await;
    let (hwm, _) = p.memory_kib();
    (rows, hwm * 1024)
}
