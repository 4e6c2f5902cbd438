//! The local front door (`infra/front-door.js`) in front of `cargo lambda watch`: what CloudFront, the proxy's
//! function URL (origin access control) and the HTTP API do to a request before a function sees it — the path as
//! each delivers it, repeated headers joined, their size limits, the body hash on `/api/*`, the secret header.
//! docs/front-door.md ("Local parity") lists each behaviour and the test that shows it.

use super::process::{Proc, probe_client, probe_status, wait_ready};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The header CloudFront adds on the way to the HTTP API; the functions check it when `FRONT_DOOR_SECRET` is set.
pub const SECRET_ENV: &str = "FRONT_DOOR_SECRET";

/// The running front door.
pub struct FrontDoor {
    pub proc: Proc,
    pub port: u16,
}

impl FrontDoor {
    /// Starts it on 127.0.0.1:`port` in front of the functions on `bff_port`, adding `secret` as CloudFront does.
    /// Ready once `GET /auth/session` through it answers 200 (the functions accept the secret), sent with
    /// `Host: probe_host` when given (with the instance registry on, only the app's host is served).
    pub async fn start(
        port: u16,
        bff_port: u16,
        secret: &str,
        probe_host: Option<&str>,
        log: &Path,
    ) -> Result<FrontDoor, String> {
        let mut cmd = Command::new("node");
        cmd.current_dir(crate::repo_root())
            .args(["infra/front-door.js", "--port", &port.to_string()])
            .args(["--target", &format!("http://127.0.0.1:{bff_port}")])
            .env(SECRET_ENV, secret);
        let mut proc = Proc::spawn("the local front door", cmd, log)?;
        let client = probe_client();
        let session = format!("http://localhost:{port}/auth/session");
        let ok = || async { probe_status(&client, &session, probe_host).await == Some(200) };
        wait_ready(&mut proc, "the functions through the front door", Duration::from_secs(60), ok).await?;
        Ok(FrontDoor { proc, port })
    }

    /// Its base URL (the app's origin when there is no SPA).
    pub fn url(&self) -> String {
        format!("http://localhost:{}", self.port)
    }
}

/// With a front door: its secret, and the functions' environment with it as `FRONT_DOOR_SECRET`.
pub fn secret_and_env(opts: &super::StackOptions) -> (Option<String>, Vec<(String, String)>) {
    let secret = opts.front_door_port.map(|_| secret_for(&opts.bff_env));
    let mut env = opts.bff_env.clone();
    if let Some(s) = &secret {
        env.push((SECRET_ENV.into(), s.clone()));
    }
    (secret, env)
}

/// A fresh secret for one stack (64 hex digits from the OS's randomness), unless the functions' environment
/// already sets one.
pub fn secret_for(bff_env: &[(String, String)]) -> String {
    if let Some((_, v)) = bff_env.iter().find(|(k, _)| k == SECRET_ENV) {
        return v.clone();
    }
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
