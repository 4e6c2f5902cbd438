//! The example SPA (examples/spa) under Vite: the page and, through Vite's proxy, the BFF on one origin.

use super::process::{Proc, http_status_is, probe_client, wait_ready};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Starts Vite on `localhost:{port}`, forwarding /auth/* and /api/* to `bff_target`, and waits until both the page
/// and the BFF through the proxy answer.
pub async fn start(port: u16, bff_target: &str, log: &Path) -> Result<Proc, String> {
    let dir = crate::repo_root().join("examples").join("spa");
    let vite = dir.join("node_modules").join("vite").join("bin").join("vite.js");
    if !vite.exists() {
        return Err(format!("{} is missing: run `make setup`", vite.display()));
    }
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).arg(vite).env("SPA_PORT", port.to_string()).env("BFF_TARGET", bff_target);
    let mut proc = Proc::spawn("Vite (example SPA)", cmd, log)?;
    let client = probe_client();
    let page = format!("http://localhost:{port}/");
    wait_ready(&mut proc, "Vite", Duration::from_secs(60), || http_status_is(&client, &page, 200)).await?;
    let session = format!("http://localhost:{port}/auth/session");
    wait_ready(&mut proc, "the BFF through Vite's proxy", Duration::from_secs(30), || {
        http_status_is(&client, &session, 200)
    })
    .await?;
    Ok(proc)
}
