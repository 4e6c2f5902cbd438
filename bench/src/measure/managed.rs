//! Lambda Managed Instances: the proxy serving several invocations at once in one process
//! (`AWS_LAMBDA_MAX_CONCURRENCY`), against one at a time, on the same hot-path call: requests per second and per
//! CPU-second of the process.

use crate::stack::Ctx;
use std::time::Instant;
use tests::runtime::Outcome;

pub struct Managed {
    /// Calls per mode.
    pub calls: usize,
    pub hz: u64,
    pub rows: Vec<ManagedRow>,
}

pub struct ManagedRow {
    /// `AWS_LAMBDA_MAX_CONCURRENCY` (1: the classic model, one event at a time).
    pub concurrency: usize,
    /// Calls kept in flight by the harness.
    pub in_flight: usize,
    pub wall_s: f64,
    /// utime + stime of the process over the calls, seconds.
    pub cpu_s: f64,
    pub ok: usize,
}

impl ManagedRow {
    pub fn per_second(&self, calls: usize) -> f64 {
        calls as f64 / self.wall_s
    }
    /// Requests per CPU-second of the process: per core, were the core its own.
    pub fn per_core_second(&self, calls: usize) -> f64 {
        calls as f64 / self.cpu_s
    }
}

pub async fn run(ctx: &Ctx, calls: usize) -> Managed {
    let mut rows = vec![];
    for concurrency in [1usize, 4, 16] {
        eprintln!("bench: proxy with AWS_LAMBDA_MAX_CONCURRENCY={concurrency}, {calls} calls");
        let mut env = ctx.env_direct.clone();
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), concurrency.to_string()));
        let p = ctx.start("proxy", &env).await;
        let ev = ctx.customers_event();
        // Warm-up: connections opened, discovery cached.
        for _ in 0..20 {
            assert_eq!(p.call(&ev).await.status(), 200, "proxy (concurrency {concurrency})");
        }
        let in_flight = concurrency.max(4);
        let (t0, c0) = (Instant::now(), p.cpu_ticks());
        let mut ok = 0;
        let mut sent = 0;
        let mut waiting = std::collections::VecDeque::new();
        while sent < calls || !waiting.is_empty() {
            while sent < calls && waiting.len() < in_flight {
                waiting.push_back(p.rt.submit(&ev));
                sent += 1;
            }
            let o: Outcome = waiting.pop_front().expect("one in flight").await.expect("outcome");
            ok += usize::from(o.status() == 200);
        }
        let wall_s = t0.elapsed().as_secs_f64();
        let cpu_s = (p.cpu_ticks() - c0) as f64 / ctx.hz as f64;
        rows.push(ManagedRow { concurrency, in_flight, wall_s, cpu_s, ok });
    }
    Managed { calls, hz: ctx.hz, rows }
}
