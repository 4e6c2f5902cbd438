//! One test's private stack ([`spawn_app`] / [`spawn_app_with`]), started by xtask's one definition of the local
//! stack (`xtask/src/stack/`): the ERP.net emulator and the six functions under `cargo lambda watch`, against the
//! shared DynamoDB Local (`BFF_TEST_DYNAMODB`, with a table of its own) or a private one.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use xtask::stack::{DdbProxy, Dynamo, Emulator, FrontDoor, Proc, Stack, StackOptions, Watch, free_port};

pub use xtask::stack::CLIENT_ID;
pub use xtask::stack::DynamoLocal as PrivateDynamo;
pub const CLIENT_SECRET: &str = "test-secret-4b1f0c2e";

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
    /// Many instances (`crate::instances`): the registry on, `acme` (this emulator) and `globex` (a second one).
    pub instances: bool,
    /// The local front door in front of the functions (`xtask/src/stack/front_door.rs`): the app's origin is then
    /// the front door's, and the functions refuse a request that did not come through it.
    pub front_door: bool,
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
            instances: false,
            front_door: false,
        }
    }
}

/// One test's private stack. Dropping it stops every process it started.
pub struct TestApp {
    /// More runtimes serving the same functions (see [`TestApp::spawn_runtime`]).
    pub runtimes: Vec<Runtime>,
    pub front_door: Option<FrontDoor>,
    pub bff: Proc,
    pub bff_port: u16,
    pub bff_log: PathBuf,
    /// The functions' environment as the stack wrote it for `cargo lambda watch` (`KEY=value` lines).
    pub env_file: PathBuf,
    pub emulator: Emulator,
    pub ddb_proxy: Option<DdbProxy>,
    /// The second ERP.net instance's emulator (`Options::instances`).
    pub globex: Option<Emulator>,
    pub private_ddb: Option<PrivateDynamo>,
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub http: reqwest::Client,
    watch: Watch,
}

/// The shared DynamoDB Local (`BFF_TEST_DYNAMODB`, which `cargo xtask with-dynamodb` exports).
pub fn dynamodb_endpoint() -> String {
    std::env::var("BFF_TEST_DYNAMODB").unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let id = format!("{}-{}", std::process::id(), free_port());
    let dynamodb = match opts.private_dynamodb {
        true => Dynamo::Private { port: None, on_disk: true },
        false => Dynamo::Endpoint(dynamodb_endpoint()),
    };
    let mut so = StackOptions::private(&id, "test-logs", dynamodb);
    so.client_secret = CLIENT_SECRET.into();
    so.access_token_ttl = Some(opts.access_token_ttl);
    so.emulator_state_file = opts.emulator_state_file;
    so.emulator_env = opts.emulator_env;
    so.bff_env = opts.bff_env;
    so.concurrency = opts.concurrency;
    so.ddb_proxy = opts.ddb_proxy;
    so.bff_timeout = Duration::from_secs(180);
    so.front_door_port = opts.front_door.then(free_port);
    if opts.instances {
        so = so.with_instances();
        so.bff_env.extend(crate::instances::bff_env());
    }
    let stack = Stack::start(so).await.unwrap_or_else(|e| {
        panic!(
            "{e}\n(the tests need DynamoDB Local: run them under `cargo xtask with-dynamodb -- …`, as `make test` does)"
        )
    });
    let Stack {
        spa: _,
        front_door,
        bff,
        emulator,
        globex,
        ddb_proxy,
        dynamodb,
        endpoint,
        bff_log,
        env_file,
        watch,
        options,
    } = stack;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    TestApp {
        runtimes: vec![],
        front_door,
        bff,
        bff_port: options.bff_port,
        bff_log,
        env_file,
        emulator,
        ddb_proxy,
        globex,
        private_ddb: dynamodb,
        table: options.table,
        dynamo: xtask::local_dynamodb(&endpoint).await,
        http,
        watch,
    }
}

/// Another Lambda runtime (its own `cargo lambda watch`, its own function processes) with the same configuration
/// and table: an independent set of execution environments.
pub struct Runtime {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl Runtime {
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// SIGKILL to this runtime: its process group and every descendant (`cargo lambda watch` starts the function
    /// processes outside its group, and they would otherwise live on).
    pub fn kill(&self) {
        let root = self.proc.pid();
        let mut parent_of = vec![];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
                parent_of.push((pid, ppid));
            }
        }
        let mut tree = vec![root];
        let mut i = 0;
        while i < tree.len() {
            let p = tree[i];
            tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
            i += 1;
        }
        let mut args: Vec<String> = vec!["-KILL".into()];
        args.extend(tree.iter().map(u32::to_string));
        args.push("--".into());
        args.push(format!("-{root}"));
        let st = std::process::Command::new("kill").args(&args).status().unwrap();
        assert!(st.success(), "kill {args:?}");
    }
}

impl TestApp {
    /// The app's public origin (the BFF and the SPA share it): the front door's when there is one.
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.front_door.as_ref().map_or(self.bff_port, |f| f.port))
    }

    /// The functions' own origin (`cargo lambda watch`), around the front door if there is one.
    pub fn functions_origin(&self) -> String {
        format!("http://localhost:{}", self.bff_port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }

    /// Starts one more runtime serving the same functions against the same table and emulator.
    pub async fn spawn_runtime(&mut self) -> String {
        let port = free_port();
        let log = self.bff_log.with_file_name(format!("instance-{port}-bff.log"));
        let watch = Watch { port, ..self.watch.clone() };
        let proc = watch.start(&log, Duration::from_secs(180)).await.unwrap_or_else(|e| panic!("{e}"));
        self.runtimes.push(Runtime { proc, port, log });
        format!("http://localhost:{port}")
    }

    /// The origins of every runtime of this app (the first is the app's public origin).
    pub fn runtime_origins(&self) -> Vec<String> {
        std::iter::once(self.origin()).chain(self.runtimes.iter().map(Runtime::origin)).collect()
    }

    /// Everything the functions and cargo lambda printed so far.
    pub fn bff_logs(&self) -> String {
        std::fs::read_to_string(&self.bff_log).unwrap_or_default()
    }

    /// Logs of every runtime of this app.
    pub fn all_bff_logs(&self) -> String {
        let mut out = self.bff_logs();
        for i in &self.runtimes {
            out.push_str(&std::fs::read_to_string(&i.log).unwrap_or_default());
        }
        out
    }

    fn ddb_proxy_url(&self, path: &str) -> String {
        format!("{}{path}", self.ddb_proxy.as_ref().expect("Options::ddb_proxy").endpoint())
    }

    /// Operation counts of the DynamoDB proxy (`Options::ddb_proxy`).
    pub async fn ddb_stats(&self) -> Value {
        self.http.get(self.ddb_proxy_url("/__ddbproxy/stats")).send().await.unwrap().json().await.unwrap()
    }

    pub async fn ddb_reset(&self) {
        self.http.post(self.ddb_proxy_url("/__ddbproxy/reset")).send().await.unwrap();
    }

    pub async fn ddb_control(&self, body: Value) {
        let r = self.http.post(self.ddb_proxy_url("/__ddbproxy/control")).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "ddb-proxy control refused: {}", r.status());
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
        crate::wait_until(
            "the access tokens to expire",
            Duration::from_secs(120),
            || async move { crate::now() > latest },
        )
        .await;
    }
}
