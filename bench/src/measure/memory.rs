//! Peak memory and warm latency of each function over a sequential load.

use super::Statuses;
use crate::stack::Ctx;
use crate::stats::Samples;

pub struct Memory {
    /// Sequential invocations per function.
    pub load: usize,
    pub rows: Vec<MemoryRow>,
}

pub struct MemoryRow {
    pub function: &'static str,
    pub event: &'static str,
    /// `VmHWM` after the load, bytes.
    pub peak_rss: u64,
    /// `VmRSS` after the load, bytes.
    pub rss_after: u64,
    /// The function's own time per invocation.
    pub duration: Samples,
    pub statuses: Statuses,
}

pub async fn run(ctx: &Ctx, load: usize) -> Memory {
    let mut rows = vec![];
    for name in ctx.present_functions() {
        eprintln!("bench: {load} invocations of {name}");
        let (ev, what) = ctx.load_event(name);
        let p = ctx.start(name, &ctx.env_direct).await;
        let mut duration = Samples::default();
        let mut statuses = Statuses::new();
        for _ in 0..load {
            let o = p.call(&ev).await;
            duration.push(o.duration());
            super::tally(&mut statuses, o.status());
        }
        let (hwm, rss) = p.memory_kib();
        rows.push(MemoryRow {
            function: name,
            event: what,
            peak_rss: hwm * 1024,
            rss_after: rss * 1024,
            duration,
            statuses,
        });
    }
    Memory { load, rows }
}
