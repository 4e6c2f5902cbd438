//! The six functions: their names, their release build, and the API Gateway events they are invoked with.

use std::process::Command;

pub const FUNCTIONS: [&str; 6] = ["login", "callback", "session", "refresh", "logout", "proxy"];
/// The proxied request of the proxy, throughput and scale sections.
pub const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers?$top=10";

/// `PATH` with the repository's `.venv/bin` first (where `cargo lambda` is installed).
pub fn venv_path() -> String {
    let venv = tests::repo_root().join(".venv").join("bin");
    format!("{}:{}", venv.display(), std::env::var("PATH").unwrap_or_default())
}

/// `cargo build --release` of the six functions: a no-op when this binary was built in the same invocation (the
/// bench depends on `shared`, so both resolve the same features and share every artifact).
pub fn build() {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(tests::repo_root()).args(["build", "--release", "--quiet"]);
    for f in FUNCTIONS {
        cmd.args(["-p", f]);
    }
    eprintln!("bench: cargo build --release of the six functions");
    let st = cmd.status().expect("cargo");
    assert!(st.success(), "the release build failed");
}

/// The API Gateway v2 event of a call (the tests' runtime harness builds it).
pub use tests::runtime::event;
