//! The six functions: their names, their release build, and the API Gateway events they are invoked with.

use serde_json::{Value, json};
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

/// An API Gateway v2 (HTTP API) event, as the function receives it from API Gateway.
pub fn event(host: &str, method: &str, target: &str, cookie: Option<&str>, csrf: bool) -> Value {
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
