//! Faults: the identity server, DynamoDB and the ERP.net API down, slow, erroring or misbehaving. Each test checks
//! the answer (a clean problem+json, never a bare 500) and what survives.

use reqwest::Method;
use shared::http::cookies::SESSION;
use std::time::Duration;
use tests::{Browser, Options, spawn_app_with};

const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers?$top=2";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn identity_server_down_or_slow_at_login_callback_and_logout() {
    let mut app = spawn_app_with(Options {
        emulator_state_file: true,
        bff_env: env(&[("IDP_TIMEOUT_MS", "1000")]),
        ..Options::default()
    })
    .await;

    // Login with the identity server down (nothing cached yet): 502, and nothing written.
    app.emulator.stop();
    let mut b = Browser::new();
    let r = b.get(&app.url("/auth/login")).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.problem_code(), "idp_unavailable");
    assert!(app.scan().await.is_empty(), "no pending login left behind");
    app.emulator.restart().await;

    // Callback while the token endpoint is slower than the timeout: 504; the user can start again.
    let authorize = app.start_login(&mut b, Some("/x")).await;
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    app.emulator_control(serde_json::json!({"tokenDelayMs": 2500})).await;
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.problem_code(), "idp_timeout");
    assert!(app.session_items().await.is_empty());
    app.emulator_control(serde_json::json!({})).await;

    // Callback while the token endpoint answers 5xx: 502.
    let authorize = app.start_login(&mut b, Some("/x")).await;
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    app.emulator_control(serde_json::json!({"tokenStatus": 500, "tokenStatusTimes": 1})).await;
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.problem_code(), "idp_unavailable");

    // Callback with the identity server stopped: 502.
    let authorize = app.start_login(&mut b, Some("/x")).await;
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    app.emulator.stop();
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.problem_code(), "idp_unavailable");
    app.emulator.restart().await;

    // Signed in; then logout with the identity server down still ends the session here.
    app.sign_in(&mut b, "demo", "demo").await;
    let logout = app.session_json(&mut b).await["logoutUrl"].as_str().unwrap().to_string();
    app.emulator.stop();
    let r = b.get(&app.url(&logout)).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{SESSION}=;"))));
    assert!(app.session_items().await.is_empty(), "the session is gone even though revocation failed");
}

#[tokio::test]
async fn dynamodb_stopped_and_restarted() {
    let mut app = spawn_app_with(Options { private_dynamodb: true, ..Options::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let before = app.only_session().await;

    app.private_ddb.as_mut().unwrap().stop();
    for (method, path) in [(Method::GET, CUSTOMERS), (Method::GET, "/auth/session"), (Method::POST, "/auth/refresh")] {
        let r = app.api(&mut b, method, path, None, &[]).await;
        assert_eq!(r.status, 503, "{path}: {}", r.text());
        assert_eq!(r.problem_code(), "store_unavailable");
        assert!(r.set_cookies().is_empty(), "{path}: the cookie is kept");
    }
    let r = b.get(&app.url("/auth/login")).await;
    assert_eq!(r.problem_code(), "store_unavailable");

    app.private_ddb.as_mut().unwrap().restart().await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = app.only_session().await;
    assert_eq!(
        before[shared::session::store::attr::TOK],
        after[shared::session::store::attr::TOK],
        "no half-written session"
    );
    assert_eq!(before[shared::session::store::attr::VER], after[shared::session::store::attr::VER]);
    let mut c = Browser::new();
    app.sign_in(&mut c, "alice", "alice").await;
    assert_eq!(app.session_items().await.len(), 2);
}

#[tokio::test]
async fn dynamodb_throttling_and_errors_are_absorbed_or_clean() {
    let app = spawn_app_with(Options { ddb_proxy: true, ..Options::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;

    // A fraction of calls throttled or failing: the SDK's retries absorb most, the rest are a clean 503.
    app.ddb_control(serde_json::json!({"throttleRate": 0.2, "errorRate": 0.1})).await;
    let mut ok = 0;
    for _ in 0..40 {
        let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
        match r.status {
            200 => ok += 1,
            503 => assert_eq!(r.problem_code(), "store_unavailable"),
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    let faults = app.ddb_stats().await["faults"].clone();
    assert!(
        faults["throttle"].as_u64().unwrap() + faults["error"].as_u64().unwrap() > 0,
        "faults were injected: {faults}"
    );
    assert!(ok >= 35, "retries should absorb most injected faults ({ok}/40 succeeded)");

    // Every call failing: a clean 503, never a 500, and the session is intact afterwards.
    app.ddb_control(serde_json::json!({"throttleRate": 1.0})).await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.problem_code(), "store_unavailable");
    app.ddb_control(serde_json::json!({"down": true})).await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.problem_code(), "store_unavailable");
    app.ddb_control(serde_json::json!({})).await;
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
}

#[tokio::test]
async fn the_hot_path_makes_one_read_and_no_identity_server_call() {
    let app = spawn_app_with(Options { ddb_proxy: true, ..Options::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200); // warm: discovery etc.
    app.ddb_reset().await;
    let idp_before = app.emulator_stats().await;
    for _ in 0..10 {
        assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    }
    let ops = app.ddb_stats().await["ops"].clone();
    assert_eq!(ops, serde_json::json!({"GetItem": 10}), "exactly one read per proxied call, no writes");
    let idp_after = app.emulator_stats().await;
    assert_eq!(idp_before["token"], idp_after["token"], "no token-endpoint call on the hot path");
}

#[tokio::test]
async fn upstream_down_slow_garbage_or_cut_off() {
    // The API base points at a port nobody listens on: the identity server is up, the API is down.
    let dead = tests::free_port();
    // Buffered, explicitly: a body cut off mid-way is then a 502 (a streamed answer's status has already left).
    let bff_env = env(&[("UPSTREAM_TIMEOUT_MS", "1000"), ("PROXY_STREAMING", "false")]);
    let app = spawn_app_with(Options { bff_env, ..Options::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;

    // Slow.
    app.emulator_control(serde_json::json!({"apiDelayMs": 2000, "apiDelayTimes": 1})).await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 504);
    assert_eq!(r.problem_code(), "upstream_timeout");

    // Garbage passes through as it came (the BFF does not parse bodies).
    app.emulator_control(serde_json::json!({"apiGarbage": true, "apiGarbageTimes": 1})).await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    // Cut off mid-body.
    app.emulator_control(serde_json::json!({"apiCloseMidBody": true, "apiCloseMidBodyTimes": 1})).await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.problem_code(), "upstream_unavailable");

    // A 5xx from the API is the API's answer: passed through.
    app.emulator_control(serde_json::json!({"apiStatus": 503, "apiStatusTimes": 1})).await;
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 503);

    // And after all of it the session works.
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 1);
    drop(app);

    // Down.
    let app = spawn_app_with(Options {
        bff_env: env(&[("API_BASE", &format!("http://127.0.0.1:{dead}/api")), ("ISSUER", "")]),
        ..Options::default()
    })
    .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.problem_code(), "upstream_unavailable");
    assert_eq!(app.session_items().await.len(), 1);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_request_breaks_nothing() {
    let app = spawn_app_with(Options::default()).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    app.emulator_control(serde_json::json!({"apiDelayMs": 1500, "apiDelayTimes": 3})).await;
    let cookie = format!("{SESSION}={}", b.cookie("localhost", SESSION).unwrap());
    for _ in 0..3 {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.bff_port)).await.unwrap();
        let req = format!(
            "GET {CUSTOMERS} HTTP/1.1\r\nHost: localhost:{}\r\nX-CSRF: 1\r\nCookie: {cookie}\r\n\r\n",
            app.bff_port
        );
        s.write_all(req.as_bytes()).await.unwrap();
        drop(s); // gone before the answer
    }
    // The BFF keeps serving this user (the abandoned calls drain first), and the session is intact.
    let r = tokio::time::timeout(Duration::from_secs(60), app.api(&mut b, Method::GET, CUSTOMERS, None, &[]))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 1);
}
