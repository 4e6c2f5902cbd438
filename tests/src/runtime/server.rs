//! The runtime API's HTTP side: one task per connection of the function's runtime client.

use super::{Inner, Outcome};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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

pub(super) async fn connection(stream: TcpStream, inner: Arc<Inner>) {
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
            inner.hand_out(inv.id, inv.reply, inv.submitted);
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
