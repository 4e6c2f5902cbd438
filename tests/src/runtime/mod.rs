//! A minimal Lambda Runtime API (the part a function's runtime client talks to) and a function process under it:
//! how the benchmarks run a function, and how the tests run one process serving several invocations at once (Lambda
//! Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY`), which `cargo lambda watch` cannot show (it hands a process one
//! event at a time).
//!
//! [`RuntimeApi`] is a tokio TCP server speaking just enough HTTP/1.1 (keep-alive, `Content-Length` or chunked
//! bodies) for `GET /2018-06-01/runtime/invocation/next`, `POST …/invocation/{id}/response`, `…/{id}/error` and
//! `…/init/error` (`server`). [`FnProcess`] runs a function's binary against it with the BFF's environment, as
//! Lambda would (a clean environment, the `AWS_LAMBDA_*` variables), and reads its `/proc` counters. [`event`]
//! builds the API Gateway v2 event a function is invoked with.

mod event;
mod process;
mod server;

pub use event::event;
pub use process::{FnProcess, cpu_ticks, debug_binary};

use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
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
    /// The response body read as JSON (the stream, or the text body of a buffered answer; `Null` if it is not JSON).
    pub fn body_json(&self) -> Value {
        match self.streamed() {
            Some((_, body)) => serde_json::from_slice(body).unwrap_or(Value::Null),
            None => self.json()["body"].as_str().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null),
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
    /// The most invocations handed out and not yet answered at any one time.
    max_in_flight: AtomicUsize,
    first_poll: OnceLock<Instant>,
    polled: Notify,
    init_error: Mutex<Option<String>>,
    function_arn: String,
}

impl Inner {
    /// Registers an invocation as handed out (and counts how many are now in flight).
    fn hand_out(&self, id: String, reply: oneshot::Sender<Outcome>, submitted: Instant) {
        let in_flight = {
            let mut pending = self.pending.lock().unwrap();
            pending.insert(id, (reply, submitted, Instant::now()));
            pending.len()
        };
        self.max_in_flight.fetch_max(in_flight, Ordering::Relaxed);
    }
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
            max_in_flight: AtomicUsize::new(0),
            first_poll: OnceLock::new(),
            polled: Notify::new(),
            init_error: Mutex::new(None),
            function_arn: format!("arn:aws:lambda:eu-west-1:000000000000:function:{function}"),
        });
        let shared = inner.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(server::connection(stream, shared.clone()));
            }
        });
        Ok(Self { port, tx, inner, server })
    }

    /// Queues an invocation; the function picks it up with its next `next` poll.
    pub fn submit(&self, event: &Value) -> oneshot::Receiver<Outcome> {
        let (reply, rx) = oneshot::channel();
        let id = format!("invocation-{:08}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
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

    /// The most invocations the function held at once (handed out by `next`, not yet answered) so far: 1 for a
    /// process that serves one event at a time.
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::Relaxed)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
