//! Abuse resistance: an unauthenticated request costs us no more than it costs its sender. A flood of forged
//! back-channel logout tokens costs at most one JWKS fetch and no DynamoDB write; an API that refuses every token
//! costs one refresh, not one per call (the refresh floor). The figures are printed (`--no-capture` shows them).

use reqwest::Method;
use serde_json::{Value, json};
use shared::crypto::{b64url, b64url_decode, random_bytes};
use shared::session::store::attr;
use tests::{Browser, CLIENT_ID, Options, TestApp, spawn_app, spawn_app_with};

const API: &str = "/api/domain/odata/Crm_Sales_Customers?$top=1";
const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

/// A compact JWS with this header and payload and a signature of random bytes (no key signed it).
fn forged(header: &Value, claims: &Value) -> String {
    let sig: [u8; 256] = random_bytes();
    format!("{}.{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()), b64url(&sig))
}

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&b64url_decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

async fn post_logout_token(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/auth/backchannel-logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("logout_token={}", tests::enc(token)))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn jwks_fetches(app: &TestApp) -> i64 {
    app.emulator_stats().await["jwks"].as_i64().expect("the emulator counts JWKS fetches")
}

fn writes(ops: &Value) -> i64 {
    WRITES.iter().map(|op| ops[op].as_i64().unwrap_or(0)).sum()
}

#[tokio::test]
async fn a_flood_of_forged_logout_tokens_costs_at_most_one_jwks_fetch_and_no_write() {
    let app = spawn_app_with(Options { ddb_proxy: true, ..Options::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    // A genuine logout token, not sent: its header and claims are what a forger copies (the kid is public anyway).
    let url = format!("{}/__emulator/logout?sub=demo&send=false", app.emulator.origin());
    let done: Value = app.http.post(url).send().await.unwrap().json().await.unwrap();
    let genuine = done["logoutTokens"][0].as_str().unwrap().to_string();
    let (header, claims) = (part(&genuine, 0), part(&genuine, 1));
    assert!(header["kid"].is_string(), "{header}");
    // The logout function is started (under cargo lambda its first start builds it) by a token that reaches no key.
    assert_eq!(post_logout_token(&app, "x").await.0, 400);

    let issuer = app.emulator.issuer();
    let claims_with = |changes: &[(&str, Value)]| {
        let mut c = claims.clone();
        c["iat"] = json!(tests::now());
        c["jti"] = json!(b64url(&random_bytes::<16>()));
        for (k, v) in changes {
            c[*k] = v.clone();
        }
        c
    };
    let header_with = |changes: &[(&str, Value)]| {
        let mut h = header.clone();
        for (k, v) in changes {
            h[*k] = v.clone();
        }
        h
    };
    let random_kid = || json!(b64url(&random_bytes::<12>()));
    // (what, the refusal's detail, the token)
    let mut flood: Vec<(&str, &str, String)> = vec![];
    for i in 0..200 {
        let any_kid = &header_with(&[("kid", random_kid())]);
        let (what, detail, token) = match i % 10 {
            // Made-up kids, everything else as the identity server would send it.
            0..=3 => ("a random kid", "signing key is unknown", forged(any_kid, &claims_with(&[]))),
            // The right kid, a signature of random bytes.
            4 | 5 => ("a bad signature", "signature is invalid", forged(&header, &claims_with(&[]))),
            6 => (
                "a wrong iss",
                "issuer is wrong",
                forged(any_kid, &claims_with(&[("iss", json!(format!("{issuer}x")))])),
            ),
            7 => (
                "a wrong aud",
                "audience is wrong",
                forged(any_kid, &claims_with(&[("aud", json!("someone.else/app"))])),
            ),
            8 => (
                "a wrong typ",
                "typ is not logout+jwt",
                forged(&header_with(&[("kid", random_kid()), ("typ", json!("at+jwt"))]), &claims_with(&[])),
            ),
            _ => (
                "a wrong alg",
                "algorithm is not allowed",
                forged(&header_with(&[("kid", random_kid()), ("alg", json!("HS256"))]), &claims_with(&[])),
            ),
        };
        flood.push((what, detail, token));
    }
    assert!(
        claims["aud"] == json!(CLIENT_ID) || claims["aud"].as_array().is_some_and(|a| a.contains(&json!(CLIENT_ID)))
    );

    let jwks_before = jwks_fetches(&app).await;
    app.ddb_reset().await;
    let started = std::time::Instant::now();
    // 20 in flight at a time: concurrent requests for unknown kids share one fetch.
    for chunk in flood.chunks(20) {
        let mut set = tokio::task::JoinSet::new();
        for (what, detail, token) in chunk.iter().cloned() {
            let (http, url) = (app.http.clone(), app.url("/auth/backchannel-logout"));
            set.spawn(async move {
                let body = format!("logout_token={}", tests::enc(&token));
                let r = http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (what, detail, r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
            });
        }
        while let Some(done) = set.join_next().await {
            let (what, detail, status, v) = done.unwrap();
            assert_eq!((status, v["code"].as_str()), (400, Some("invalid_logout_token")), "{what}: {v}");
            assert!(v["detail"].as_str().is_some_and(|d| d.contains(detail)), "{what}: {v}");
        }
    }
    let fetched = jwks_fetches(&app).await - jwks_before;
    let ops = app.ddb_stats().await["ops"].clone();
    println!(
        "FIGURE 200 forged logout tokens: {fetched} JWKS fetch(es), {} DynamoDB write(s), {} DynamoDB operation(s), {} ms",
        writes(&ops),
        ops.as_object().map_or(0, |o| o.values().filter_map(Value::as_i64).sum::<i64>()),
        started.elapsed().as_millis()
    );
    assert!(fetched <= 2, "{fetched} JWKS fetches for 200 forged tokens");
    assert_eq!(writes(&ops), 0, "nothing written for a forged token: {ops}");

    // The genuine token still ends the session, with the key already cached: no fetch.
    let (status, v) = post_logout_token(&app, &genuine).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(app.api(&mut b, Method::GET, API, None, &[]).await.status, 401);
    assert_eq!(jwks_fetches(&app).await - jwks_before, fetched, "the genuine token's key was cached");
}

async fn refresh_grants(app: &TestApp) -> i64 {
    app.emulator_stats().await["token"]["refresh_token"].as_i64().unwrap()
}

async fn api_calls(app: &TestApp) -> i64 {
    app.emulator_stats().await["api"].as_i64().unwrap()
}

#[tokio::test]
async fn an_api_that_refuses_every_token_costs_one_refresh_within_the_floor_and_keeps_the_session() {
    // The default refresh floor (30 s).
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.api(&mut b, Method::GET, API, None, &[]).await.status, 200);

    // A token issued a moment ago and refused: answered at once, no refresh, no retry.
    app.emulator_control(json!({"apiStatus": 401, "apiStatusTimes": 1})).await;
    let calls = api_calls(&app).await;
    let r = app.api(&mut b, Method::GET, API, None, &[]).await;
    assert_eq!((r.status, r.problem_code().as_str()), (401, "upstream_unauthorized"));
    assert!(r.set_cookies().is_empty(), "the cookie is kept");
    assert_eq!((refresh_grants(&app).await, api_calls(&app).await - calls), (0, 1));

    // A token older than the floor (issued two minutes ago, as stored; not yet due): the first 401 refreshes once
    // and retries; the retry is refused too.
    let item = app.only_session().await;
    let at_exp: i64 = item[attr::AT_EXP].as_n().unwrap().parse().unwrap();
    app.dynamo
        .update_item()
        .table_name(&app.table)
        .key(attr::PK, item[attr::PK].clone())
        .update_expression("SET at_exp = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::N((at_exp - 120).to_string()))
        .send()
        .await
        .unwrap();
    app.emulator_control(json!({"apiStatus": 401, "apiStatusTimes": 100})).await;
    let calls = api_calls(&app).await;
    let r = app.api(&mut b, Method::GET, API, None, &[]).await;
    assert_eq!((r.status, r.problem_code().as_str()), (401, "upstream_unauthorized"));
    assert!(r.set_cookies().is_empty(), "the cookie is kept");
    assert_eq!((refresh_grants(&app).await, api_calls(&app).await - calls), (1, 2), "one refresh, one retry");

    // Every further 401 within the floor of that new token: answered at once, no refresh, no retry.
    let calls = api_calls(&app).await;
    for i in 0..10 {
        let r = app.api(&mut b, Method::GET, API, None, &[]).await;
        assert_eq!((r.status, r.problem_code().as_str()), (401, "upstream_unauthorized"), "call {i}");
        assert!(r.set_cookies().is_empty(), "call {i}: the cookie is kept");
    }
    let (grants, sent) = (refresh_grants(&app).await, api_calls(&app).await - calls);
    println!("FIGURE 10 more 401s within the refresh floor: {} refresh(es), {sent} API call(s)", grants - 1);
    assert_eq!((grants, sent), (1, 10), "no refresh, no retry within the floor");

    // The API recovers: the same session works, with no token call.
    app.emulator_control(json!({})).await;
    let r = app.api(&mut b, Method::GET, API, None, &[]).await;
    assert_eq!(r.status, 200, "the session is kept: {}", r.text());
    assert_eq!(refresh_grants(&app).await, 1);
    assert_eq!(app.session_items().await.len(), 1);
}
