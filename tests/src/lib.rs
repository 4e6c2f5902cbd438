//! Black-box test harness: [`spawn_app`] starts a private BFF stack for one test — the ERP.net emulator (real
//! oidc-provider, in Node) and the six functions under `cargo lambda watch` — against the shared DynamoDB Local
//! (with a table of its own, created from template.yaml). [`Browser`] is an HTTP client that keeps cookies per
//! host and never follows redirects by itself, so tests can look at every hop.
//!
//! DynamoDB Local must be running (the Makefile starts it): its endpoint comes from `BFF_TEST_DYNAMODB`
//! (default `http://127.0.0.1:8000`). Everything else the harness starts and stops itself.

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use url::Url;

pub const CLIENT_ID: &str = "my.trusted.app/first";
pub const CLIENT_SECRET: &str = "test-secret-4b1f0c2e";

pub fn repo_root() -> PathBuf {
    xtask::repo_root()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it is true or `timeout` passes (no sleeps as synchronisation: a deadline).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// A child process group, killed (TERM, then KILL) when dropped.
pub struct Proc {
    child: Child,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: &PathBuf) -> Proc {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, name: name.into() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Clone)]
pub struct Options {
    pub access_token_ttl: u64,
    /// Extra environment for the BFF functions.
    pub bff_env: Vec<(String, String)>,
    /// Extra environment for the emulator.
    pub emulator_env: Vec<(String, String)>,
    /// Lambda execution environments per function (`cargo lambda watch --concurrency`).
    pub concurrency: usize,
    /// Keep the emulator's grants and keys in a file, so a restarted emulator still knows the sessions' tokens.
    pub emulator_state_file: bool,
    /// A DynamoDB Local of this test's own (on disk, so it can be stopped and restarted), not the shared one.
    pub private_dynamodb: bool,
    /// Put `infra/ddb-proxy.js` between the BFF and DynamoDB: counts operations, injects faults.
    pub ddb_proxy: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            access_token_ttl: 3600,
            bff_env: vec![],
            emulator_env: vec![],
            concurrency: 1,
            emulator_state_file: false,
            private_dynamodb: false,
            ddb_proxy: false,
        }
    }
}

/// The ERP.net emulator of one test.
pub struct Emulator {
    pub proc: Proc,
    pub port: u16,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

impl Emulator {
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn issuer(&self) -> String {
        format!("{}/id", self.origin())
    }

    fn start(port: u16, env: &[(String, String)], log: PathBuf) -> Proc {
        let mut cmd = Command::new("node");
        cmd.current_dir(repo_root()).arg("infra/emulator/server.js");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let _ = port;
        Proc::spawn("emulator", cmd, &log)
    }

    /// Stops the emulator (the identity server and API go down).
    pub fn stop(&mut self) {
        self.proc.stop();
    }

    /// Starts it again on the same port. Its state is in memory: earlier grants are gone.
    pub async fn restart(&mut self) {
        self.proc.stop();
        self.proc = Emulator::start(self.port, &self.env, self.log.clone());
        wait_healthy(&self.origin()).await;
    }
}

async fn wait_healthy(origin: &str) {
    let url = format!("{origin}/__emulator/health");
    let client = reqwest::Client::new();
    wait_until("the ERP.net emulator", Duration::from_secs(30), || {
        let req = client.get(&url).send();
        async move { matches!(req.await, Ok(r) if r.status().is_success()) }
    })
    .await;
}

/// One test's private stack.
pub struct TestApp {
    pub emulator: Emulator,
    pub bff: Proc,
    pub bff_port: u16,
    pub bff_log: PathBuf,
    env_file: PathBuf,
    concurrency: usize,
    /// More runtimes serving the same functions (see [`TestApp::spawn_instance`]).
    pub instances: Vec<Instance>,
    pub private_ddb: Option<PrivateDynamo>,
    pub ddb_proxy: Option<(Proc, u16)>,
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub http: reqwest::Client,
}

pub fn dynamodb_endpoint() -> String {
    std::env::var("BFF_TEST_DYNAMODB").unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let root = repo_root();
    let logs = root.join("target").join("test-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let id = format!("{}-{}", std::process::id(), free_port());

    // DynamoDB Local: shared, one table per test (or a private one).
    let private_ddb = opts.private_dynamodb.then(|| PrivateDynamo::start(&logs, &id));
    if let Some(p) = &private_ddb {
        p.wait().await;
    }
    let endpoint = private_ddb.as_ref().map(|p| p.endpoint()).unwrap_or_else(dynamodb_endpoint);
    let dynamo = xtask::local_dynamodb(&endpoint).await;
    let table = format!("sessions-{id}");
    if let Err(e) = xtask::create_table(&dynamo, &table).await {
        panic!("DynamoDB Local is not reachable at {endpoint} ({e}). Start it with `make test` (or `make dev`).");
    }

    let ddb_proxy = if opts.ddb_proxy {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.current_dir(&root).args(["infra/ddb-proxy.js", "--port", &port.to_string(), "--target", &endpoint]);
        let proc = Proc::spawn("ddb-proxy", cmd, &logs.join(format!("{id}-ddb-proxy.log")));
        let client = reqwest::Client::new();
        let health = format!("http://127.0.0.1:{port}/__ddbproxy/health");
        wait_until("the DynamoDB proxy", Duration::from_secs(30), || {
            let req = client.get(&health).send();
            async move { matches!(req.await, Ok(r) if r.status().is_success()) }
        })
        .await;
        Some((proc, port))
    } else {
        None
    };
    let bff_endpoint =
        ddb_proxy.as_ref().map(|(_, port)| format!("http://127.0.0.1:{port}")).unwrap_or(endpoint.clone());

    let bff_port = free_port();
    let emu_port = free_port();
    let public_origin = format!("http://localhost:{bff_port}");

    let mut emu_env: Vec<(String, String)> = vec![
        ("EMULATOR_HOST".into(), "127.0.0.1".into()),
        ("EMULATOR_PORT".into(), emu_port.to_string()),
        ("EMULATOR_CLIENT_ID".into(), CLIENT_ID.into()),
        ("EMULATOR_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
        ("EMULATOR_REDIRECT_URIS".into(), format!("{public_origin}/auth/callback")),
        ("EMULATOR_POST_LOGOUT_URIS".into(), format!("{public_origin}/")),
        ("EMULATOR_ACCESS_TOKEN_TTL".into(), opts.access_token_ttl.to_string()),
    ];
    if opts.emulator_state_file {
        let file = logs.join(format!("{id}-emulator-state.json"));
        emu_env.push(("EMULATOR_STATE_FILE".into(), file.display().to_string()));
    }
    emu_env.extend(opts.emulator_env.iter().cloned());
    let emu_log = logs.join(format!("{id}-emulator.log"));
    let emulator = Emulator {
        proc: Emulator::start(emu_port, &emu_env, emu_log.clone()),
        port: emu_port,
        env: emu_env,
        log: emu_log,
    };

    let mut env: Vec<(String, String)> = vec![
        ("ERPNET_URL".into(), emulator.origin()),
        ("CLIENT_ID".into(), CLIENT_ID.into()),
        ("CLIENT_SECRET".into(), CLIENT_SECRET.into()),
        ("PUBLIC_ORIGIN".into(), public_origin),
        ("SESSION_TABLE".into(), table.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB".into(), bff_endpoint),
        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
        ("AWS_REGION".into(), "eu-west-1".into()),
        ("RUST_LOG".into(), "info".into()),
    ];
    env.extend(opts.bff_env.iter().cloned());
    let env_file = logs.join(format!("{id}-bff.env"));
    std::fs::write(&env_file, env.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>()).unwrap();

    let bff_log = logs.join(format!("{id}-bff.log"));
    let bff = cargo_lambda_watch(bff_port, &env_file, opts.concurrency, &bff_log);

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let app = TestApp {
        emulator,
        bff,
        bff_port,
        bff_log,
        env_file,
        concurrency: opts.concurrency,
        instances: vec![],
        private_ddb,
        ddb_proxy,
        table,
        dynamo,
        http,
    };
    wait_healthy(&app.emulator.origin()).await;
    wait_serving(&app.http, bff_port).await;
    app
}

fn cargo_lambda_watch(port: u16, env_file: &PathBuf, concurrency: usize, log: &PathBuf) -> Proc {
    let root = repo_root();
    let venv_bin = root.join(".venv").join("bin");
    let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&root)
        .env("PATH", path)
        .args(["lambda", "watch", "--ignore-changes", "--disable-cors", "-A", "127.0.0.1", "-P"])
        .arg(port.to_string())
        .arg("--env-file")
        .arg(env_file)
        .args(["--concurrency", &concurrency.to_string()]);
    Proc::spawn("cargo lambda watch", cmd, log)
}

async fn wait_serving(http: &reqwest::Client, port: u16) {
    let probe = format!("http://localhost:{port}/auth/session");
    wait_until("cargo lambda watch to serve /auth/session", Duration::from_secs(180), || {
        let req = http.get(&probe).header("x-csrf", "1").send();
        async move { matches!(req.await, Ok(r) if r.status() == 200) }
    })
    .await;
}

/// A DynamoDB Local of one test, with its data on disk so that it survives [`PrivateDynamo::stop`] + `start`.
pub struct PrivateDynamo {
    proc: Option<Proc>,
    pub port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl PrivateDynamo {
    fn start(logs: &std::path::Path, id: &str) -> Self {
        let mut me = PrivateDynamo {
            proc: None,
            port: free_port(),
            dir: logs.join(format!("{id}-ddb")),
            log: logs.join(format!("{id}-ddb.log")),
        };
        me.spawn();
        me
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("bash");
        cmd.current_dir(repo_root())
            .arg("infra/dynamodb.sh")
            .arg(self.port.to_string())
            .env("DYNAMODB_DB_PATH", &self.dir);
        self.proc = Some(Proc::spawn("DynamoDB Local", cmd, &self.log));
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn wait(&self) {
        let addr = format!("127.0.0.1:{}", self.port);
        wait_until("DynamoDB Local", Duration::from_secs(60), || {
            let addr = addr.clone();
            async move { tokio::net::TcpStream::connect(addr).await.is_ok() }
        })
        .await;
    }

    /// Stops DynamoDB Local (the BFF's calls fail until [`PrivateDynamo::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn();
        self.wait().await;
    }
}

/// Another Lambda runtime (its own `cargo lambda watch`, its own function processes) with the same configuration
/// and table: an independent set of execution environments.
pub struct Instance {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl Instance {
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }
}
impl TestApp {
    /// Operation counts of the DynamoDB proxy (`Options::ddb_proxy`).
    pub async fn ddb_stats(&self) -> Value {
        let port = self.ddb_proxy.as_ref().expect("ddb_proxy").1;
        self.http.get(format!("http://127.0.0.1:{port}/__ddbproxy/stats")).send().await.unwrap().json().await.unwrap()
    }

    pub async fn ddb_reset(&self) {
        let port = self.ddb_proxy.as_ref().expect("ddb_proxy").1;
        self.http.post(format!("http://127.0.0.1:{port}/__ddbproxy/reset")).send().await.unwrap();
    }

    pub async fn ddb_control(&self, body: Value) {
        let port = self.ddb_proxy.as_ref().expect("ddb_proxy").1;
        let r = self.http.post(format!("http://127.0.0.1:{port}/__ddbproxy/control")).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "ddb-proxy control refused: {}", r.status());
    }

    /// Starts one more runtime serving the same functions against the same table and emulator.
    pub async fn spawn_instance(&mut self) -> String {
        let port = free_port();
        let log = self.bff_log.with_file_name(format!("instance-{port}-bff.log"));
        let proc = cargo_lambda_watch(port, &self.env_file, self.concurrency, &log);
        wait_serving(&self.http, port).await;
        self.instances.push(Instance { proc, port, log });
        format!("http://localhost:{port}")
    }

    /// The origins of every runtime of this app (the first is the app's public origin).
    pub fn runtime_origins(&self) -> Vec<String> {
        std::iter::once(self.origin()).chain(self.instances.iter().map(Instance::origin)).collect()
    }

    /// Logs of every runtime of this app.
    pub fn all_bff_logs(&self) -> String {
        let mut out = self.bff_logs();
        for i in &self.instances {
            out.push_str(&std::fs::read_to_string(&i.log).unwrap_or_default());
        }
        out
    }

    /// The one session item's attributes (panics unless exactly one session exists).
    pub async fn only_session(&self) -> HashMap<String, AttributeValue> {
        let mut items = self.session_items().await;
        assert_eq!(items.len(), 1, "expected exactly one session");
        items.remove(0)
    }

    pub async fn session_number(&self, attr: &str) -> i64 {
        self.only_session().await[attr].as_n().unwrap().parse().unwrap()
    }

    /// Waits (polling the clock against the stored expiry) until every session's access token has expired.
    pub async fn wait_access_tokens_expired(&self) {
        let latest = self
            .session_items()
            .await
            .iter()
            .map(|i| i[shared::session::store::attr::AT_EXP].as_n().unwrap().parse::<i64>().unwrap())
            .max()
            .expect("a session");
        wait_until("the access tokens to expire", Duration::from_secs(120), || async move { now() > latest }).await;
    }

    /// The app's public origin (the BFF and the SPA share it).
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.bff_port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }

    /// A JSON document of the emulator's test hooks, e.g. `/__emulator/stats`.
    pub async fn emulator_json(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.emulator.origin());
        self.http.get(&url).send().await.unwrap().json().await.unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    pub async fn emulator_stats(&self) -> Value {
        self.emulator_json("/__emulator/stats").await
    }

    /// Every token, code, verifier and client secret the identity server issued or received.
    pub async fn emulator_secrets(&self) -> Value {
        self.emulator_json("/__emulator/secrets").await
    }

    /// The API requests the emulator received (method, rawUrl, headers, body base64), oldest first.
    pub async fn emulator_requests(&self) -> Vec<Value> {
        match self.emulator_json("/__emulator/requests").await {
            Value::Array(a) => a,
            Value::Object(mut o) => o.remove("requests").and_then(|r| r.as_array().cloned()).unwrap_or_default(),
            _ => vec![],
        }
    }

    pub async fn emulator_control(&self, body: Value) {
        let r =
            self.http.post(format!("{}/__emulator/control", self.emulator.origin())).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "emulator control refused: {}", r.status());
    }

    /// Every item of this test's table.
    pub async fn scan(&self) -> Vec<HashMap<String, AttributeValue>> {
        let out = self.dynamo.scan().table_name(&self.table).consistent_read(true).send().await.unwrap();
        out.items.unwrap_or_default()
    }

    pub async fn session_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.scan()
            .await
            .into_iter()
            .filter(|i| i[shared::session::store::attr::PK].as_s().unwrap().starts_with("session#"))
            .collect()
    }

    /// Everything the functions and cargo lambda printed so far.
    pub fn bff_logs(&self) -> String {
        std::fs::read_to_string(&self.bff_log).unwrap_or_default()
    }

    /// `GET /auth/login?returnUrl=…` → the authorize URL the BFF redirects to.
    pub async fn start_login(&self, b: &mut Browser, return_url: Option<&str>) -> Url {
        let url = match return_url {
            Some(r) => format!("{}/auth/login?returnUrl={}", self.origin(), enc(r)),
            None => format!("{}/auth/login", self.origin()),
        };
        let r = b.get(&url).await;
        assert_eq!(r.status, 302, "login should redirect: {}", r.text());
        Url::parse(r.location().expect("Location")).unwrap()
    }

    /// Drives the emulator's real login page from the authorize URL until it redirects back to the app; returns
    /// that callback URL without calling it.
    pub async fn authenticate_at_emulator(&self, b: &mut Browser, authorize: &Url, login: &str, password: &str) -> Url {
        let mut r = b.get(authorize.as_str()).await;
        for _ in 0..10 {
            if let Some(loc) = r.location() {
                let next = r.url.join(loc).unwrap();
                if next.as_str().starts_with(&self.origin()) {
                    return next;
                }
                r = b.get(next.as_str()).await;
                continue;
            }
            assert_eq!(r.status, 200, "unexpected page at {}: {}", r.url, r.text());
            let html = r.text();
            let action = form_action(&html, "login-form").unwrap_or_else(|| panic!("no login form in {html}"));
            let action = r.url.join(&action).unwrap();
            r = b.post_form(action.as_str(), &[("login", login), ("password", password)]).await;
        }
        panic!("the emulator did not redirect back to the app");
    }

    /// A full sign-in: login → emulator login page → callback. Returns the callback's response.
    pub async fn sign_in(&self, b: &mut Browser, login: &str, password: &str) -> Resp {
        let authorize = self.start_login(b, Some("/")).await;
        let callback = self.authenticate_at_emulator(b, &authorize, login, password).await;
        let r = b.get(callback.as_str()).await;
        assert_eq!(r.status, 302, "callback failed: {}", r.text());
        r
    }

    /// A call from the SPA: `X-CSRF: 1` and the app's own Origin.
    pub async fn api(
        &self,
        b: &mut Browser,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut h: Vec<(&str, &str)> = vec![("x-csrf", "1")];
        h.extend_from_slice(headers);
        b.request(method, &self.url(path), &h, body).await
    }

    pub async fn session_json(&self, b: &mut Browser) -> Value {
        let r = self.api(b, Method::GET, "/auth/session", None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

/// One call of a [`storm`].
#[derive(Debug, Clone)]
pub struct Call {
    pub status: u16,
    /// The user the API answered for (`@emulator.user`), or the body of a failure.
    pub who: String,
    pub expected: &'static str,
    pub elapsed: Duration,
}

/// Fires `calls` GETs of `path` per browser at once, at most `in_flight` at a time, spread round-robin over
/// `origins` (several runtimes = several execution environments).
///
/// The cap: with several hundred requests parked in one `cargo lambda watch` runtime at once, the runtime stopped
/// dispatching invocations to its (idle) function processes — a limit of the local emulator, not of Lambda.
pub async fn storm(
    browsers: &[(Browser, &'static str)],
    origins: &[String],
    calls: usize,
    path: &str,
    in_flight: usize,
) -> Vec<Call> {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut set = tokio::task::JoinSet::new();
    let mut n = 0;
    for _ in 0..calls {
        for (b, expected) in browsers {
            let mut b = b.clone();
            let url = format!("{}{path}", origins[n % origins.len()]);
            let expected = *expected;
            n += 1;
            let gate = gate.clone();
            set.spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let t = Instant::now();
                let r = b.request(Method::GET, &url, &[("x-csrf", "1")], None).await;
                let who = if r.status == 200 {
                    r.json()["@emulator.user"].as_str().unwrap_or("").to_string()
                } else {
                    r.text()
                };
                Call { status: r.status, who, expected, elapsed: t.elapsed() }
            });
        }
    }
    set.join_all().await
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The `action` of `<form … id="{id}" …>` (or of the first form when there is no such id).
pub fn form_action(html: &str, id: &str) -> Option<String> {
    let forms: Vec<&str> = html.split("<form").skip(1).collect();
    let form =
        forms.iter().find(|f| f.split('>').next().unwrap_or("").contains(&format!("id=\"{id}\""))).or(forms.first())?;
    let tag = form.split('>').next()?;
    let start = tag.find("action=\"")? + 8;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// A response with its body read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub url: Url,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }
    /// The problem+json `code`, asserting the content type.
    pub fn problem_code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "status {} body {}",
            self.status,
            self.text()
        );
        self.json()["code"].as_str().unwrap().to_string()
    }
}

/// A browser-like HTTP client: cookies per host (ports do not separate cookies, hosts do), no automatic redirects.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    pub jar: HashMap<String, BTreeMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        Self { client, jar: HashMap::new() }
    }

    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.jar.get(host).and_then(|c| c.get(name)).cloned()
    }

    pub fn set_cookie(&mut self, host: &str, name: &str, value: &str) {
        self.jar.entry(host.into()).or_default().insert(name.into(), value.into());
    }

    pub async fn get(&mut self, url: &str) -> Resp {
        self.request(Method::GET, url, &[], None).await
    }

    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.request(
            Method::POST,
            url,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
        .await
    }

    pub async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let parsed = Url::parse(url).unwrap();
        let host = parsed.host_str().unwrap().to_string();
        let mut req = self.client.request(method, parsed.clone());
        if let Some(cookies) = self.jar.get(&host).filter(|c| !c.is_empty()) {
            let header = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.header("cookie", header);
        }
        for (k, v) in headers {
            req = req.header(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap().to_vec();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let first = sc.split(';').next().unwrap();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let expired = sc.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            let jar = self.jar.entry(host.clone()).or_default();
            if expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        Resp { status, headers, body, url: parsed }
    }
}

impl Browser {
    /// Sends a request exactly as written (no URL normalisation, no re-encoding): for byte-exact queries and
    /// hostile paths that an HTTP library would "fix". Cookies of the jar for the host are added.
    pub async fn raw(
        &mut self,
        origin: &str,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let base = Url::parse(origin).unwrap();
        let host = base.host_str().unwrap().to_string();
        let port = base.port_or_known_default().unwrap();
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
        let own_cookie = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("cookie"));
        if let Some(cookies) = self.jar.get(&host).filter(|c| !c.is_empty() && !own_cookie) {
            let line = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req.push_str(&format!("Cookie: {line}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(req.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut buf))
            .await
            .expect("raw response timed out")
            .unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let mut raw_body = buf[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let mut hm = HeaderMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                hm.append(
                    HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                    HeaderValue::from_str(v.trim()).unwrap(),
                );
            }
        }
        if hm.get("transfer-encoding").is_some_and(|v| v == "chunked") {
            raw_body = dechunk(&raw_body);
        }
        for sc in hm.get_all("set-cookie") {
            let first = sc.to_str().unwrap().split(';').next().unwrap().to_string();
            if let Some((name, value)) = first.split_once('=') {
                let jar = self.jar.entry(host.clone()).or_default();
                if value.is_empty() {
                    jar.remove(name)
                } else {
                    jar.insert(name.into(), value.into())
                };
            }
        }
        Resp { status, headers: hm, body: raw_body, url: base.join("/").unwrap() }
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..nl]).split(';').next().unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[nl + 2..nl + 2 + size]);
        data = &data[nl + 2 + size + 2..];
    }
    out
}
