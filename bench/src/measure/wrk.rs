//! Load through `cargo lambda watch`: wrk, and sequential calls with a short timeout.

use crate::stats::Samples;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// What one wrk run reports.
pub struct Wrk {
    pub rps: f64,
    pub p50: String,
    pub p99: String,
    pub requests: u64,
    /// `0`, or the non-2xx count with examples and the socket errors.
    pub errors: String,
}

/// A wrk script that prints the first few non-200 answers (status and the start of the body) to its output.
const WRK_SCRIPT: &str = r#"
local seen = 0
function response(status, headers, body)
  if status ~= 200 and seen < 3 then
    seen = seen + 1
    io.write("non-200: ", status, " ", string.sub(body or "", 1, 200), "\n")
  end
end
"#;

pub fn installed() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// `wrk -t1 -c<conns> -d<secs>s` of demo's GET; its output is appended to target/bench/wrk.log.
pub fn wrk(url: &str, cookie: &str, conns: usize, secs: u64) -> Option<Wrk> {
    let script = tests::repo_root().join("target").join("bench").join("status.lua");
    std::fs::write(&script, WRK_SCRIPT).ok()?;
    let out = Command::new("wrk")
        .arg("-s")
        .arg(&script)
        .args(["-t1", "-c", &conns.to_string(), "-d", &format!("{secs}s"), "--latency", "--timeout", "5s"])
        .args(["-H", "X-CSRF: 1", "-H", &format!("Cookie: {cookie}"), url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = tests::repo_root().join("target").join("bench").join("wrk.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        use std::io::Write;
        let _ = writeln!(f, "$ wrk -c{conns} -d{secs}s {url}\n{text}");
    }
    parse(&text)
}

fn parse(text: &str) -> Option<Wrk> {
    let find = |prefix: &str| {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_string())
    };
    let rps = find("Requests/sec:")?.parse().ok()?;
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut errors = vec![];
    if let Some(e) = find("Non-2xx or 3xx responses:") {
        let mut codes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("non-200: "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        codes.dedup();
        errors.push(format!("{e} non-2xx (e.g. {})", codes.join(", ")));
    }
    if let Some(e) = find("Socket errors:") {
        errors.push(format!("socket errors: {e}"));
    }
    Some(Wrk {
        rps,
        p50: find("50%")?,
        p99: find("99%")?,
        requests,
        errors: if errors.is_empty() { "0".into() } else { errors.join("; ") },
    })
}

/// Sequential GETs through cargo lambda watch (5 s timeout each, stopping after 3 timeouts): latencies of the 200s,
/// and a tally of the answers (`200`, other statuses, `timeout`, `error`).
pub async fn sequential(url: &str, cookie: &str, n: usize) -> (Samples, BTreeMap<String, usize>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut lat = Samples::default();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut timeouts = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = async {
            let r = http.get(url).header("x-csrf", "1").header("cookie", cookie).send().await?;
            let s = r.status().as_u16();
            r.bytes().await?;
            Ok::<_, reqwest::Error>(s)
        }
        .await;
        let key = match r {
            Ok(200) => {
                lat.push(t.elapsed());
                "200".to_string()
            }
            Ok(s) => s.to_string(),
            Err(e) if e.is_timeout() => {
                timeouts += 1;
                "timeout".into()
            }
            Err(_) => "error".into(),
        };
        *codes.entry(key).or_insert(0) += 1;
        if timeouts >= 3 {
            break;
        }
    }
    (lat, codes)
}

#[cfg(test)]
mod unit_tests {
    #[test]
    fn reads_wrks_summary_and_errors() {
        let out = "Running 10s test @ http://127.0.0.1:1/api\n  1 threads and 4 connections\n  Latency Distribution\n     \
                   50%    4.10ms\n     75%    5.00ms\n     90%    6.00ms\n     99%   12.30ms\n  7975 requests in 10.00s, \
                   4.1MB read\n  Socket errors: connect 0, read 0, write 0, timeout 2\n  Non-2xx or 3xx responses: 3\n\
                   non-200: 502 {\"title\":\"x\"}\nnon-200: 502 {}\nRequests/sec:    797.43\nTransfer/sec:    420KB\n";
        let w = super::parse(out).expect("parsed");
        assert_eq!((w.rps, w.p50.as_str(), w.p99.as_str(), w.requests), (797.43, "4.10ms", "12.30ms", 7975));
        assert_eq!(w.errors, "3 non-2xx (e.g. 502); socket errors: connect 0, read 0, write 0, timeout 2");
        assert!(super::parse("connection refused").is_none());
    }
}
