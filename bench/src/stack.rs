//! The local stack every runtime-harness section measures against, and starting a function process under it.

use crate::functions::{CUSTOMERS, FUNCTIONS, event};
use serde_json::Value;
use shared::http::cookies::SESSION;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tests::runtime::FnProcess;
use tests::{Browser, Options, TestApp, spawn_app_with};

/// The local stack (`tests::spawn_app_with`: the ERP.net emulator, DynamoDB Local behind `infra/ddb-proxy.js`,
/// cargo-lambda's `watch` for the sign-in) and what every section needs from it.
pub struct Ctx {
    pub app: TestApp,
    /// target/bench: the function processes' logs and the bench's scratch files.
    pub logs: PathBuf,
    /// The BFF's environment (from the harness's env file) with DynamoDB Local called directly …
    pub env_direct: Vec<(String, String)>,
    /// … and through the counting ddb-proxy.
    pub env_counted: Vec<(String, String)>,
    pub host: String,
    /// `name=value` session cookies: demo for the proxy and session, alice for refresh.
    pub demo: String,
    pub alice: String,
    /// demo's access token, for the direct calls to the API.
    demo_token: String,
    direct: reqwest::Client,
    /// USER_HZ, for the CPU figures.
    pub hz: u64,
    /// The warm proxy process of the hot-path section (reused by the response-size sweep).
    pub hot_proxy: Option<FnProcess>,
    bin_dir: PathBuf,
}

impl Ctx {
    pub async fn new(bin_dir: PathBuf) -> Ctx {
        eprintln!("bench: starting the local stack (emulator, ddb-proxy, cargo-lambda's watch)");
        // `POST /auth/refresh` is measured as a real refresh: no floor.
        let mut bff_env = vec![("REFRESH_FLOOR_SECONDS".into(), "0".into())];
        if let Ok(v) = std::env::var("BENCH_PROXY_STREAMING") {
            bff_env.push(("PROXY_STREAMING".into(), v));
        }
        let app = spawn_app_with(Options { ddb_proxy: true, bff_env, ..Options::default() }).await;
        let logs = tests::repo_root().join("target").join("bench");
        std::fs::create_dir_all(&logs).unwrap();
        let env_counted = app.function_env();
        let env_direct = env_counted
            .iter()
            .map(|(k, v)| {
                let v = if k == "AWS_ENDPOINT_URL_DYNAMODB" { tests::dynamodb_endpoint() } else { v.clone() };
                (k.clone(), v)
            })
            .collect();
        let host = app.origin().trim_start_matches("http://").to_string();
        let demo = sign_in(&app, "demo").await;
        let secrets = app.emulator_secrets().await;
        let demo_token =
            secrets["accessTokens"].as_array().and_then(|a| a.last()).and_then(Value::as_str).unwrap().to_string();
        let alice = sign_in(&app, "alice").await;
        let direct = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let hz = crate::stats::clock_ticks();
        Ctx { app, logs, env_direct, env_counted, host, demo, alice, demo_token, direct, hz, hot_proxy: None, bin_dir }
    }

    /// Runs the functions from `dir` from now on; answers the directory used before.
    pub fn use_bin_dir(&mut self, dir: PathBuf) -> PathBuf {
        std::mem::replace(&mut self.bin_dir, dir)
    }

    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The functions whose binary is in the binaries' directory (`--bin-dir` may hold only some).
    pub fn present_functions(&self) -> impl Iterator<Item = &'static str> + use<'_> {
        FUNCTIONS.into_iter().filter(|f| self.binary(f).exists())
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// The event each function gets in the cold-start and load runs, and how the report describes it.
    pub fn load_event(&self, name: &str) -> (Value, &'static str) {
        let h = &self.host;
        match name {
            "login" => (event(h, "GET", "/auth/login?returnUrl=%2F", None, false), "GET /auth/login (302; PutItem)"),
            "callback" => (
                event(h, "GET", "/auth/callback?code=bench&state=bench", None, false),
                "GET /auth/callback, unknown state (400)",
            ),
            "session" => {
                (event(h, "GET", "/auth/session", Some(&self.demo), true), "GET /auth/session, signed in (GetItem)")
            }
            "refresh" => (
                event(h, "POST", "/auth/refresh", Some(&self.alice), true),
                "POST /auth/refresh, signed in (a real refresh)",
            ),
            "logout" => (event(h, "GET", "/auth/logout", None, false), "GET /auth/logout, no session (302)"),
            "proxy" => (self.customers_event(), "GET /api/…Customers?$top=10 (200)"),
            _ => unreachable!(),
        }
    }

    /// demo's `GET` of [`CUSTOMERS`] through the proxy.
    pub fn customers_event(&self) -> Value {
        event(&self.host, "GET", CUSTOMERS, Some(&self.demo), true)
    }

    /// Starts a function process and waits for its first `next` poll.
    pub async fn start(&self, name: &str, env: &[(String, String)]) -> FnProcess {
        FnProcess::start(name, &self.binary(name), env, &self.log(name)).await
    }

    /// A direct call to the API with demo's bearer token: (latency, status, body bytes).
    /// demo's GET of the customers at the emulator's API itself, with the bearer token.
    pub fn direct_request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.app.emulator.origin(), CUSTOMERS);
        http.get(url)
            .header("authorization", format!("Bearer {}", self.demo_token))
            .header("accept", "application/json")
    }

    pub async fn direct_call(&self) -> (Duration, u16, usize) {
        let url = format!("{}{}", self.app.emulator.origin(), CUSTOMERS);
        let t = Instant::now();
        let r = self
            .direct
            .get(url)
            .header("authorization", format!("Bearer {}", self.demo_token))
            .header("accept", "application/json")
            .send()
            .await
            .expect("direct call");
        let status = r.status().as_u16();
        let body = r.bytes().await.expect("direct body");
        (t.elapsed(), status, body.len())
    }
}

/// Signs `user` in (password = login) through the real flow: its `name=value` session cookie.
async fn sign_in(app: &TestApp, user: &str) -> String {
    let mut b = Browser::new();
    app.sign_in(&mut b, user, user).await;
    let value = b.cookie("localhost", SESSION).unwrap_or_else(|| panic!("{user}'s session cookie"));
    format!("{SESSION}={value}")
}
