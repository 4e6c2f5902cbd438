//! Buffered answers (`PROXY_STREAMING=false`, a `BUFFERED` function URL) across the envelope limit (Lambda's 6 MB; 2 MiB locally):
//! every size comes back whole or as `502 upstream_response_too_large`, and promptly, straight from the functions
//! and through the local front door. The limit is on the JSON envelope, so the body counts as the envelope
//! carries it: JSON-escaped text (a `"` takes two bytes) or base64 (4 bytes per 3).

use std::time::{Duration, Instant};
use tests::{Browser, Options, TestApp, spawn_app_with};

/// A hang is the failure: an answer of 6.5 MB takes well under a second on a loaded machine.
const PROMPT: Duration = Duration::from_secs(8);

/// How the emulator pads the answer (`apiResponsePadding`).
#[derive(Clone, Copy, Debug)]
enum Padding {
    /// Plain `x`s: the envelope carries the body as is.
    Plain,
    /// `"`s: each is `\"` in the answer and `\\\"` in the envelope, twice the answer's size.
    Quotes,
    /// Not JSON: bytes of every value (base64 in the envelope).
    Binary,
}

impl Padding {
    fn name(self) -> &'static str {
        match self {
            Padding::Plain => "x",
            Padding::Quotes => "quotes",
            Padding::Binary => "binary",
        }
    }
}

/// What one answer must be.
#[derive(Debug, PartialEq)]
enum Outcome {
    Whole,
    TooLarge,
}

/// The front door's secret: the functions take requests straight only with it (as from CloudFront).
const SECRET: &str = "SizesTest0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

async fn buffered_app() -> TestApp {
    // Explicitly buffered: the local stack runs the proxy streaming, as template.yaml deploys it by default.
    let bff_env = vec![
        ("PROXY_STREAMING".to_string(), "false".to_string()),
        ("FRONT_DOOR_SECRET".to_string(), SECRET.to_string()),
    ];
    spawn_app_with(Options { front_door: true, bff_env, ..Default::default() }).await
}

#[tokio::test]
async fn buffered_answers_across_the_envelope_limit_come_back_whole_or_502_promptly() {
    let app = buffered_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let session = shared::http::cookies::SESSION;
    let cookie = format!("{session}={}", b.cookie("localhost", session).unwrap());
    let http = reqwest::Client::builder().timeout(PROMPT).build().unwrap();

    use Outcome::{TooLarge, Whole};
    use Padding::{Binary, Plain, Quotes};
    // (size of the API's answer, padding, the outcome with the local stack's envelope limit of 2 MiB,
    // `xtask::stack::bff::LOCAL_BUFFERED_LIMIT`). AWS's limit is 6 MiB: there the answers marked * come back whole;
    // locally they are a prompt 502, because cargo lambda watch 1.9.2 sometimes never delivers a large buffered
    // answer the function has already sent (seen from about 4.9 MB of envelope).
    assert_eq!(xtask::stack::bff::LOCAL_BUFFERED_LIMIT, 2 * 1024 * 1024);
    let cases = [
        (1_000_000, Plain, Whole),
        (1_900_000, Plain, Whole),
        (2_200_000, Plain, TooLarge), // *
        (5_900_000, Plain, TooLarge), // *
        (6_000_000, Plain, TooLarge), // *
        (6_291_456, Plain, TooLarge),
        (6_500_000, Plain, TooLarge),
        (900_000, Quotes, Whole),
        (1_100_000, Quotes, TooLarge), // *
        (2_900_000, Quotes, TooLarge), // *
        (3_300_000, Quotes, TooLarge),
        (1_400_000, Binary, Whole),
        (1_600_000, Binary, TooLarge), // *
        (4_400_000, Binary, TooLarge), // *
        (4_800_000, Binary, TooLarge),
    ];
    let mut failures = vec![];
    for origin in [app.functions_origin(), app.origin()] {
        let front_door = if origin == app.origin() { "through the front door" } else { "at the functions" };
        for (bytes, padding, expected) in &cases {
            let what = format!("{bytes} bytes of {} {front_door}", padding.name());
            let control = serde_json::json!({ "apiResponseBytes": bytes, "apiResponsePadding": padding.name() });
            app.emulator_control(control).await;
            let started = Instant::now();
            let answer = async {
                let r = http
                    .get(format!("{origin}/api/domain/odata/Crm_Sales_Customers"))
                    .header("x-csrf", "1")
                    .header("cookie", &cookie)
                    .header("x-bff-front-door", SECRET)
                    .send()
                    .await?;
                let status = r.status().as_u16();
                let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_string());
                Ok::<_, reqwest::Error>((status, content_type, r.bytes().await?))
            };
            let (status, content_type, body) = match answer.await {
                Ok(a) => a,
                Err(e) => {
                    failures.push(format!("{what}: no answer within {PROMPT:?} ({e})"));
                    continue;
                }
            };
            let took = started.elapsed();
            let outcome = match (status, content_type.as_deref()) {
                (200, _) => {
                    let whole = match padding {
                        Binary => body.len() == *bytes && body.iter().enumerate().all(|(i, b)| *b == (i * 7) as u8),
                        _ => serde_json::from_slice::<serde_json::Value>(&body)
                            .is_ok_and(|v| v["value"].as_array().is_some_and(|rows| rows.len() == 36)),
                    };
                    if !whole {
                        failures.push(format!("{what}: 200 with {} bytes, not the whole answer", body.len()));
                    }
                    Whole
                }
                (502, Some("application/problem+json")) => {
                    let code = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default()["code"].clone();
                    if code != "upstream_response_too_large" {
                        failures.push(format!("{what}: 502 {code}"));
                    }
                    TooLarge
                }
                _ => {
                    failures.push(format!("{what}: {status} {content_type:?} {}", String::from_utf8_lossy(&body)));
                    continue;
                }
            };
            if outcome != *expected {
                failures.push(format!("{what}: {outcome:?}, expected {expected:?}"));
            }
            eprintln!("{what}: {status} in {took:?}");
        }
    }
    app.emulator_control(serde_json::json!({})).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(app.session_items().await.len(), 1, "the session survives");
}
