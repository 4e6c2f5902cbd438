//! The ERP.net emulator (`infra/emulator/server.js`: oidc-provider as the identity server, plus the Domain API).

use super::process::{Proc, http_status_is, probe_client, wait_ready};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What the emulator needs to know about the one client (the BFF) it serves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// The ERP.net instance it plays (`EMULATOR_INSTANCE`: `acme`, or `globex` with other sample data).
    pub instance: String,
    pub port: u16,
    pub client_id: String,
    pub client_secret: String,
    /// The app's public origins (one per host the app is served on): redirect URIs `{origin}/auth/callback`,
    /// post-logout URIs `{origin}/`.
    pub app_origins: Vec<String>,
    pub access_token_ttl: Option<u64>,
    /// Where the identity server sends back-channel logout tokens (the BFF's `/auth/backchannel-logout`).
    pub backchannel_logout_uri: Option<String>,
    /// Sent with the logout tokens as `Host` (the front door's `X-Forwarded-Host`), one token per host
    /// (multi-instance mode: the hosts of the instances this emulator plays, as CloudFront would send them). Empty:
    /// one token, to the URI's own host.
    pub backchannel_logout_hosts: Vec<String>,
    /// Keep grants and keys in this file, so a restarted emulator still knows the sessions' tokens.
    pub state_file: Option<PathBuf>,
    /// More `EMULATOR_*` variables (e.g. fault switches), applied last.
    pub extra_env: Vec<(String, String)>,
}

impl EmulatorConfig {
    /// The emulator's environment.
    pub fn env(&self) -> Vec<(String, String)> {
        let uris = |suffix: &str| self.app_origins.iter().map(|o| format!("{o}{suffix}")).collect::<Vec<_>>().join(",");
        let mut env: Vec<(String, String)> = vec![
            ("EMULATOR_INSTANCE".into(), self.instance.clone()),
            ("EMULATOR_HOST".into(), "127.0.0.1".into()),
            ("EMULATOR_PORT".into(), self.port.to_string()),
            ("EMULATOR_CLIENT_ID".into(), self.client_id.clone()),
            ("EMULATOR_CLIENT_SECRET".into(), self.client_secret.clone()),
            ("EMULATOR_REDIRECT_URIS".into(), uris("/auth/callback")),
            ("EMULATOR_POST_LOGOUT_URIS".into(), uris("/")),
        ];
        if let Some(ttl) = self.access_token_ttl {
            env.push(("EMULATOR_ACCESS_TOKEN_TTL".into(), ttl.to_string()));
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            env.push(("EMULATOR_BACKCHANNEL_LOGOUT_URI".into(), uri.clone()));
        }
        if !self.backchannel_logout_hosts.is_empty() {
            env.push(("EMULATOR_BACKCHANNEL_LOGOUT_HOST".into(), self.backchannel_logout_hosts.join(",")));
        }
        if let Some(file) = &self.state_file {
            env.push(("EMULATOR_STATE_FILE".into(), file.display().to_string()));
        }
        env.extend(self.extra_env.iter().cloned());
        env
    }
}

/// A running emulator.
pub struct Emulator {
    pub proc: Proc,
    pub port: u16,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

impl Emulator {
    /// Starts it with `config` and waits until it is healthy.
    pub async fn start(config: &EmulatorConfig, log: &Path) -> Result<Self, String> {
        let env = config.env();
        let proc = Self::spawn(config.port, &env, log)?;
        let mut me = Emulator { proc, port: config.port, env, log: log.to_path_buf() };
        me.wait_healthy().await?;
        Ok(me)
    }

    fn spawn(port: u16, env: &[(String, String)], log: &Path) -> Result<Proc, String> {
        let mut cmd = Command::new("node");
        cmd.current_dir(crate::repo_root()).arg("infra/emulator/server.js");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        // The port it is given, whatever the extra environment says.
        cmd.env("EMULATOR_PORT", port.to_string());
        Proc::spawn("ERP.net emulator", cmd, log)
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let url = format!("{}/__emulator/health", self.origin());
        let client = probe_client();
        // Generous: the emulator generates its RSA signing key at start, which took over 30 s while the chaos test's
        // eight runtimes loaded the two cores. A healthy start answers in about a second; the deadline only matters
        // when something is wrong.
        wait_ready(&mut self.proc, "the ERP.net emulator", Duration::from_secs(120), || {
            http_status_is(&client, &url, 200)
        })
        .await
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn issuer(&self) -> String {
        format!("{}/id", self.origin())
    }

    /// Stops the emulator (the identity server and API go down).
    pub fn stop(&mut self) {
        self.proc.stop();
    }

    /// Starts it again on the same port. Without a state file its state is in memory: earlier grants are gone.
    pub async fn restart(&mut self) {
        self.proc.stop();
        self.proc = Self::spawn(self.port, &self.env, &self.log).unwrap_or_else(|e| panic!("{e}"));
        self.wait_healthy().await.unwrap_or_else(|e| panic!("{e}"));
    }
}
