//! A minimal Lambda Runtime API (the part a function's runtime client talks to) and a function process under it.
//!
//! [`RuntimeApi`] is a tokio TCP server speaking just enough HTTP/1.1 (keep-alive, `Content-Length` or chunked
//! bodies) for `GET /2018-06-01/runtime/invocation/next`, `POST …/invocation/{id}/response`, `…/{id}/error` and
//! `…/init/error`. [`FnProcess`] runs a release binary against it with the BFF's environment, as Lambda would
//! (a clean environment, the `AWS_LAMBDA_*` variables), and reads its `/proc` counters.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};

/// How one invocation ended, with the harness's timestamps.
#[derive(Debug)]
pub struct Outcome {
    /// `/response` (true) or `/error` (false).
    pub ok: bool,
    pub body: Vec<u8>,
    /// When the invocation was queued.
    pub submitted: Instant,
    /// When the `next` answer carrying it was written to the function.
    pub dispatched: Instant,
    /// When the function's `/response` (or `/error`) body had been read in full.
    pub done: Instant,
}

impl Outcome {
    /// The function's own time for this invocation (what Lambda bills as Duration).
    pub fn duration(&self) -> Duration {
        self.done - self.dispatched
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// A streamed answer (the proxy): the metadata prelude (JSON) and the body, split at the 8 NUL bytes.
    fn streamed(&self) -> Option<(Value, &[u8])> {
        let at = self.body.windows(8).position(|w| w == [0u8; 8])?;
        let prelude = serde_json::from_slice(&self.body[..at]).ok()?;
        Some((prelude, &self.body[at + 8..]))
    }
    /// The API Gateway v2 response's (or the streamed prelude's) `statusCode` (0 for an `/error` or an unreadable
    /// answer).
    pub fn status(&self) -> u16 {
        if !self.ok {
            return 0;
        }
        let status = match self.streamed() {
            Some((prelude, _)) => prelude["statusCode"].as_u64(),
            None => self.json()["statusCode"].as_u64(),
        };
        status.unwrap_or(0) as u16
    }
    /// The length of the response body as the function returned it (text, base64 for binary, or the raw stream).
    pub fn body_len(&self) -> usize {
        match self.streamed() {
            Some((_, body)) => body.len(),
            None => self.json()["body"].as_str().map(str::len).unwrap_or(0),
        }
    }
}

struct Invocation {
    id: String,
    event: Vec<u8>,
    submitted: Instant,
    reply: oneshot::Sender<Outcome>,
}

type Pending = (oneshot::Sender<Outcome>, Instant, Instant);

struct Inner {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// Handed-out invocations by request id: where to send the outcome, when queued, when handed out.
    pending: Mutex<HashMap<String, Pending>>,
    first_poll: OnceLock<Instant>,
    polled: Notify,
    init_error: Mutex<Option<String>>,
    function_arn: String,
}

/// One runtime API endpoint (one per function process).
pub struct RuntimeApi {
    pub port: u16,
    tx: mpsc::UnboundedSender<Invocation>,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl RuntimeApi {
    pub async fn start(function: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            first_poll: OnceLock::new(),
            polled: Notify::new(),
            init_error: Mutex::new(None),
            function_arn: format!("arn:aws:lambda:eu-west-1:000000000000:function:{function}"),
        });
        let shared = inner.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, shared.clone()));
            }
        });
        Ok(Self { port, tx, inner, server })
    }

    /// Queues an invocation; the function picks it up with its next `next` poll.
    pub fn submit(&self, event: &Value) -> oneshot::Receiver<Outcome> {
        let (reply, rx) = oneshot::channel();
        let id = format!("bench-{:08}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        let event = serde_json::to_vec(event).expect("event");
        let _ = self.tx.send(Invocation { id, event, submitted: Instant::now(), reply });
        rx
    }

    /// When the function first polled `next` (its init is over), waiting up to `timeout`.
    pub async fn first_poll(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.polled.notified();
            if let Some(t) = self.inner.first_poll.get() {
                return Some(*t);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().unwrap().clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one request; `Ok(None)` when the peer closed the connection between requests.
async fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<(HttpRequest, Instant)>> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let head_read = Instant::now();
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let start = body.len();
            body.resize(start + size + 2, 0);
            r.read_exact(&mut body[start..]).await?;
            body.truncate(start + size);
            if size == 0 {
                break;
            }
        }
    } else if length > 0 {
        body.resize(length, 0);
        r.read_exact(&mut body).await?;
    }
    Ok(Some((HttpRequest { method, path, body }, head_read)))
}

async fn respond(r: &mut BufReader<TcpStream>, status: &str, headers: &[(&str, String)], body: &[u8]) -> bool {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut buf = out.into_bytes();
    buf.extend_from_slice(body);
    let w = r.get_mut();
    w.write_all(&buf).await.is_ok() && w.flush().await.is_ok()
}

async fn connection(stream: TcpStream, inner: Arc<Inner>) {
    const NEXT: &str = "/2018-06-01/runtime/invocation/next";
    const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    while let Ok(Some((req, head_read))) = read_request(&mut r).await {
        let accepted = [("Content-Type", "application/json".to_string())];
        if req.method == "GET" && req.path == NEXT {
            if inner.first_poll.set(head_read).is_ok() {
                inner.polled.notify_waiters();
            }
            let inv = {
                let mut q = inner.queue.lock().await;
                match q.recv().await {
                    Some(inv) => inv,
                    None => return,
                }
            };
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 + 30_000;
            let headers = [
                ("Content-Type", "application/json".to_string()),
                ("Lambda-Runtime-Aws-Request-Id", inv.id.clone()),
                ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                ("Lambda-Runtime-Invoked-Function-Arn", inner.function_arn.clone()),
                ("Lambda-Runtime-Trace-Id", format!("Root=1-00000000-{:024x};Sampled=0", 0)),
            ];
            let id = inv.id.clone();
            // Registered before the answer goes out, so a response on another connection always finds it.
            inner.pending.lock().unwrap().insert(inv.id, (inv.reply, inv.submitted, Instant::now()));
            if !respond(&mut r, "200 OK", &headers, &inv.event).await {
                return;
            }
            if let Some(entry) = inner.pending.lock().unwrap().get_mut(&id) {
                entry.2 = Instant::now();
            }
        } else if req.method == "POST" && req.path.starts_with(INVOCATION) {
            let done = Instant::now();
            let rest = &req.path[INVOCATION.len()..];
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let entry = inner.pending.lock().unwrap().remove(id);
            if !respond(&mut r, "202 Accepted", &accepted, b"{\"status\":\"OK\"}").await {
                return;
            }
            if let Some((reply, submitted, dispatched)) = entry {
                let _ = reply.send(Outcome { ok: kind == "response", body: req.body, submitted, dispatched, done });
            }
        } else if req.method == "POST" && req.path == "/2018-06-01/runtime/init/error" {
            *inner.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&req.body).into_owned());
            if !respond(&mut r, "202 Accepted", &accepted, b"{\"status\":\"OK\"}").await {
                return;
            }
        } else if !respond(&mut r, "404 Not Found", &accepted, b"{\"errorMessage\":\"not found\"}").await {
            return;
        }
    }
}

/// A function's release binary running under its own [`RuntimeApi`]. Killed when dropped.
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
