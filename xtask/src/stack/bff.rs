//! The BFF: its configuration (the one place that builds the functions' environment) and the one place that
//! launches the six functions under `cargo lambda watch`.

use super::process::{Proc, probe_client, probe_status, wait_ready};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The BFF's configuration, as the functions read it from their environment (template.yaml sets the same names).
#[derive(Clone, Debug)]
pub struct BffConfig {
    pub erpnet_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub public_origin: String,
    pub session_table: String,
    pub dynamodb_endpoint: String,
    /// Accept OpenID Connect Back-Channel Logout (`BACKCHANNEL_LOGOUT`; the local stack's emulator sends it).
    pub backchannel_logout: bool,
    /// More variables (or overrides), applied last.
    pub extra_env: Vec<(String, String)>,
}

/// What template.yaml's parameter defaults give the functions (`Globals.Function.Environment` and each function's
/// own), as deployed: the local stack runs what AWS runs by default, the proxy streaming included. The template
/// drift test (`xtask/src/template_env.rs`) holds these to template.yaml; a test that needs another value (e.g.
/// `PROXY_STREAMING=false`, the buffered proxy) asks for it in its extra environment.
pub const DEPLOYED_DEFAULTS: &[(&str, &str)] = &[
    ("API_BASE", ""),
    ("CLIENT_SECRET_REVISION", "1"),
    ("SCOPES", "openid profile offline_access read update"),
    ("RESPONSE_MODE", "query"),
    ("SESSION_IDLE_TIMEOUT", "28800"),
    ("SESSION_ABSOLUTE_LIFETIME", "2592000"),
    ("PROXY_ALLOWLIST", "domain/odata/"),
    ("INSTANCE_REGISTRY", "false"),
    ("INSTANCE_CACHE_SECONDS", "60"),
    ("SECRETS_MANAGER_TTL", "60"),
    ("PROXY_STREAMING", "true"),
];

/// The buffered proxy's envelope limit locally (`PROXY_BUFFERED_LIMIT_BYTES`): 2 MiB, below where cargo lambda watch
/// loses answers; AWS's is 6 MiB.
pub const LOCAL_BUFFERED_LIMIT: usize = 2 * 1024 * 1024;

impl BffConfig {
    /// THE environment of the functions. A new BFF variable is added here, and only here: the deployed defaults,
    /// then what differs locally (the template drift test lists each such variable and why).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            DEPLOYED_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.extend([
            ("ERPNET_URL".into(), self.erpnet_url.clone()),
            ("CLIENT_ID".into(), self.client_id.clone()),
            ("CLIENT_SECRET".into(), self.client_secret.clone()),
            ("PUBLIC_ORIGIN".into(), self.public_origin.clone()),
            ("SESSION_TABLE".into(), self.session_table.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), self.dynamodb_endpoint.clone()),
            ("BACKCHANNEL_LOGOUT".into(), self.backchannel_logout.to_string()),
            ("AWS_ACCESS_KEY_ID".into(), "local".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
            ("AWS_REGION".into(), "eu-west-1".into()),
            // cargo lambda watch loses some large buffered answers: locally a buffered answer stops at 2 MiB (a
            // prompt 502), see xtask/src/template_env.rs.
            ("PROXY_BUFFERED_LIMIT_BYTES".into(), LOCAL_BUFFERED_LIMIT.to_string()),
        ]);
        for (k, v) in &self.extra_env {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// Writes [`BffConfig::env`] as a `KEY=value` file for `cargo lambda watch --env-file`.
    pub fn write_env_file(&self, path: &Path) -> Result<(), String> {
        write_env_file(&self.env(), path)
    }
}

/// Writes `KEY=value` lines (`cargo lambda watch --env-file`, a dotenv file): a value with anything but letters,
/// digits and `-_./:@,+%=` in it is written in double quotes, `\` and `"` escaped (`SCOPES=openid profile …` is
/// refused unquoted).
pub fn write_env_file(env: &[(String, String)], path: &Path) -> Result<(), String> {
    let plain = |v: &str| v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@,+%=".contains(&b));
    let line = |(k, v): &(String, String)| match plain(v) {
        true => format!("{k}={v}\n"),
        false => format!("{k}=\"{}\"\n", v.replace('\\', "\\\\").replace('"', "\\\"")),
    };
    let text: String = env.iter().map(line).collect();
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a file [`write_env_file`] wrote back into its pairs (quoted values unquoted).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let unquote = |v: &str| match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    };
    Ok(text.lines().filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), unquote(v)))).collect())
}

/// How to run `cargo lambda watch`.
#[derive(Clone, Debug)]
pub struct Watch {
    pub port: u16,
    pub env_file: PathBuf,
    /// Lambda execution environments (processes) per function.
    pub concurrency: usize,
    /// The release build (the benchmarks).
    pub release: bool,
    /// Rebuild and restart the functions when the sources change (`make dev` only).
    pub reload: bool,
    /// The `Host` the readiness probe sends (the app's, `localhost:<port>` of `PUBLIC_ORIGIN`): with the instance
    /// registry on, the functions answer only the app's host and its instances' (404 `unknown_instance` else).
    /// `None`: `localhost:{port}`.
    pub probe_host: Option<String>,
}

impl Watch {
    pub fn new(port: u16, env_file: PathBuf) -> Self {
        Watch { port, env_file, concurrency: 1, release: false, reload: false, probe_host: None }
    }

    /// Starts `cargo lambda watch` (from the project venv's `.venv/bin`) in its own process group. This is the
    /// only place in the repository that launches it.
    pub fn spawn(&self, log: &Path) -> Result<Proc, String> {
        let root = crate::repo_root();
        let venv_bin = root.join(".venv").join("bin");
        let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&root).env("PATH", path).args(["lambda", "watch"]);
        if self.release {
            cmd.arg("--release");
        }
        if !self.reload {
            cmd.arg("--ignore-changes");
        }
        cmd.args(["--disable-cors", "-A", "127.0.0.1", "-P", &self.port.to_string()])
            .arg("--env-file")
            .arg(&self.env_file)
            .args(["--concurrency", &self.concurrency.to_string()]);
        let name = if self.release { "the BFF functions (release build)" } else { "the BFF functions" };
        Proc::spawn(name, cmd, log)
    }

    /// Spawns it and waits until `GET /auth/session` answers 200 (the first call builds and starts the function).
    pub async fn start(&self, log: &Path, timeout: Duration) -> Result<Proc, String> {
        let mut proc = self.spawn(log)?;
        wait_serving(&mut proc, self.port, self.probe_host.as_deref(), timeout).await?;
        Ok(proc)
    }
}

/// Waits until the functions on `port` answer `GET /auth/session` (with `Host: {host}`, if given) with 200 (or
/// `proc` ends).
pub async fn wait_serving(proc: &mut Proc, port: u16, host: Option<&str>, timeout: Duration) -> Result<(), String> {
    let probe = format!("http://localhost:{port}/auth/session");
    let client = probe_client();
    // 403: the functions serve, and refuse a request without the front door's header (FRONT_DOOR_SECRET set).
    let serving = || async { matches!(probe_status(&client, &probe, host).await, Some(200 | 403)) };
    wait_ready(proc, "the functions to serve /auth/session", timeout, serving).await
}

#[cfg(test)]
mod env_file_tests {
    use super::*;

    #[test]
    fn the_env_file_quotes_what_dotenv_needs_quoted_and_reads_back() {
        let env: Vec<(String, String)> = [("SCOPES", "openid profile read"), ("API_BASE", ""), ("X", r#"a"b\c"#)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = std::env::temp_dir().join(format!("env-file-{}", std::process::id()));
        write_env_file(&env, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("SCOPES=\"openid profile read\"\n") && text.contains("API_BASE=\n"), "{text}");
        assert_eq!(read_env_file(&path).unwrap(), env);
        std::fs::remove_file(&path).unwrap();
    }
}
