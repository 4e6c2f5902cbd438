//! Tokens that stay alive: refresh single-flight across execution environments, transparent refresh in the proxy,
//! `invalid_grant`, an identity server that is down or slow, and session lifetimes.

use reqwest::Method;
use shared::http::cookies::SESSION;
use std::collections::HashSet;
use tests::{Browser, Options, TestApp, spawn_app_with};

fn opts(access_ttl: u64, extra: &[(&str, &str)]) -> Options {
    Options {
        access_token_ttl: access_ttl,
        bff_env: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Options::default()
    }
}

const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers?$top=3";

/// `calls` proxied GETs per browser, at most 100 in flight: (status, user answered for, expected user).
async fn storm(
    browsers: &[(Browser, &'static str)],
    origins: &[String],
    calls: usize,
) -> Vec<(u16, String, &'static str)> {
    tests::storm(browsers, origins, calls, CUSTOMERS, 100)
        .await
        .into_iter()
        .map(|c| (c.status, c.who, c.expected))
        .collect()
}

async fn refresh_grants(app: &TestApp) -> i64 {
    app.emulator_stats().await["token"]["refresh_token"].as_i64().unwrap()
}

#[tokio::test]
async fn concurrent_calls_on_an_expired_token_refresh_once_across_execution_environments() {
    // Four independent Lambda runtimes (four processes of each function) sharing the table and the identity
    // server. (`cargo lambda watch --concurrency N` was tried first: under a 500-request burst its re-spawned
    // instances stopped receiving invocations, so separate runtimes stand in for separate execution environments.)
    // The access token lives 20 s and is refreshed 1 s early: each storm must end within one token lifetime, else a
    // token expires again mid-storm and is (rightly) refreshed twice (seen with 10 s on a loaded 2-core machine).
    let mut app = spawn_app_with(opts(20, &[("REFRESH_SKEW", "1")])).await;
    for _ in 0..3 {
        app.spawn_runtime().await;
    }
    let origins = app.runtime_origins();

    let mut demo = Browser::new();
    app.sign_in(&mut demo, "demo", "demo").await;
    // Warm the execution environments up while the token is valid (no refresh may happen here).
    let warm = storm(&[(demo.clone(), "demo")], &origins, 16).await;
    assert!(warm.iter().all(|(s, _, _)| *s == 200), "{warm:?}");
    assert_eq!(refresh_grants(&app).await, 0);

    app.wait_access_tokens_expired().await;
    let results = storm(&[(demo.clone(), "demo")], &origins, 100).await;
    let failures: Vec<_> = results.iter().filter(|(s, _, _)| *s != 200).collect();
    assert!(failures.is_empty(), "{} of 100 failed: {:?}", failures.len(), &failures[..failures.len().min(3)]);
    assert_eq!(refresh_grants(&app).await, 1, "exactly one refresh for one session");
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 2);

    // Independent processes really served the calls.
    let pids: HashSet<String> = app
        .all_bff_logs()
        .lines()
        .filter(|l| l.contains("\"path\":\"/api/domain/odata/Crm_Sales_Customers\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["pid"].as_u64().map(|p| p.to_string()))
        .collect();
    assert!(pids.len() >= 4, "only {} processes served the calls", pids.len());

    // The session keeps working.
    let r = app.api(&mut demo, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200);

    // Ten sessions × 50 calls: ten refreshes, no failure, and every answer for its own user.
    let mut browsers = vec![];
    for i in 0..10 {
        let mut b = Browser::new();
        let user = if i % 2 == 0 { "demo" } else { "alice" };
        app.sign_in(&mut b, user, user).await;
        browsers.push((b, user));
    }
    let before = refresh_grants(&app).await;
    app.wait_access_tokens_expired().await;
    let results = storm(&browsers, &origins, 50).await;
    assert_eq!(results.len(), 500);
    let failures: Vec<_> = results.iter().filter(|(s, _, _)| *s != 200).collect();
    assert!(failures.is_empty(), "{} of 500 failed: {:?}", failures.len(), &failures[..failures.len().min(3)]);
    let mixed: Vec<_> = results.iter().filter(|(_, who, user)| who != user).collect();
    assert!(mixed.is_empty(), "responses carried another user's data: {mixed:?}");
    // The first session expired again too; it may or may not have been called. Ten new sessions: ten refreshes.
    assert_eq!(refresh_grants(&app).await - before, 10);
}

#[tokio::test]
async fn an_abandoned_lease_is_taken_over_when_it_expires() {
    let app = spawn_app_with(opts(4, &[("REFRESH_SKEW", "1")])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let key = app.only_session().await[shared::session::store::attr::PK].clone();
    // A refresher that took the lease and died.
    let until = tests::now() * 1000 + 6_000;
    app.dynamo
        .update_item()
        .table_name(&app.table)
        .key(shared::session::store::attr::PK, key)
        .update_expression("SET lease = :u, lease_owner = :o")
        .expression_attribute_values(":u", aws_sdk_dynamodb::types::AttributeValue::N(until.to_string()))
        .expression_attribute_values(":o", aws_sdk_dynamodb::types::AttributeValue::S("dead-runtime".into()))
        .send()
        .await
        .unwrap();
    app.wait_access_tokens_expired().await;
    assert!(tests::now() * 1000 < until, "the lease must still be live when the call starts");
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(tests::now() * 1000 >= until, "the call must have waited for the lease to expire");
    assert_eq!(refresh_grants(&app).await, 1);
    let item = app.only_session().await;
    assert_eq!(item[shared::session::store::attr::VER].as_n().unwrap(), "2");
    assert!(!item.contains_key(shared::session::store::attr::LEASE_OWNER), "the lease is released with the commit");
}

#[tokio::test]
async fn refresh_endpoint_rotates_and_invalid_grant_ends_the_session() {
    let app = spawn_app_with(opts(3600, &[("REFRESH_FLOOR_SECONDS", "0")])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;

    // Needs X-CSRF.
    let r = b.request(Method::POST, &app.url("/auth/refresh"), &[], None).await;
    assert_eq!(r.problem_code(), "csrf_required");
    // GET is not the way.
    let r = app.api(&mut b, Method::GET, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.problem_code(), "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));

    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(body["accessTokenExpiresAt"].as_str().unwrap().ends_with('Z'));
    assert!(body["sessionExpiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(refresh_grants(&app).await, 1);
    // Rotation: a second refresh works with the rotated token.
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 3);

    // The grant is revoked at the identity server: the next refresh gets invalid_grant.
    let r = app.http.post(format!("{}/__emulator/revoke?sub=demo", app.emulator.origin())).send().await.unwrap();
    assert!(r.status().is_success());
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.problem_code(), "session_expired");
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{SESSION}=;"))), "cookie cleared");
    assert!(app.session_items().await.is_empty(), "the session item is gone");

    // Anonymous refresh.
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.problem_code(), "not_authenticated");
}

#[tokio::test]
async fn identity_server_failures_keep_the_session() {
    let app = spawn_app_with(opts(3600, &[("IDP_TIMEOUT_MS", "1000"), ("REFRESH_FLOOR_SECONDS", "0")])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;

    // 5xx.
    app.emulator_control(serde_json::json!({"tokenStatus": 503})).await;
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.problem_code(), "idp_unavailable");
    assert_eq!(app.session_items().await.len(), 1);
    assert!(r.set_cookies().is_empty(), "the cookie stays");

    // Slower than the timeout.
    app.emulator_control(serde_json::json!({"tokenDelayMs": 2500})).await;
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 504);
    assert_eq!(r.problem_code(), "idp_timeout");
    assert_eq!(app.session_items().await.len(), 1);
    assert!(
        !app.only_session().await.contains_key(shared::session::store::attr::LEASE_OWNER),
        "a failed refresh releases its lease"
    );

    // Recovered: the next call refreshes, with the same (unspent) refresh token.
    app.emulator_control(serde_json::json!({})).await;
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_refresh_answer_that_is_not_a_bearer_token_is_refused_and_the_session_kept() {
    // A forced refresh of a young token must reach the identity server here: no floor.
    let app = spawn_app_with(opts(3600, &[("REFRESH_FLOOR_SECONDS", "0")])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let sealed = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        item[shared::session::store::attr::TOK].clone()
    };
    let before = sealed(&app.only_session().await);

    app.emulator_control(serde_json::json!({"tokenType": "mac"})).await;
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.problem_code(), "idp_unavailable");
    assert!(r.set_cookies().is_empty(), "the cookie stays");
    assert_eq!(refresh_grants(&app).await, 1, "the identity server was asked");
    let item = app.only_session().await;
    assert_eq!(sealed(&item), before, "the refused answer's tokens are not stored");
    assert_eq!(item[shared::session::store::attr::VER].as_n().unwrap(), "1");
    assert!(!item.contains_key(shared::session::store::attr::LEASE_OWNER), "the lease is released");
    // The session goes on with its (still valid) access token.
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Case-insensitive: `bearer` is a Bearer token response.
    app.emulator_control(serde_json::json!({"tokenType": "bearer"})).await;
    let mut c = Browser::new();
    app.sign_in(&mut c, "alice", "alice").await;
    let r = app.api(&mut c, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn idle_and_absolute_expiry() {
    // Idle: 3 s without a request ends the session.
    let app = spawn_app_with(opts(3600, &[("SESSION_IDLE_TIMEOUT", "3"), ("SESSION_TOUCH_INTERVAL", "1")])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let seen = app.session_number(shared::session::store::attr::SEEN).await;
    tests::wait_until("idle timeout", std::time::Duration::from_secs(30), || async move { tests::now() >= seen + 3 })
        .await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.problem_code(), "session_expired");
    assert!(app.session_items().await.is_empty(), "expiry is enforced on read, not left to TTL");
    drop(app);

    // Absolute: activity does not extend it.
    let app = spawn_app_with(opts(
        3600,
        &[("SESSION_ABSOLUTE_LIFETIME", "4"), ("SESSION_IDLE_TIMEOUT", "3600"), ("SESSION_TOUCH_INTERVAL", "1")],
    ))
    .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let abs: i64 = app.session_number(shared::session::store::attr::ABS_EXP).await;
    assert!(
        app.session_number(shared::session::store::attr::TTL).await <= abs,
        "the TTL never outlives the absolute expiry"
    );
    let mut last = 200;
    while tests::now() < abs + 1 {
        last = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status;
        if last != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await; // pacing the user's activity, not a sync
    }
    assert_eq!(last, 401, "the session must end at its absolute expiry despite activity");
    assert!(tests::now() >= abs);
}

#[tokio::test]
async fn last_seen_is_not_written_on_every_request() {
    let app = spawn_app_with(opts(3600, &[])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let before = app.only_session().await;
    for _ in 0..5 {
        assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    }
    let after = app.only_session().await;
    assert_eq!(before[shared::session::store::attr::SEEN], after[shared::session::store::attr::SEEN]);
    assert_eq!(before[shared::session::store::attr::TTL], after[shared::session::store::attr::TTL]);
}

#[tokio::test]
async fn upstream_401_refreshes_once_and_retries_the_same_request() {
    // No refresh floor here: every 401 of this test is on a token older than it (see proxy's floor test).
    let app = spawn_app_with(opts(3600, &[("REFRESH_FLOOR_SECONDS", "0")])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let id =
        app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.json()["value"][0]["Id"].as_str().unwrap().to_string();
    let path = format!("/api/domain/odata/Crm_Sales_Customers({id})");
    let body = br#"{"Name":"Renamed after a 401"}"#.to_vec();

    // One 401 (a token refused before its time): one refresh, one retry with the identical request.
    app.emulator_control(serde_json::json!({"apiStatus": 401, "apiStatusTimes": 1})).await;
    let before = app.emulator_requests().await.len();
    let r = app
        .api(
            &mut b,
            Method::PATCH,
            &path,
            Some(body.clone()),
            &[("content-type", "application/json"), ("prefer", "return=representation")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Name"], "Renamed after a 401");
    assert_eq!(refresh_grants(&app).await, 1);
    let seen = app.emulator_requests().await;
    let sent: Vec<_> = seen[before..].iter().collect();
    assert_eq!(sent.len(), 2, "the original and one retry");
    assert_eq!(sent[0]["method"], "PATCH");
    assert_eq!(sent[0]["body"], sent[1]["body"], "the retry carries the identical body");
    assert_eq!(sent[0]["rawUrl"], sent[1]["rawUrl"]);
    assert_eq!(sent[0]["headers"]["prefer"], sent[1]["headers"]["prefer"]);
    assert_ne!(sent[0]["headers"]["authorization"], sent[1]["headers"]["authorization"], "retried with the new token");

    // A second 401 in a row (the API refuses even the refreshed token): exactly one more refresh, then
    // `401 upstream_unauthorized`; the session and its cookie are kept (only the identity server ends a session).
    app.emulator_control(serde_json::json!({"apiStatus": 401, "apiStatusTimes": 2})).await;
    let r = app.api(&mut b, Method::PATCH, &path, Some(body), &[("content-type", "application/json")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.problem_code(), "upstream_unauthorized");
    assert!(r.set_cookies().is_empty(), "the cookie is kept");
    assert_eq!(refresh_grants(&app).await, 2);
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 3);
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "the session still works: {}", r.text());

    // A 401 on a token this very request just refreshed: no second refresh, `upstream_unauthorized` at once.
    app.emulator_control(serde_json::json!({})).await;
    let item = app.only_session().await;
    app.dynamo
        .update_item()
        .table_name(&app.table)
        .key(shared::session::store::attr::PK, item[shared::session::store::attr::PK].clone())
        .update_expression("SET at_exp = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::N((tests::now() - 1).to_string()))
        .send()
        .await
        .unwrap();
    app.emulator_control(serde_json::json!({"apiStatus": 401, "apiStatusTimes": 1})).await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.problem_code(), "upstream_unauthorized");
    assert!(r.set_cookies().is_empty(), "the cookie is kept");
    assert_eq!(refresh_grants(&app).await, 3, "one refresh (the expiry), none for the 401");
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
}

#[tokio::test]
async fn a_rotated_token_that_cannot_be_stored_is_revoked_and_the_session_ends_cleanly() {
    // Every refresh commit fails without being applied (500 from DynamoDB, past the SDK's retries): the commit is
    // tried again while the lease lasts (2 s here), then the new refresh token is revoked and the session ends.
    let app = spawn_app_with(Options {
        ddb_proxy: true,
        ..opts(3600, &[("REFRESH_FLOOR_SECONDS", "0"), ("IDP_TIMEOUT_MS", "1000")])
    })
    .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let revocations = app.emulator_stats().await["revocation"].as_i64().unwrap();
    app.ddb_control(serde_json::json!({"failUpdate": "refreshed_by"})).await;
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.problem_code(), "session_expired");
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{SESSION}=;"))), "cookie cleared");
    assert_eq!(refresh_grants(&app).await, 1);
    assert_eq!(app.emulator_stats().await["revocation"].as_i64().unwrap(), revocations + 1, "the new token revoked");
    assert!(app.ddb_stats().await["faults"]["error"].as_u64().unwrap() >= 2, "the commit was tried again");
    app.ddb_control(serde_json::json!({})).await;
    assert!(app.session_items().await.is_empty(), "the session item is gone");
    assert!(app.bff_logs().contains("refresh commit failed for good"), "the reason is logged");
}

#[tokio::test]
async fn forced_refresh_has_a_floor() {
    // Default floor (30 s): a token issued a moment ago is not refreshed; the answer has the same shape.
    let app = spawn_app_with(opts(3600, &[])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let at_exp = app.session_number(shared::session::store::attr::AT_EXP).await;
    for _ in 0..3 {
        let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert!(body["accessTokenExpiresAt"].as_str().unwrap().ends_with('Z'));
        assert!(body["sessionExpiresAt"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(refresh_grants(&app).await, 0, "no token call under the floor");
    assert_eq!(app.session_number(shared::session::store::attr::AT_EXP).await, at_exp);
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 1);
}

#[tokio::test]
async fn writes_whose_answers_are_lost_are_not_misreported() {
    // Every conditional write is applied but its answer lost, on every SDK attempt (the retries then fail their own
    // conditions): a consistent read decides. Sign-in (pending login, its consume, the session) and a refresh
    // (lease and commit) all succeed, without a phantom wait for the lease. The lease is 30 s, so a phantom wait
    // (≥ 30 s) stands far apart from a loaded machine's slow answer (5.6 s seen with the default 10 s lease).
    let env = [("REFRESH_FLOOR_SECONDS", "0"), ("REFRESH_LEASE_MS", "30000")];
    let app = spawn_app_with(Options { ddb_proxy: true, ..opts(3600, &env) }).await;
    app.ddb_control(serde_json::json!({"dropAnswerRate": 1.0})).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.session_items().await.len(), 1);
    let t = std::time::Instant::now();
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.set_cookies().is_empty(), "the cookie is kept");
    assert!(t.elapsed() < std::time::Duration::from_secs(15), "no wait for our own lease: {:?}", t.elapsed());
    assert_eq!(refresh_grants(&app).await, 1);
    let item = app.only_session().await;
    assert_eq!(item[shared::session::store::attr::VER].as_n().unwrap(), "2");
    assert!(!item.contains_key(shared::session::store::attr::LEASE_OWNER));
    let dropped = app.ddb_stats().await["faults"]["dropped"].as_u64().unwrap();
    assert!(dropped >= 5, "answers were dropped: {dropped}");

    // Only the commit's answer lost, on some attempts: the ALL_OLD item of a failed retry tells our own write.
    app.ddb_control(serde_json::json!({"dropAnswerRate": 0.5, "dropAnswerUpdate": "refreshed_by"})).await;
    for v in 3..=6 {
        let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.set_cookies().is_empty(), "the cookie is kept");
        assert_eq!(app.session_number(shared::session::store::attr::VER).await, v);
    }
    app.ddb_control(serde_json::json!({})).await;
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    assert_eq!(app.emulator_stats().await["tokenErrors"]["invalid_grant"], 0);
}

#[tokio::test]
async fn identity_server_stopped_during_refresh_then_restarted() {
    let mut app = spawn_app_with(Options {
        emulator_state_file: true,
        ..opts(4, &[("REFRESH_SKEW", "1"), ("IDP_TIMEOUT_MS", "1500")])
    })
    .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    app.wait_access_tokens_expired().await;

    app.emulator.stop();
    let r = app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await;
    assert!(r.status == 502 || r.status == 504, "{} {}", r.status, r.text());
    assert!(["idp_unavailable", "idp_timeout"].contains(&r.problem_code().as_str()));
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert!(r.status == 502 || r.status == 504, "{}", r.text());
    assert_eq!(app.session_items().await.len(), 1, "the session survives");
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 1, "and keeps its unspent token set");

    app.emulator.restart().await;
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.session_number(shared::session::store::attr::VER).await, 2, "the next call refreshed");
}

#[tokio::test]
async fn an_access_token_about_to_expire_is_refreshed_before_the_call_without_a_401() {
    // The proactive refresh alone, not the 401 retry: the session's stored expiry is moved inside the refresh skew
    // (60 s) while the token itself stays valid at the API, so a BFF without the proactive refresh would send the old
    // token, get a 200, and never refresh.
    let app = spawn_app_with(opts(3600, &[])).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    let old = app.emulator_requests().await.last().unwrap()["headers"]["authorization"].clone();
    let item = app.only_session().await;
    let soon = tests::now() + 20;
    app.dynamo
        .update_item()
        .table_name(&app.table)
        .key(shared::session::store::attr::PK, item[shared::session::store::attr::PK].clone())
        .update_expression("SET at_exp = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::N(soon.to_string()))
        .send()
        .await
        .unwrap();
    let before = app.emulator_requests().await.len();
    let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(refresh_grants(&app).await, 1, "refreshed before the call");
    let sent: Vec<_> = app.emulator_requests().await.into_iter().skip(before).collect();
    assert_eq!(sent.len(), 1, "one API call, no 401 and retry: {sent:?}");
    assert_ne!(sent[0]["headers"]["authorization"], old, "the call carried the new token");
    assert!(app.session_number(shared::session::store::attr::AT_EXP).await > soon, "the new expiry is stored");
}
