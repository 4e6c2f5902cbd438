//! The scenarios: each measures and returns its figures as a typed result; [`crate::report`] renders them.

pub mod cold;
pub mod memory;
pub mod proxy;
pub mod refresh;
pub mod scale;
pub mod size;
pub mod stream;
pub mod throughput;
pub mod wrk;

use std::collections::BTreeMap;

/// How many answers had each status (`0` for a function error).
pub type Statuses = BTreeMap<u16, usize>;

/// One section's figures.
pub enum Measured {
    Cold(cold::Cold),
    Memory(memory::Memory),
    Proxy(proxy::Proxy),
    Refresh(refresh::Refresh),
    Throughput(throughput::Throughput),
    Scale(scale::Scale),
    Size(size::Size),
    Stream(stream::Stream),
}

/// Counts one more answer with `status`.
pub fn tally(statuses: &mut Statuses, status: u16) {
    *statuses.entry(status).or_insert(0) += 1;
}
