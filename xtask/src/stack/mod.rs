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
pub mod instances;
pub mod process;
pub mod spa;

pub use bff::{BffConfig, Watch, read_env_file, write_env_file};
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
    /// Multi-instance mode ([`instances`]): the instance registry, with the first emulator as `acme` and a second
    /// one, `globex`, on [`StackOptions::globex_port`]. Off: one instance, configured by the environment, as ever.
    pub instances: bool,
    /// The `globex` emulator's port (used only with `instances`).
    pub globex_port: u16,
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
            instances: false,
            globex_port: 0,
        }
    }

    /// Multi-instance mode, with the `globex` emulator on a free port.
    pub fn with_instances(mut self) -> Self {
        self.instances = true;
        self.globex_port = free_port();
        self
    }

    /// The app's origin on instance `key`'s host (`http://acme.localhost:{port}`).
    pub fn instance_origin(&self, key: &str) -> String {
        instances::origin_of(key, &self.app_origin())
    }

    /// The first emulator's configuration (the default instance's; `acme`'s too in multi-instance mode) and, in
    /// multi-instance mode, `globex`'s.
    fn emulator_configs(&self) -> (EmulatorConfig, Option<EmulatorConfig>) {
        let mut origins = vec![self.app_origin()];
        if self.instances {
            origins.push(self.instance_origin(instances::ACME));
        }
        let first = EmulatorConfig {
            instance: instances::ACME.into(),
            port: self.emulator_port,
            client_id: CLIENT_ID.into(),
            client_secret: self.client_secret.clone(),
            app_origins: origins,
            access_token_ttl: self.access_token_ttl,
            // Straight to the functions (server to server; in AWS it is `{PUBLIC_ORIGIN}/auth/backchannel-logout`).
            backchannel_logout_uri: Some(format!("http://127.0.0.1:{}/auth/backchannel-logout", self.entry_port())),
            // With the registry on, the BFF takes the instance from the host: the bare app host is the default
            // instance. The acme emulator plays two (default and acme), so each of its back-channel logouts goes
            // to both hosts, and ends the sessions signed in on either.
            backchannel_logout_hosts: match self.instances {
                true => vec![self.app_host(), format!("{}.{}", instances::ACME, self.app_host())],
                false => vec![],
            },
            state_file: self.emulator_state_file.then(|| self.logs.join(format!("{}-emulator-state.json", self.id))),
            extra_env: self.emulator_env.clone(),
        };
        // The same extra environment (e.g. fault switches) as the first.
        let second = self.instances.then(|| EmulatorConfig {
            instance: instances::GLOBEX.into(),
            port: self.globex_port,
            client_secret: instances::globex_secret(&self.client_secret),
            app_origins: vec![self.instance_origin(instances::GLOBEX)],
            backchannel_logout_hosts: vec![format!("{}.{}", instances::GLOBEX, self.app_host())],
            state_file: self.emulator_state_file.then(|| self.logs.join(format!("{}-globex-state.json", self.id))),
            ..first.clone()
        });
        (first, second)
    }

    /// The app's public origin: the SPA's when there is one, else the front door's, else the BFF's; always on
    /// `localhost` (the emulator is on 127.0.0.1: two sites, as in production).
    pub fn app_origin(&self) -> String {
        format!("http://{}", self.app_host())
    }

    /// The app origin's host and port (`localhost:5173`).
    pub fn app_host(&self) -> String {
        format!("localhost:{}", self.spa_port.or(self.front_door_port).unwrap_or(self.bff_port))
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
    /// The second instance's emulator (multi-instance mode only).
    pub globex: Option<Emulator>,
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

        let (emulator_config, globex_config) = opts.emulator_configs();
        let (secret, front_door_env) = front_door::secret_and_env(&opts);
        let mut bff_env = vec![];
        if opts.instances {
            let url = |port: u16| format!("http://127.0.0.1:{port}");
            instances::register(&client, &opts.table, instances::ACME, &url(opts.emulator_port)).await?;
            instances::register(&client, &opts.table, instances::GLOBEX, &url(opts.globex_port)).await?;
            bff_env = instances::bff_env(&opts.client_secret);
        }
        bff_env.extend(front_door_env);
        let bff_config = BffConfig {
            erpnet_url: format!("http://127.0.0.1:{}", opts.emulator_port),
            client_id: CLIENT_ID.into(),
            client_secret: opts.client_secret.clone(),
            public_origin: opts.app_origin(),
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
            probe_host: opts.instances.then(|| opts.app_host()),
        };
        // The functions take longest: start them first, the emulator meanwhile.
        let bff_log = log("bff");
        let mut bff = watch.spawn(&bff_log)?;
        let (emulator_log, globex_log) = (log("emulator"), log("emulator-globex"));
        let (emulator, globex) = tokio::try_join!(Emulator::start(&emulator_config, &emulator_log), async {
            match &globex_config {
                Some(c) => Emulator::start(c, &globex_log).await.map(Some),
                None => Ok(None),
            }
        })?;
        bff::wait_serving(&mut bff, opts.bff_port, watch.probe_host.as_deref(), opts.bff_timeout).await?;
        let front_door = match (opts.front_door_port, &secret) {
            (Some(port), Some(s)) => {
                Some(FrontDoor::start(port, opts.bff_port, s, watch.probe_host.as_deref(), &log("front-door")).await?)
            }
            _ => None,
        };
        let spa_target = format!("http://127.0.0.1:{}", opts.entry_port());
        let spa = match opts.spa_port {
            Some(port) => Some(spa::start(port, &spa_target, &log("spa")).await?),
            None => None,
        };
        let options = opts;
        Ok(Stack {
            spa,
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
        })
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
        if let Some(g) = &mut self.globex {
            g.proc.check_running()?;
        }
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
                "globex": self.globex.as_ref().map(|g| g.proc.pid()),
            },
            "instances": self.describe_instances(),
        })
    }

    /// Multi-instance mode: each registered instance's app origin, emulator, issuer and client secret (else null).
    fn describe_instances(&self) -> serde_json::Value {
        let Some(globex) = &self.globex else { return serde_json::Value::Null };
        let one = |key: &str, emulator: &Emulator, secret: String| {
            serde_json::json!({
                "origin": self.options.instance_origin(key),
                "emulatorOrigin": emulator.origin(),
                "issuer": emulator.issuer(),
                "clientSecret": secret,
            })
        };
        serde_json::json!({
            instances::ACME: one(instances::ACME, &self.emulator, self.options.client_secret.clone()),
            instances::GLOBEX: one(instances::GLOBEX, globex, instances::globex_secret(&self.options.client_secret)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The acme emulator plays the default instance (the bare app host) and `acme`: its back-channel logouts go to
    /// both hosts; globex's to its own; a single-instance stack's without a host of their own.
    #[test]
    fn back_channel_logouts_reach_every_host_an_emulator_plays() {
        let mut opts = StackOptions::private("t", "test-logs", Dynamo::Endpoint("http://127.0.0.1:1".into()));
        opts.bff_port = 9000;
        let (single, none) = opts.emulator_configs();
        assert!(single.backchannel_logout_hosts.is_empty() && none.is_none());
        let (acme, globex) = opts.with_instances().emulator_configs();
        assert_eq!(acme.backchannel_logout_hosts, ["localhost:9000", "acme.localhost:9000"]);
        assert_eq!(globex.unwrap().backchannel_logout_hosts, ["globex.localhost:9000"]);
        let env = acme.env();
        let host = env.iter().find(|(k, _)| k == "EMULATOR_BACKCHANNEL_LOGOUT_HOST").map(|(_, v)| v.as_str());
        assert_eq!(host, Some("localhost:9000,acme.localhost:9000"));
    }
}
