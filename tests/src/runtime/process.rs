//! [`FnProcess`]: a function's binary running under its own [`RuntimeApi`], and where the harness finds the
//! functions' binaries and environment.

use super::{Outcome, RuntimeApi};
use crate::TestApp;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A function's binary running under its own [`RuntimeApi`]. Killed when dropped.
pub struct FnProcess {
    pub name: String,
    pub rt: RuntimeApi,
    child: Child,
    pub spawned: Instant,
}

impl FnProcess {
    /// Starts `binary` against `rt` with `env` plus what the Lambda runtime provides, in a clean environment.
    pub fn spawn(name: &str, binary: &Path, rt: RuntimeApi, env: &[(String, String)], log: &Path) -> FnProcess {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", rt.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let spawned = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        FnProcess { name: name.into(), rt, child, spawned }
    }

    /// [`FnProcess::spawn`] under a fresh [`RuntimeApi`], then waits (30 s at most) for its first `next` poll: its
    /// init is over. Panics if it never polls (with the init error it reported, if any).
    pub async fn start(name: &str, binary: &Path, env: &[(String, String)], log: &Path) -> FnProcess {
        let rt = RuntimeApi::start(name).await.expect("runtime API");
        let p = FnProcess::spawn(name, binary, rt, env, log);
        if p.rt.first_poll(Duration::from_secs(30)).await.is_none() {
            panic!("{name} never polled for an invocation (init error: {:?})", p.rt.init_error());
        }
        p
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One invocation, waiting for its outcome (panics after 60 s: the function is stuck or dead).
    pub async fn call(&self, event: &Value) -> Outcome {
        let rx = self.rt.submit(event);
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(o)) => o,
            _ => panic!("{}: no answer within 60 s (init error: {:?})", self.name, self.rt.init_error()),
        }
    }

    /// `VmHWM` (peak RSS) and `VmRSS` in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// utime + stime in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks(self.pid())
    }
}

impl Drop for FnProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process (all its threads, living and dead), in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(14) + get(15)
}

/// The debug build of function `name` (`cargo build --workspace --bins`, as the local stack runs it); panics with
/// what to run when it is missing.
pub fn debug_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::repo_root().join("target"), PathBuf::from);
    let binary = target.join("debug").join(name);
    assert!(binary.exists(), "{} is missing: run `cargo build --workspace --bins` first", binary.display());
    binary
}

impl TestApp {
    /// The functions' environment as this stack wrote it for `cargo lambda watch`: what a [`FnProcess`] needs to
    /// serve this stack.
    pub fn function_env(&self) -> Vec<(String, String)> {
        xtask::stack::read_env_file(&self.env_file).unwrap_or_else(|e| panic!("cannot read the stack's env file: {e}"))
    }
}
