//! Background processes of the local stack: each in its own process group, tracked by PID, its output in a log
//! file, and stopped (TERM to the group, then KILL) by [`Proc::stop`] or when dropped. Plus the one
//! poll-with-deadline-and-backoff helper everything waits with (never a sleep as synchronisation).

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process in a process group of its own, killed (group-wide: TERM, then KILL) when dropped.
pub struct Proc {
    child: Option<Child>,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` in a new process group, stdin closed, stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc, String> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        let child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Proc { child: Some(child), name: name.into(), log: log.to_path_buf() })
    }

    /// The PID of the group leader (= the process group id).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// `Some(description)` once the process has ended.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            None => Some("stopped".into()),
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Ok(None)) => None,
            Some(Err(e)) => Some(e.to_string()),
        }
    }

    /// The last `lines` lines of its log, for error messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.trim_end().lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// An error naming the process, its end and its log, when it has ended.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.exited() {
            None => Ok(()),
            Some(how) => Err(format!("{} stopped ({how}); log {}:\n{}", self.name, self.log.display(), self.tail(25))),
        }
    }

    /// TERM to the whole group, up to 5 s for the leader to end, then KILL to the group (grandchildren included).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pgid = child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut delay = Duration::from_millis(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(100));
        }
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// Polls `check` until it is true or `timeout` passes: a deadline and an exponential backoff (20 ms … 250 ms).
pub async fn poll_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    while !check().await {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
    Ok(())
}

/// [`poll_until`] for a service: fails at once (with the end of its log) if `proc` ends before `check` holds.
pub async fn wait_ready<F, Fut>(proc: &mut Proc, what: &str, timeout: Duration, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    loop {
        proc.check_running()?;
        if check().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let log = proc.log.display();
            return Err(format!("timed out after {timeout:?} waiting for {what}; log {log}:\n{}", proc.tail(25)));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// The status `url` answers a probe with (`X-CSRF: 1`, as the SPA's requests; `Host: host` when given: with the
/// instance registry on, the functions serve only the app's hosts).
pub async fn probe_status(client: &reqwest::Client, url: &str, host: Option<&str>) -> Option<u16> {
    let mut req = client.get(url).header("x-csrf", "1");
    if let Some(host) = host {
        req = req.header(reqwest::header::HOST, host);
    }
    req.send().await.map(|r| r.status().as_u16()).ok()
}

/// True once `url` answers with `want` (requests carry `X-CSRF: 1`, as the SPA's do; redirects are not followed).
pub async fn http_status_is(client: &reqwest::Client, url: &str, want: u16) -> bool {
    matches!(client.get(url).header("x-csrf", "1").send().await, Ok(r) if r.status().as_u16() == want)
}

/// True once something accepts TCP connections on 127.0.0.1:`port`.
pub async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

/// An HTTP client for readiness probes: no redirects, short timeouts.
pub fn probe_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}
