//! Black-box test harness for the BFF on the real local stack, in the style of zero2prod's `tests/api/helpers.rs`:
//!
//! - [`stack`]: [`spawn_app`] / [`spawn_app_with`] start one test's private stack ([`TestApp`]) through xtask's one
//!   definition of the local stack (`xtask/src/stack/`), which also owns process handling ([`Proc`]) and polling;
//! - [`browser`]: [`Browser`], an HTTP client with one cookie jar per host that never follows redirects by itself;
//! - [`emulator`]: the ERP.net emulator's test hooks;
//! - [`signin`]: sign-in and the SPA's API calls;
//! - [`storm`]: many calls at once;
//! - [`runtime`]: one function process under a minimal Lambda Runtime API (several invocations at once, as Lambda
//!   Managed Instances hand them).
//!
//! DynamoDB Local must be running: its endpoint comes from `BFF_TEST_DYNAMODB`, which
//! `cargo xtask with-dynamodb -- …` exports (`make test` runs the tests so). Everything else the harness starts
//! and stops itself.

pub mod browser;
pub mod emulator;
pub mod instances;
pub mod runtime;
pub mod signin;
pub mod stack;
pub mod storm;

pub use browser::{Browser, Resp};
pub use signin::{content_sha256, enc, form_action};
pub use stack::{
    CLIENT_ID, CLIENT_SECRET, Options, PrivateDynamo, Runtime, TestApp, dynamodb_endpoint, spawn_app, spawn_app_with,
};
pub use storm::{Call, storm};
pub use xtask::stack::{Proc, free_port};

use std::path::PathBuf;
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    xtask::repo_root()
}

/// Polls `check` until it is true, panicking after `timeout` (no sleeps as synchronisation: a deadline).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    xtask::stack::poll_until(what, timeout, check).await.unwrap_or_else(|e| panic!("{e}"));
}

/// Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
