//! What the local front door (`infra/front-door.js`) adds to a call (a script, not CI): one debug test stack with
//! the front door, demo signed in, then N rounds of each call — through the front door and straight to the
//! functions (with the secret header the front door would add) — alternating, so that load on the machine hits both
//! alike. Prints median and p90 of the time to the first body byte and of the total, per call and way.
//!
//!   cargo xtask with-dynamodb -- cargo run -q -p tests --example front_door_latency   # small calls, FD_ROUNDS=100
//!   FD_STREAM=1 cargo xtask with-dynamodb -- …                  # 1, 20, 50 MB answers streamed, FD_ROUNDS=5

use serde_json::json;
use std::time::Instant;
use tests::{Browser, Options, spawn_app_with};

const SECRET: &str = "FrontDoorLatency0123456789abcdefghijklmnopqrstuvwxyz";
const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers";

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn summary(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    format!("{:.2} / {:.2}", quantile(&v, 0.5), quantile(&v, 0.9))
}

#[tokio::main]
async fn main() {
    let stream = std::env::var("FD_STREAM").is_ok_and(|v| v == "1");
    let rounds: usize =
        std::env::var("FD_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(if stream { 5 } else { 100 });
    let mut bff_env = vec![("FRONT_DOOR_SECRET".to_string(), SECRET.to_string())];
    if stream {
        bff_env.push(("PROXY_STREAMING".into(), "true".into()));
    }
    let app = spawn_app_with(Options { front_door: true, bff_env, ..Default::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let session = shared::http::cookies::SESSION;
    let cookie = format!("{session}={}", b.cookie("localhost", session).unwrap());
    let http = reqwest::Client::new();
    // (label, path, the emulator's answer size; 0 = as it is)
    let calls: Vec<(&str, String, u64)> = match stream {
        true => [("1 MB", 1_000_000), ("20 MB", 20_000_000), ("50 MB", 50_000_000)]
            .into_iter()
            .map(|(l, n)| (l, CUSTOMERS.to_string(), n))
            .collect(),
        false => vec![
            ("GET /api/…?$top=3", format!("{CUSTOMERS}?$top=3"), 0),
            ("GET /auth/session", "/auth/session".into(), 0),
        ],
    };
    let ways = [("front door", app.origin()), ("straight to the functions", app.functions_origin())];
    println!(
        "{rounds} rounds per call (after 2 warm-up rounds), debug build, PROXY_STREAMING={stream}; ms, median / p90"
    );
    println!("| Call | Way | First byte | Total |\n|---|---|---|---|");
    for (label, path, bytes) in &calls {
        app.emulator_control(if *bytes > 0 { json!({ "apiResponseBytes": bytes }) } else { json!({}) }).await;
        let mut ms = vec![(vec![], vec![]); ways.len()];
        for round in 0..rounds + 2 {
            for (w, (way, origin)) in ways.iter().enumerate() {
                let mut req = http.get(format!("{origin}{path}")).header("x-csrf", "1").header("cookie", &cookie);
                if w == 1 {
                    req = req.header("x-bff-front-door", SECRET);
                }
                let started = Instant::now();
                let mut r = req.send().await.unwrap();
                assert_eq!(r.status(), 200, "{path} via {way}");
                let mut first = None;
                while let Some(chunk) = r.chunk().await.unwrap() {
                    first = first.or((!chunk.is_empty()).then(|| started.elapsed()));
                }
                let total = started.elapsed();
                if round >= 2 {
                    ms[w].0.push(first.unwrap_or(total).as_secs_f64() * 1000.0);
                    ms[w].1.push(total.as_secs_f64() * 1000.0);
                }
            }
        }
        for (w, (way, _)) in ways.iter().enumerate() {
            println!("| {label} | {way} | {} | {} |", summary(&ms[w].0), summary(&ms[w].1));
        }
    }
    app.emulator_control(json!({})).await;
}
