//! `cargo xtask <command>`: the local stack and other project chores the Makefile calls (`cargo xtask --help`).

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;
use xtask::stack::{Dynamo, DynamoLocal, Stack, StackOptions, free_port, port_in_use};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The local stack and project chores (see infra/README.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates the sessions table in DynamoDB Local from template.yaml's definition.
    CreateTable {
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        endpoint: String,
        #[arg(long, default_value = "bff-sessions")]
        name: String,
    },
    /// `make dev`: DynamoDB Local (:8000), the emulators acme (:5005) and globex (:5006) in the instance registry,
    /// the functions reloading on change (:9000) and the example SPA (:5173), on localhost, acme.localhost and
    /// globex.localhost. Ctrl-C stops everything; exits non-zero if a port is taken or a service dies.
    Dev,
    /// Runs CMD with an in-memory DynamoDB Local on a free port, exported as BFF_TEST_DYNAMODB; then stops it.
    WithDynamodb {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Runs CMD against a whole private stack on free ports (DynamoDB: BFF_TEST_DYNAMODB, or one of its own). The
    /// BFF's base URL is appended to CMD and exported as BFF_URL.
    WithStack {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Starts a private stack (DynamoDB: BFF_TEST_DYNAMODB, or one of its own), prints one JSON line describing it
    /// and runs until stdin closes or SIGTERM/SIGINT arrives. For harnesses in other languages (tests/e2e).
    Stack {
        /// The emulator's access-token lifetime in seconds.
        #[arg(long)]
        access_token_ttl: Option<u64>,
        /// Serve the example SPA too (then the app's origin is the SPA's).
        #[arg(long)]
        spa: bool,
        /// Multi-instance mode: a second emulator (`globex`), the instance registry (`acme`, `globex`) and the
        /// apps on `acme.localhost:<port>` and `globex.localhost:<port>` (described under `instances`).
        #[arg(long)]
        instances: bool,
    },
    /// Checks CONFORMANCE.md (rows, statuses, reasons, that every named test exists, the summary) and prints the
    /// counts per source and status; `--write` first rewrites its summary from the table.
    Conformance {
        #[arg(long)]
        write: bool,
    },
    /// Copies the Node.js peer BFF from DIR into target/peer/node-bff, `npm ci` there, sets its cookie names to ours
    /// and prints its `bin` directory (for `bench --peer`; see xtask/src/peer.rs).
    Peer {
        #[arg(long, value_name = "DIR")]
        from: std::path::PathBuf,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut signals = Signals::new();
    let sig = &mut signals;
    let result = match cli.command {
        Cmd::CreateTable { endpoint, name } => {
            let client = xtask::local_dynamodb(&endpoint).await;
            xtask::create_table(&client, &name).await.map(|()| {
                println!("table {name} ready at {endpoint}");
                ExitCode::SUCCESS
            })
        }
        Cmd::Dev => dev(sig).await,
        Cmd::WithDynamodb { cmd } => with_dynamodb(cmd, sig).await,
        Cmd::WithStack { cmd } => with_stack(cmd, sig).await,
        Cmd::Stack { access_token_ttl, spa, instances } => stack(access_token_ttl, spa, instances, sig).await,
        Cmd::Conformance { write } => conformance(write),
        Cmd::Peer { from } => xtask::peer::prepare(&from).map(|bin| {
            println!("{}", bin.display());
            ExitCode::SUCCESS
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("xtask: {e}");
        ExitCode::FAILURE
    })
}

/// `cargo xtask conformance [--write]`: the same check as the unit test, with the counts printed.
fn conformance(write: bool) -> Result<ExitCode, String> {
    use xtask::conformance::{Repo, check, summary, with_summary};
    let root = xtask::repo_root();
    let path = root.join("CONFORMANCE.md");
    let mut text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if write {
        text = with_summary(&text)?;
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let (rows, errors) = check(&text, &Repo(&root));
    print!("{}", summary(&rows));
    if errors.is_empty() { Ok(ExitCode::SUCCESS) } else { Err(format!("CONFORMANCE.md:\n{}", errors.join("\n"))) }
}

/// SIGINT and SIGTERM, caught from the start (so that they stop the stack instead of killing this process).
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            term: signal(SignalKind::terminate()).expect("SIGTERM handler"),
        }
    }

    /// Resolves on the next SIGINT or SIGTERM.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Runs `cmd` (in the foreground process group, so a terminal's Ctrl-C reaches it too) with `env`; on SIGTERM or
/// SIGINT it is sent SIGTERM and waited for. Returns its exit code (128 + signal if a signal ended it).
async fn run(cmd: &[String], env: &[(&str, String)], signals: &mut Signals) -> Result<ExitCode, String> {
    use std::os::unix::process::ExitStatusExt;
    let mut child = tokio::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cmd[0]))?;
    let status = tokio::select! {
        s = child.wait() => s,
        _ = signals.recv() => {
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) on our own child's pid; no memory is involved.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
            child.wait().await
        }
    }
    .map_err(|e| e.to_string())?;
    let code = status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1);
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

async fn with_dynamodb(cmd: Vec<String>, signals: &mut Signals) -> Result<ExitCode, String> {
    let log = xtask::repo_root().join("target/test-logs").join(format!("dynamodb-{}.log", std::process::id()));
    let ddb = tokio::select! {
        d = DynamoLocal::start(free_port(), None, &log) => d?,
        _ = signals.recv() => return Ok(ExitCode::from(130)),
    };
    eprintln!("DynamoDB Local at {} (log {})", ddb.endpoint(), log.display());
    let code = run(&cmd, &[("BFF_TEST_DYNAMODB", ddb.endpoint())], signals).await;
    drop(ddb);
    code
}

/// BFF_TEST_DYNAMODB if set, else a DynamoDB Local of the stack's own.
fn test_dynamodb() -> Dynamo {
    match std::env::var("BFF_TEST_DYNAMODB") {
        Ok(e) if !e.is_empty() => Dynamo::Endpoint(e),
        _ => Dynamo::Private { port: None, on_disk: false },
    }
}

async fn with_stack(mut cmd: Vec<String>, signals: &mut Signals) -> Result<ExitCode, String> {
    let id = format!("stack-{}", std::process::id());
    let mut opts = StackOptions::private(&id, "stack-logs", test_dynamodb());
    opts.table = id.clone();
    let stack = tokio::select! {
        s = Stack::start(opts) => s?,
        _ = signals.recv() => return Ok(ExitCode::from(130)),
    };
    let url = stack.bff_url();
    eprintln!(
        "local stack up: BFF {url}, emulator {}, DynamoDB {} (table {}); logs in {}",
        stack.emulator.origin(),
        stack.endpoint,
        stack.options.table,
        stack.options.logs.display()
    );
    cmd.push(url.clone());
    let code = run(&cmd, &[("BFF_URL", url)], signals).await;
    drop(stack);
    code
}

async fn stack(
    access_token_ttl: Option<u64>,
    spa: bool,
    instances: bool,
    signals: &mut Signals,
) -> Result<ExitCode, String> {
    use tokio::io::AsyncReadExt;
    let id = format!("e2e-{}", std::process::id());
    let mut opts = StackOptions::private(&id, "test-logs", test_dynamodb());
    if instances {
        opts = opts.with_instances();
    }
    opts.access_token_ttl = access_token_ttl;
    opts.spa_port = spa.then(free_port);
    // The browser tests go through the local front door, as a browser goes through CloudFront.
    opts.front_door_port = Some(free_port());
    opts.client_secret = format!("e2e-{}", random_hex());
    let start = Stack::start(opts);
    let mut stack = tokio::select! {
        s = start => s?,
        _ = signals.recv() => return Ok(ExitCode::from(130)),
    };
    println!("{}", stack.describe());
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            n = stdin.read(&mut buf) => if matches!(n, Ok(0) | Err(_)) { break },
            _ = signals.recv() => break,
            _ = tick.tick() => stack.check_running()?,
        }
    }
    drop(stack);
    Ok(ExitCode::SUCCESS)
}

/// 24 hex digits from the OS's randomness (a per-run client secret).
fn random_hex() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const DEV_PORTS: [(u16, &str); 6] = [
    (8000, "DynamoDB Local"),
    (5005, "the ERP.net emulator (acme)"),
    (5006, "the ERP.net emulator (globex)"),
    (9000, "the BFF functions"),
    (9100, "the local front door"),
    (5173, "Vite"),
];

async fn dev(signals: &mut Signals) -> Result<ExitCode, String> {
    for (port, what) in DEV_PORTS {
        if port_in_use(port) {
            return Err(format!(
                "port {port} ({what}) is already in use: stop what runs there first (an earlier `make dev`?)"
            ));
        }
    }
    let logs = xtask::repo_root().join("target/dev-logs");
    let opts = StackOptions {
        id: "dev".into(),
        logs: logs.clone(),
        dynamodb: Dynamo::Private { port: Some(8000), on_disk: false },
        table: "bff-sessions".into(),
        emulator_port: 5005,
        bff_port: 9000,
        spa_port: Some(5173),
        front_door_port: Some(9100),
        client_secret: "local-dev-secret-change-me".into(),
        access_token_ttl: None,
        emulator_state_file: false,
        emulator_env: vec![],
        bff_env: vec![],
        concurrency: 1,
        reload: true,
        ddb_proxy: false,
        bff_timeout: Duration::from_secs(300),
        instances: true,
        globex_port: 5006,
    };
    eprintln!(
        "starting DynamoDB Local, two ERP.net emulators, the functions and the SPA (logs in {})…",
        logs.display()
    );
    let mut stack = tokio::select! {
        s = Stack::start(opts) => s?,
        _ = signals.recv() => return Ok(ExitCode::from(130)),
    };
    println!(
        r#"
  ERP.net BFF is running locally, for two ERP.net instances.

    App (SPA + BFF on one origin per instance; Chromium resolves *.localhost to this machine):
      default instance            http://localhost:5173          (ERP.net emulator acme, from the environment)
      instance acme               http://acme.localhost:5173     (customers C0001…)
      instance globex             http://globex.localhost:5173   (customers G0001…)
    Local front door              http://127.0.0.1:9100   (as CloudFront and the AWS origins: docs/front-door.md)
    BFF functions (cargo lambda)  http://127.0.0.1:9000   (/auth/*, /api/*; only through the front door)
    ERP.net emulator acme         http://127.0.0.1:5005   (issuer http://127.0.0.1:5005/id)
    ERP.net emulator globex       http://127.0.0.1:5006   (issuer http://127.0.0.1:5006/id)
    DynamoDB Local                http://127.0.0.1:8000   (table bff-sessions, with the registry: instance#acme, instance#globex)

  Test users (login / password), on both instances:  demo / demo     alice / alice     carol / carol
  Logs: {}/
  Press Ctrl-C to stop everything.
"#,
        logs.display()
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let code = loop {
        tokio::select! {
            _ = signals.recv() => break ExitCode::SUCCESS,
            _ = tick.tick() => if let Err(e) = stack.check_running() {
                eprintln!("a service stopped: {e}");
                break ExitCode::FAILURE;
            },
        }
    };
    eprintln!("\nstopping…");
    drop(stack);
    Ok(code)
}
