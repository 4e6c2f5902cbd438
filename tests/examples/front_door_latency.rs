//! What the local front door (`infra/front-door.js`) adds to a small call (a script, not CI): one debug test stack
//! with the front door, demo signed in, then N rounds of the same two calls — through the front door and straight
//! to `cargo lambda watch` (with the secret header the front door would add) — alternating, so that load on the
//! machine hits both alike. Prints median and p90 per call and way.
//!
//!   cargo xtask with-dynamodb -- cargo run -q -p tests --example front_door_latency   # FD_ROUNDS=100

use std::time::Instant;
use tests::{Browser, Options, spawn_app_with};

const SECRET: &str = "FrontDoorLatency0123456789abcdefghijklmnopqrstuvwxyz";

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("FD_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let bff_env = vec![("FRONT_DOOR_SECRET".to_string(), SECRET.to_string())];
    let app = spawn_app_with(Options { front_door: true, bff_env, ..Default::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let session = shared::http::cookies::SESSION;
    let cookie = format!("{session}={}", b.cookie("localhost", session).unwrap());
    let http = reqwest::Client::new();
    let calls =
        [("GET /api/…?$top=3", "/api/domain/odata/Crm_Sales_Customers?$top=3"), ("GET /auth/session", "/auth/session")];
    let ways = [("front door", app.origin()), ("straight to the functions", app.functions_origin())];
    let mut ms: Vec<Vec<f64>> = vec![vec![]; calls.len() * ways.len()];
    for round in 0..rounds + 5 {
        for (c, (_, path)) in calls.iter().enumerate() {
            for (w, (_, origin)) in ways.iter().enumerate() {
                let mut req = http.get(format!("{origin}{path}")).header("x-csrf", "1").header("cookie", &cookie);
                if w == 1 {
                    req = req.header("x-bff-front-door", SECRET);
                }
                let started = Instant::now();
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), 200, "{path} via {}", ways[w].0);
                r.bytes().await.unwrap();
                if round >= 5 {
                    ms[c * ways.len() + w].push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
    }
    println!("{rounds} rounds (after 5 warm-up rounds), debug build; ms");
    println!("| Call | Way | Median | p90 |\n|---|---|---|---|");
    for (c, (call, _)) in calls.iter().enumerate() {
        for (w, (way, _)) in ways.iter().enumerate() {
            let mut v = ms[c * ways.len() + w].clone();
            v.sort_by(f64::total_cmp);
            println!("| {call} | {way} | {:.2} | {:.2} |", quantile(&v, 0.5), quantile(&v, 0.9));
        }
    }
    drop(app);
}
