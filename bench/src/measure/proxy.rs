//! The proxy hot path: latency against a direct call to the API, CPU per call, and the calls it makes per request.

use crate::counters::{Counted, counted};
use crate::stack::Ctx;
use crate::stats::Samples;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::runtime::{FnProcess, cpu_ticks};

/// Calls before the measured ones.
pub const WARM_UP: usize = 50;
/// Calls of the counted process after its first.
pub const COUNTED: usize = 200;

pub struct Proxy {
    /// Calls each way, in the latency and in the CPU runs.
    pub calls: usize,
    /// Response body bytes through the BFF and direct.
    pub body_bff: usize,
    pub body_direct: usize,
    /// The function's duration, the same seen through the harness's HTTP hops, and the direct call.
    pub bff: Samples,
    pub bff_harness: Samples,
    pub direct: Samples,
    pub hz: u64,
    pub cpu_bff: CpuRun,
    pub cpu_direct: CpuRun,
    /// `VmHWM` of the hot process after all its calls, bytes.
    pub peak_rss: u64,
    /// The counted fresh process.
    pub counted: Counted,
}

/// A run of sequential calls, per call: CPU of the proxy process (none for the direct run) and of the emulator, and
/// wall time, in ms.
pub struct CpuRun {
    pub bff_ms: Option<f64>,
    pub emulator_ms: f64,
    pub wall_ms: f64,
}

impl Proxy {
    /// Exactly 1 GetItem, 0 writes and 0 identity-server calls per request.
    pub fn target_met(&self) -> bool {
        let w = &self.counted.warm_counts;
        let n = self.counted.n as u64;
        w.ddb.op("GetItem") == n && w.ddb.total == n && w.upstream.idp == 0
    }

    /// All the calls the hot process made.
    pub fn hot_calls(&self) -> usize {
        WARM_UP + 3 * self.calls
    }
}

pub async fn run(ctx: &mut Ctx, calls: usize) -> Proxy {
    let ev = ctx.customers_event();
    eprintln!("bench: proxy hot path, {calls} calls each way");
    let p = ctx.start("proxy", &ctx.env_direct).await;
    let (body_bff, body_direct) = warm_up(ctx, &p, &ev).await;
    // Latency: the two interleaved, so both see the same machine.
    let (mut bff, mut bff_harness, mut direct) = (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..calls {
        let o = p.call(&ev).await;
        assert_eq!(o.status(), 200);
        bff.push(o.duration());
        bff_harness.push(o.done - o.submitted);
        direct.push(ctx.direct_call().await.0);
    }
    let (cpu_bff, cpu_direct) = cpu(ctx, &p, &ev, calls).await;
    let (hwm, _) = p.memory_kib();
    ctx.hot_proxy = Some(p);
    // Counting: a fresh process against the counting ddb-proxy; its first call separately.
    eprintln!("bench: counting DynamoDB and identity-server calls of the proxy");
    let counted = counted(ctx, "proxy", &ev, COUNTED).await;
    Proxy {
        calls,
        body_bff,
        body_direct,
        bff,
        bff_harness,
        direct,
        hz: ctx.hz,
        cpu_bff,
        cpu_direct,
        peak_rss: hwm * 1024,
        counted,
    }
}

/// [`WARM_UP`] calls each way: the body sizes.
async fn warm_up(ctx: &Ctx, p: &FnProcess, ev: &Value) -> (usize, usize) {
    let (mut body_bff, mut body_direct) = (0, 0);
    for _ in 0..WARM_UP {
        let o = p.call(ev).await;
        assert_eq!(o.status(), 200, "proxy: {}", String::from_utf8_lossy(&o.body));
        body_bff = o.body_len();
        let (_, s, n) = ctx.direct_call().await;
        assert_eq!(s, 200, "direct call");
        body_direct = n;
    }
    (body_bff, body_direct)
}

/// CPU: `calls` through the BFF, then `calls` direct, each alone.
async fn cpu(ctx: &Ctx, p: &FnProcess, ev: &Value, calls: usize) -> (CpuRun, CpuRun) {
    let emu = ctx.app.emulator.proc.pid();
    let perf = perf_record(ctx, p).await;
    let (p0, e0) = (p.cpu_ticks(), cpu_ticks(emu));
    let t = Instant::now();
    for _ in 0..calls {
        p.call(ev).await;
    }
    let bff_wall = t.elapsed();
    if let Some(mut perf) = perf {
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
    let wall = |d: Duration| d.as_secs_f64() * 1000.0 / calls as f64;
    (
        CpuRun { bff_ms: Some(per_call(p1 - p0)), emulator_ms: per_call(e1 - e0), wall_ms: wall(bff_wall) },
        CpuRun { bff_ms: None, emulator_ms: per_call(e2 - e1), wall_ms: wall(direct_wall) },
    )
}

/// BENCH_PERF=1: a `perf record -g` of the proxy process over the CPU run (for an unstripped binary, see --bin-dir),
/// into target/bench/perf.data; BENCH_PERF=dwarf unwinds with DWARF instead of frame pointers (a release build has
/// none: only then is "where the time goes under a caller" right).
async fn perf_record(ctx: &Ctx, p: &FnProcess) -> Option<Child> {
    let graph = match std::env::var("BENCH_PERF").as_deref() {
        Ok("1") => "fp",
        Ok("dwarf") => "dwarf,32768",
        _ => return None,
    };
    let perf = Command::new("perf")
        .args(["record", "-F", "2000", "--call-graph", graph, "-o"])
        .arg(ctx.logs.join("perf.data"))
        .args(["-p", &p.pid().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    perf
}
