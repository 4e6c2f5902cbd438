//! Lambda Managed Instances: one process of the proxy serving several invocations at once
//! (`AWS_LAMBDA_MAX_CONCURRENCY` above 1; `shared::app::launch`). `cargo lambda watch` hands a process one event at
//! a time, so these tests run the debug build of the proxy under the harness's own Lambda Runtime API
//! (`tests::runtime`), configured for this test's stack, and submit many invocations at once.

use serde_json::Value;
use shared::http::cookies::SESSION;
use std::time::Duration;
use tests::runtime::{FnProcess, Outcome, debug_binary, event};
use tests::{Browser, Options, TestApp, spawn_app, spawn_app_with};

/// How long all the invocations of one burst may take together.
const BURST: Duration = Duration::from_secs(60);

/// The proxy's debug build under its own runtime API, with this stack's configuration, `max_concurrency` and
/// `extra` environment.
async fn proxy_process(app: &TestApp, max_concurrency: usize, extra: &[(&str, &str)]) -> FnProcess {
    let mut env = app.function_env();
    env.push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), max_concurrency.to_string()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let log = app.bff_log.with_file_name(format!("managed-{}-proxy.log", tests::free_port()));
    FnProcess::start("proxy", &debug_binary("proxy"), &env, &log).await
}

/// Signs `user` in through the real flow: the `name=value` session cookie.
async fn session_cookie(app: &TestApp, user: &str) -> String {
    let mut b = Browser::new();
    app.sign_in(&mut b, user, user).await;
    let value = b.cookie("localhost", SESSION).unwrap_or_else(|| panic!("{user}'s session cookie"));
    format!("{SESSION}={value}")
}

/// The SPA's proxied `GET` of `top` customers, as API Gateway hands it to the function.
fn customers(app: &TestApp, cookie: &str, top: usize) -> Value {
    let host = app.origin().trim_start_matches("http://").to_string();
    event(&host, "GET", &format!("/api/domain/odata/Crm_Sales_Customers?$top={top}"), Some(cookie), true)
}

/// Submits every event at once (before any answer), then waits for all the outcomes, in order.
async fn burst(p: &FnProcess, events: &[Value]) -> Vec<Outcome> {
    let pending: Vec<_> = events.iter().map(|e| p.rt.submit(e)).collect();
    let all = async {
        let mut out = vec![];
        for rx in pending {
            out.push(rx.await.expect("the runtime API dropped an invocation"));
        }
        out
    };
    match tokio::time::timeout(BURST, all).await {
        Ok(outcomes) => outcomes,
        Err(_) => panic!("the proxy did not answer {} invocations within {BURST:?}", events.len()),
    }
}

fn describe(o: &Outcome) -> String {
    format!("status {} body {}", o.status(), String::from_utf8_lossy(&o.body).chars().take(400).collect::<String>())
}

#[tokio::test]
async fn several_invocations_at_once_in_one_process_each_answer_their_own() {
    let app = spawn_app().await;
    let users = ["demo", "alice", "carol"];
    let mut cookies = vec![];
    for user in users {
        cookies.push(session_cookie(&app, user).await);
    }
    // 48 calls at once: each user asks for a different number of customers on every call.
    let mut events = vec![];
    let mut expected = vec![];
    for i in 0..48 {
        let (user, top) = (i % users.len(), 1 + i % 5);
        events.push(customers(&app, &cookies[user], top));
        expected.push((users[user], top));
    }
    // The proxy answers whole (`serve_buffered`) or as a stream (`serve_streaming`): both ways.
    for streaming in ["false", "true"] {
        let p = proxy_process(&app, 4, &[("PROXY_STREAMING", streaming)]).await;
        let outcomes = burst(&p, &events).await;
        for (o, (user, top)) in outcomes.iter().zip(&expected) {
            let what = format!("streaming={streaming}, {user}, $top={top}");
            assert_eq!(o.status(), 200, "{what}: {}", describe(o));
            let body = o.body_json();
            assert_eq!(body["@emulator.user"].as_str(), Some(*user), "{what}: another user's answer: {}", describe(o));
            assert_eq!(body["value"].as_array().map_or(0, Vec::len), *top, "{what}: {}", describe(o));
        }
        // The process really held several invocations at once, and never more than it was allowed.
        let most = p.rt.max_in_flight();
        eprintln!("managed: streaming={streaming}: the proxy held at most {most} invocations at once");
        assert!(most > 1, "streaming={streaming}: one invocation at a time (AWS_LAMBDA_MAX_CONCURRENCY=4 ignored)");
        assert!(most <= 4, "streaming={streaming}: {most} invocations at once with AWS_LAMBDA_MAX_CONCURRENCY=4");
    }
}

async fn refresh_grants(app: &TestApp) -> i64 {
    app.emulator_stats().await["token"]["refresh_token"].as_i64().unwrap()
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_per_process() {
    // A 10 s access token, refreshed 1 s early: the warm-up call comes well before that, and the burst after the
    // expiry ends well within the new token's lifetime (else a token expires again and is rightly refreshed twice).
    let bff_env = vec![("REFRESH_SKEW".to_string(), "1".to_string())];
    let app = spawn_app_with(Options { access_token_ttl: 10, bff_env, ddb_proxy: true, ..Options::default() }).await;
    let cookie = session_cookie(&app, "demo").await;
    let p = proxy_process(&app, 8, &[]).await;
    // Warm-up (discovery, connections), while the token is valid: no refresh.
    let warm = p.call(&customers(&app, &cookie, 1)).await;
    assert_eq!(warm.status(), 200, "{}", describe(&warm));
    assert_eq!(refresh_grants(&app).await, 0, "the warm-up must not refresh");

    app.wait_access_tokens_expired().await;
    app.ddb_reset().await;
    let events: Vec<Value> = (0..8).map(|i| customers(&app, &cookie, 1 + i % 3)).collect();
    let outcomes = burst(&p, &events).await;
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.status(), 200, "call {i}: {}", describe(o));
        assert_eq!(o.body_json()["@emulator.user"].as_str(), Some("demo"), "call {i}: {}", describe(o));
    }
    assert!(p.rt.max_in_flight() > 1, "the proxy took one invocation at a time (AWS_LAMBDA_MAX_CONCURRENCY=8)");
    assert_eq!(refresh_grants(&app).await, 1, "exactly one refresh for one session in one process");
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 2);
    // The process never raced itself for the lease (`session::refresh::flight`): no conditional write refused by
    // DynamoDB. (Without the in-process flight the lease alone still lets one refresh through, so the count above
    // stays 1; what gives it away is the other calls' lease writes, refused.)
    let stats = app.ddb_stats().await;
    eprintln!("managed: the burst's DynamoDB operations: {stats}");
    assert_eq!(stats["refused"], serde_json::json!({}), "DynamoDB refused writes: {stats}");
}
