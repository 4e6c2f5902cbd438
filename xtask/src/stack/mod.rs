//! The local stack, defined once: DynamoDB Local (+ optionally `infra/ddb-proxy.js`), the ERP.net emulator, the six
//! functions under `cargo lambda watch`, optionally the local front door and the example SPA. `cargo xtask dev`,
//! `with-stack`, `stack --json` (the browser tests), the Rust test harness (`tests/src/stack.rs`), the soak test
//! and the benchmarks all start it through [`Stack::start`] or the parts in the submodules.
//!
//! Every service runs in a process group of its own, tracked by PID, stopped (TERM, then KILL) when its [`Proc`]
//! is dropped; readiness is polled with a deadline ([`process::poll_until`]), never slept for.

pub mod bff;
pub mod dynamodb;
pub mod emulator;
pub mod front_door;
pub mod process;
pub mod spa;

pub use bff::{BffConfig, Watch};
pub use dynamodb::{DdbProxy, DynamoLocal};
pub use emulator::{Emulator, EmulatorConfig};
pub use front_door::FrontDoor;
pub use process::{Proc, free_port, poll_until, port_in_use};

use std::path::PathBuf;
use std::time::Duration;

/// The BFF's client at the identity server (the emulator registers it).
pub const CLIENT_ID: &str = "my.trusted.app/first";

/// Where the stack's DynamoDB is.
#[derive(Clone, Debug)]
pub enum Dynamo {
    /// One that is already running (e.g. `BFF_TEST_DYNAMODB`, shared by many stacks, each with its own table).
    Endpoint(String),
    /// One of this stack's own, on `port` (a free one if `None`); on disk in the logs folder if `on_disk`, so that
    /// it can be stopped and restarted with its data.
    Private { port: Option<u16>, on_disk: bool },
}

/// Everything that varies between the stacks of `make dev`, the tests, the browser tests and the benchmarks.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Names the log files (`{logs}/{id}-*.log`).
    pub id: String,
    pub logs: PathBuf,
    pub dynamodb: Dynamo,
    pub table: String,
    pub emulator_port: u16,
    pub bff_port: u16,
    /// Serve the example SPA on `localhost:{port}` (then the app's origin is the SPA's, and Vite forwards to the BFF).
    pub spa_port: Option<u16>,
    /// The local front door (`front_door.rs`) on `localhost:{port}` in front of the functions: the app's origin (or
    /// Vite's target), and the functions require its secret header, as in AWS.
    pub front_door_port: Option<u16>,
    pub client_secret: String,
    pub access_token_ttl: Option<u64>,
    pub emulator_state_file: bool,
    pub emulator_env: Vec<(String, String)>,
    pub bff_env: Vec<(String, String)>,
    /// Execution environments per function (`cargo lambda watch --concurrency`).
    pub concurrency: usize,
    /// Rebuild on source changes (`make dev`).
    pub reload: bool,
    pub ddb_proxy: bool,
    /// How long the first `GET /auth/session` may take (it builds and starts the function).
    pub bff_timeout: Duration,
}

impl StackOptions {
    /// Free ports, a table of its own on `dynamodb`, logs in `target/{logs_dir}`.
    pub fn private(id: &str, logs_dir: &str, dynamodb: Dynamo) -> Self {
        StackOptions {
            id: id.into(),
            logs: crate::repo_root().join("target").join(logs_dir),
            dynamodb,
            table: format!("sessions-{id}"),
            emulator_port: free_port(),
            bff_port: free_port(),
            spa_port: None,
            front_door_port: None,
            client_secret: format!("stack-{id}-secret"),
            access_token_ttl: None,
            emulator_state_file: false,
            emulator_env: vec![],
            bff_env: vec![],
            concurrency: 1,
            reload: false,
            ddb_proxy: false,
            bff_timeout: Duration::from_secs(300),
        }
    }

    /// The app's public origin: the SPA's when there is one, else the front door's, else the BFF's; always on
    /// `localhost` (the emulator is on 127.0.0.1: two sites, as in production).
    pub fn app_origin(&self) -> String {
        format!("http://localhost:{}", self.spa_port.or(self.front_door_port).unwrap_or(self.bff_port))
    }

    /// Where requests for the functions enter: the front door's port if there is one, else the functions' own.
    pub fn entry_port(&self) -> u16 {
        self.front_door_port.unwrap_or(self.bff_port)
    }
}

/// A running stack. Dropping it stops everything (the front first, DynamoDB last).
pub struct Stack {
    pub spa: Option<Proc>,
    pub front_door: Option<FrontDoor>,
    pub bff: Proc,
    pub emulator: Emulator,
    pub ddb_proxy: Option<DdbProxy>,
    pub dynamodb: Option<DynamoLocal>,
    /// The DynamoDB endpoint the table lives at (the BFF's goes through `ddb_proxy` when there is one).
    pub endpoint: String,
    pub bff_log: PathBuf,
    pub env_file: PathBuf,
    /// How the BFF runs, to start more runtimes with the same configuration.
    pub watch: Watch,
    pub options: StackOptions,
}

impl Stack {
    pub async fn start(opts: StackOptions) -> Result<Stack, String> {
        let logs = opts.logs.clone();
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let log = |what: &str| logs.join(format!("{}-{what}.log", opts.id));

        let dynamodb = match &opts.dynamodb {
            Dynamo::Endpoint(_) => None,
            Dynamo::Private { port, on_disk } => {
                let dir = on_disk.then(|| logs.join(format!("{}-ddb", opts.id)));
                Some(DynamoLocal::start(port.unwrap_or_else(free_port), dir, &log("ddb")).await?)
            }
        };
        let endpoint = match (&opts.dynamodb, &dynamodb) {
            (Dynamo::Endpoint(e), _) => e.clone(),
            (_, Some(d)) => d.endpoint(),
            _ => unreachable!(),
        };
        let client = crate::local_dynamodb(&endpoint).await;
        crate::create_table(&client, &opts.table).await.map_err(|e| {
            format!("cannot create table {} in DynamoDB Local at {endpoint} ({e}); is it running?", opts.table)
        })?;
        let ddb_proxy = match opts.ddb_proxy {
            true => Some(DdbProxy::start(&endpoint, &log("ddb-proxy")).await?),
            false => None,
        };

        let app_origin = opts.app_origin();
        let emulator_config = EmulatorConfig {
            port: opts.emulator_port,
            client_id: CLIENT_ID.into(),
            client_secret: opts.client_secret.clone(),
            app_origin: app_origin.clone(),
            access_token_ttl: opts.access_token_ttl,
            // Straight to the functions (server to server; in AWS it is `{PUBLIC_ORIGIN}/auth/backchannel-logout`).
            backchannel_logout_uri: Some(format!("http://127.0.0.1:{}/auth/backchannel-logout", opts.entry_port())),
            state_file: opts.emulator_state_file.then(|| logs.join(format!("{}-emulator-state.json", opts.id))),
            extra_env: opts.emulator_env.clone(),
        };
        let (secret, bff_env) = front_door::secret_and_env(&opts);
        let bff_config = BffConfig {
            erpnet_url: format!("http://127.0.0.1:{}", opts.emulator_port),
            client_id: CLIENT_ID.into(),
            client_secret: opts.client_secret.clone(),
            public_origin: app_origin,
            session_table: opts.table.clone(),
            dynamodb_endpoint: ddb_proxy.as_ref().map(DdbProxy::endpoint).unwrap_or_else(|| endpoint.clone()),
            backchannel_logout: true,
            extra_env: bff_env,
        };
        let env_file = logs.join(format!("{}-bff.env", opts.id));
        bff_config.write_env_file(&env_file)?;
        let watch = Watch {
            port: opts.bff_port,
            env_file: env_file.clone(),
            concurrency: opts.concurrency,
            release: false,
            reload: opts.reload,
        };
        // The functions take longest: start them first, the emulator meanwhile.
        let bff_log = log("bff");
        let mut bff = watch.spawn(&bff_log)?;
        let emulator = Emulator::start(&emulator_config, &log("emulator")).await?;
        bff::wait_serving(&mut bff, opts.bff_port, opts.bff_timeout).await?;
        let front_door = match (opts.front_door_port, &secret) {
            (Some(port), Some(s)) => Some(FrontDoor::start(port, opts.bff_port, s, &log("front-door")).await?),
            _ => None,
        };
        let spa_target = format!("http://127.0.0.1:{}", opts.entry_port());
        let spa = match opts.spa_port {
            Some(port) => Some(spa::start(port, &spa_target, &log("spa")).await?),
            None => None,
        };
        let options = opts;
        Ok(Stack { spa, front_door, bff, emulator, ddb_proxy, dynamodb, endpoint, bff_log, env_file, watch, options })
    }

    /// The app's public origin (the SPA's, or the BFF's without one).
    pub fn origin(&self) -> String {
        self.options.app_origin()
    }

    /// The BFF functions' own base URL.
    pub fn bff_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.options.bff_port)
    }

    /// An error if any service has ended.
    pub fn check_running(&mut self) -> Result<(), String> {
        if let Some(spa) = &mut self.spa {
            spa.check_running()?;
        }
        if let Some(f) = &mut self.front_door {
            f.proc.check_running()?;
        }
        self.bff.check_running()?;
        self.emulator.proc.check_running()?;
        if let Some(p) = &mut self.ddb_proxy {
            p.proc.check_running()?;
        }
        if let Some(proc) = self.dynamodb.as_mut().and_then(DynamoLocal::proc_mut) {
            proc.check_running()?;
        }
        Ok(())
    }

    /// What a harness in another language needs to know, as one JSON object.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "origin": self.origin(),
            "bff": self.bff_url(),
            "frontDoor": self.front_door.as_ref().map(FrontDoor::url),
            "emulatorOrigin": self.emulator.origin(),
            "issuer": self.emulator.issuer(),
            "dynamodb": self.endpoint,
            "table": self.options.table,
            "clientId": CLIENT_ID,
            "clientSecret": self.options.client_secret,
            "logs": self.options.logs,
            "pids": {
                "bff": self.bff.pid(),
                "emulator": self.emulator.proc.pid(),
                "spa": self.spa.as_ref().map(Proc::pid),
                "frontDoor": self.front_door.as_ref().map(|f| f.proc.pid()),
                "dynamodb": self.dynamodb.as_ref().map(DynamoLocal::pid),
            },
        })
    }
}
