//! Large answers (1, 20 and 50 MB) through the local front door (`infra/front-door.js`, as CloudFront and the
//! proxy's function URL, in front of `cargo lambda watch --release`, the proxy streaming) against the emulator
//! directly: time to first byte and total time per call, and the proxy process's peak RSS after each size (sizes in
//! increasing order, so a peak that does not grow means memory stays flat).

use crate::functions::CUSTOMERS;
use crate::stack::Ctx;
use crate::stats::Samples;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The emulator's padded answer sizes.
pub const SIZES: [(&str, u64); 3] = [("1 MB", 1_000_000), ("20 MB", 20_000_000), ("50 MB", 50_000_000)];
/// Calls per size and way (after one warm-up each).
pub const CALLS: usize = 5;

pub struct Stream {
    pub rows: Vec<StreamRow>,
}

pub struct StreamRow {
    pub label: &'static str,
    pub bytes_direct: usize,
    pub bytes_bff: usize,
    pub direct_ttfb: Samples,
    pub direct_total: Samples,
    pub bff_ttfb: Samples,
    pub bff_total: Samples,
    /// `VmHWM` of the proxy process under `cargo lambda watch` after this size's calls (KiB; 0: not found).
    pub proxy_hwm_kib: u64,
}

pub async fn run(ctx: &mut Ctx) -> Stream {
    // The proxy answers as a stream only with PROXY_STREAMING=true (as the template deploys it), and behind the
    // front door the functions want its secret header.
    let secret = xtask::stack::front_door::secret_for(&[]);
    ctx.env_direct.push(("PROXY_STREAMING".into(), "true".into()));
    ctx.env_direct.push((xtask::stack::front_door::SECRET_ENV.into(), secret.clone()));
    let (watch, functions) = super::throughput::start_release_watch(ctx).await;
    // The front door's own readiness check is an anonymous `/auth/session`: build that function first.
    let session = super::throughput::prober(ctx, &format!("{functions}/auth/session"));
    tests::wait_until("the release build to serve /auth/session", Duration::from_secs(600), &session).await;
    ctx.env_direct.truncate(ctx.env_direct.len() - 2);
    let watch_port: u16 = functions.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the functions' port");
    let front_door =
        xtask::stack::FrontDoor::start(tests::free_port(), watch_port, &secret, None, &ctx.logs.join("front-door.log"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let origin = format!("http://127.0.0.1:{}", front_door.port);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let mut rows = vec![];
    for (label, bytes) in SIZES {
        eprintln!("bench: streamed answer {label}");
        ctx.app.emulator_control(json!({ "apiResponseBytes": bytes })).await;
        let mut row = StreamRow {
            label,
            bytes_direct: 0,
            bytes_bff: 0,
            direct_ttfb: Samples::default(),
            direct_total: Samples::default(),
            bff_ttfb: Samples::default(),
            bff_total: Samples::default(),
            proxy_hwm_kib: 0,
        };
        for i in 0..=CALLS {
            let (ttfb, total, n) = timed(ctx.direct_request(&http)).await;
            if i > 0 {
                row.bytes_direct = n;
                row.direct_ttfb.push(ttfb);
                row.direct_total.push(total);
            }
            let bff = http.get(format!("{origin}{CUSTOMERS}")).header("x-csrf", "1").header("cookie", &ctx.demo);
            let (ttfb, total, n) = timed(bff).await;
            if i > 0 {
                row.bytes_bff = n;
                row.bff_ttfb.push(ttfb);
                row.bff_total.push(total);
            }
        }
        row.proxy_hwm_kib = proxy_pid(&ctx.logs.join("watch.log")).map_or(0, vm_hwm_kib);
        rows.push(row);
    }
    ctx.app.emulator_control(json!({})).await;
    drop(front_door);
    drop(watch);
    Stream { rows }
}

/// One GET read to its end: time to the first body byte, total time, bytes.
async fn timed(req: reqwest::RequestBuilder) -> (Duration, Duration, usize) {
    let t = Instant::now();
    let mut r = req.send().await.expect("request");
    assert_eq!(r.status(), 200);
    let (mut first, mut n) = (None, 0);
    while let Some(chunk) = r.chunk().await.expect("body") {
        if first.is_none() && !chunk.is_empty() {
            first = Some(t.elapsed());
        }
        n += chunk.len();
    }
    (first.unwrap_or_else(|| t.elapsed()), t.elapsed(), n)
}

/// The pid of the process that served the last proxied call (the functions log it with each request).
fn proxy_pid(log: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains("\"path\":\"/api/"))?;
    let v: serde_json::Value = serde_json::from_str(line.get(line.find('{')?..)?).ok()?;
    v["pid"].as_u64().map(|p| p as u32)
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}
