//! The scenarios: each measures and returns its figures as a typed result; [`crate::report`] renders them.

pub mod cold;
pub mod instances;
pub mod managed;
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
    Managed(managed::Managed),
    Instances(instances::Instances),
    /// The same sections run against the Node.js peer's executables, each right after ours.
    Versus(Box<Versus>),
}

/// The peer's figures of the sections that ran on both sides (ours are the run's own sections).
pub struct Versus {
    pub peer_dir: std::path::PathBuf,
    pub peer: Vec<Measured>,
}

/// Counts one more answer with `status`.
pub fn tally(statuses: &mut Statuses, status: u16) {
    *statuses.entry(status).or_insert(0) += 1;
}
