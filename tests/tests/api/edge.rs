//! What leaves the proxy towards the browser: entity data byte for byte (only OData link annotations are
//! rewritten), no redirect off the API base, never a cacheable answer.

use reqwest::Method;
use tests::{Browser, spawn_app};

#[tokio::test]
async fn entity_data_that_looks_like_an_api_url_is_never_rewritten() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let api_base = format!("http://127.0.0.1:{}/api", app.emulator.port);

    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    let id = page["value"][0]["Id"].as_str().unwrap().to_string();
    // The links are the BFF's own, so the SPA follows them through the proxy.
    assert!(page["@odata.context"].as_str().unwrap().starts_with("/api/domain/odata/$metadata#"), "{page}");
    assert!(page["@odata.nextLink"].as_str().unwrap().starts_with("/api/domain/odata/Crm_Sales_Customers?"), "{page}");

    // A Name holding an API URL (plain and JSON-escaped), written with PATCH and read back: the same bytes.
    let name = format!("{api_base}/domain/odata/Crm_Sales_Customers({id}) and {}\\/x", api_base.replace('/', "\\/"));
    let body = serde_json::json!({ "Name": name }).to_string();
    let entity = format!("/api/domain/odata/Crm_Sales_Customers({id})");
    let r = app
        .api(
            &mut b,
            Method::PATCH,
            &entity,
            Some(body.into_bytes()),
            &[("content-type", "application/json"), ("prefer", "return=representation")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Name"], name, "the PATCH answer carries the data as written");
    let r = app.api(&mut b, Method::GET, &entity, None, &[]).await;
    assert_eq!(r.json()["Name"], name, "read back byte for byte");
    assert!(r.text().contains(&serde_json::to_string(&name).unwrap()), "the raw JSON string is untouched");
    let filtered = format!(
        "/api/domain/odata/Crm_Sales_Customers?$filter=startswith(Name,'{}')",
        tests::enc(&format!("{api_base}/domain"))
    );
    let r = app.api(&mut b, Method::GET, &filtered, None, &[]).await;
    assert_eq!(r.json()["value"][0]["Name"], name, "in a collection too");

    // And a PATCH round trip of what was read changes nothing.
    let read: serde_json::Value = r.json()["value"][0].clone();
    let back = serde_json::json!({ "Name": read["Name"] }).to_string();
    let r =
        app.api(&mut b, Method::PATCH, &entity, Some(back.into_bytes()), &[("content-type", "application/json")]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = app.api(&mut b, Method::GET, &entity, None, &[]).await;
    assert_eq!(r.json()["Name"], name);
}

#[tokio::test]
async fn upstream_redirects_off_the_api_base_never_reach_the_browser() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let api_base = format!("http://127.0.0.1:{}/api", app.emulator.port);
    for off in [
        "http://evil.example/api/domain/odata/Crm_Sales_Customers".to_string(),
        format!("http://127.0.0.1:{}/id/connect/authorize", app.emulator.port),
        format!("{api_base}x/domain"),
        "//evil.example/api/x".to_string(),
    ] {
        app.emulator_control(serde_json::json!({ "apiRedirect": off })).await;
        let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
        assert_eq!(r.status, 502, "{off}: {}", r.text());
        assert_eq!(r.problem_code(), "upstream_redirect", "{off}");
        assert!(r.location().is_none(), "{off}");
        assert!(!r.text().contains("evil"), "the problem does not echo the target");
    }
    // A redirect within the API passes, as a path on the BFF.
    app.emulator_control(
        serde_json::json!({ "apiRedirect": format!("{api_base}/domain/odata/Crm_Sales_Customers?$top=1") }),
    )
    .await;
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), Some("/api/domain/odata/Crm_Sales_Customers?$top=1"));
    app.emulator_control(serde_json::json!({})).await;
    assert_eq!(app.session_items().await.len(), 1, "the session is kept");
}

#[tokio::test]
async fn every_proxied_answer_is_private_and_not_stored() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    app.emulator_control(serde_json::json!({ "apiExtraHeaders": { "Cache-Control": "public, max-age=86400" } })).await;
    for (method, path) in [
        (Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1"),
        (Method::GET, "/api/domain/odata/Crm_Sales_Customers(00000000-0000-0000-0000-000000000000)"),
        (Method::GET, "/api/domain/odata/$metadata"),
    ] {
        let r = app.api(&mut b, method, path, None, &[]).await;
        assert!(r.status < 500, "{path}: {}", r.status);
        let cache: Vec<&str> = r.headers.get_all("cache-control").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(cache, vec!["private, no-store"], "{path}");
    }
    app.emulator_control(serde_json::json!({})).await;
}

#[tokio::test]
async fn a_request_around_the_front_door_is_refused() {
    // In AWS, CloudFront adds the secret header to what it sends to the HTTP API; a request to the `execute-api`
    // endpoint itself has none.
    let secret = "FrontDoor0123456789abcdefghijklmnopqrstuvwxyz";
    let app = tests::spawn_app_with(tests::Options {
        bff_env: vec![("FRONT_DOOR_SECRET".into(), secret.into())],
        ..Default::default()
    })
    .await;
    let mut b = Browser::new();
    for (path, headers) in [
        ("/auth/session", vec![("x-csrf", "1")]),
        ("/auth/login?returnUrl=%2F", vec![]),
        ("/auth/callback?code=x&state=y", vec![]),
        ("/api/domain/odata/Crm_Sales_Customers", vec![("x-csrf", "1")]),
    ] {
        let r = b.raw(&app.origin(), "GET", path, &headers, b"").await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.problem_code(), "origin_not_allowed", "{path}");
        let mut wrong = headers.clone();
        wrong.push(("x-bff-front-door", "FrontDoor0123456789abcdefghijklmnopqrstuvwxyZ"));
        assert_eq!(b.raw(&app.origin(), "GET", path, &wrong, b"").await.status, 403, "{path}");
    }
    let r = b.raw(&app.origin(), "GET", "/auth/session", &[("x-csrf", "1"), ("x-bff-front-door", secret)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["authenticated"], false);
    assert!(!app.all_bff_logs().contains(secret), "the secret is never logged");
}

#[tokio::test]
async fn streamed_answers_pass_whole_and_their_first_bytes_leave_before_the_api_has_finished() {
    let app = tests::spawn_app_with(tests::Options {
        bff_env: vec![("PROXY_STREAMING".into(), "true".into())],
        ..Default::default()
    })
    .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let session = shared::http::cookies::SESSION;
    let cookie = format!("{session}={}", b.cookie("localhost", session).unwrap());
    let http = reqwest::Client::new();
    let get = || {
        http.get(app.url("/api/domain/odata/Crm_Sales_Customers"))
            .header("x-csrf", "1")
            .header("cookie", &cookie)
            .send()
    };

    // Above Lambda's 6 MB buffered limit: the whole answer.
    app.emulator_control(serde_json::json!({ "apiResponseBytes": 7_000_000 })).await;
    let r = get().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert!(body.len() > 6_900_000, "{} bytes", body.len());
    let v: serde_json::Value = serde_json::from_slice(&body).expect("the whole answer, valid JSON");
    assert_eq!(v["value"].as_array().unwrap().len(), 36);

    // A 2 MB answer whose second half the API sends 3 s after the first: the first bytes do not wait for it.
    app.emulator_control(serde_json::json!({ "apiResponseBytes": 2_000_000, "apiPauseMidBodyMs": 3000 })).await;
    let started = std::time::Instant::now();
    let mut r = get().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let (mut first, mut body) = (None, Vec::new());
    while let Some(chunk) = r.chunk().await.unwrap() {
        if first.is_none() && !chunk.is_empty() {
            first = Some(started.elapsed());
        }
        body.extend_from_slice(&chunk);
    }
    let (first, total) = (first.unwrap(), started.elapsed());
    app.emulator_control(serde_json::json!({})).await;
    assert!(first < std::time::Duration::from_millis(2500), "the first byte waited for the whole answer: {first:?}");
    assert!(total >= std::time::Duration::from_millis(3000), "{total:?}");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("the whole answer, valid JSON");
    assert!(v["@odata.context"].as_str().unwrap().starts_with("/api/"), "rewritten while streaming");
    assert_eq!(v["value"].as_array().unwrap().len(), 36);

    // Cut off mid-body: the status has left, so the stream is cut (AWS breaks the connection; `cargo lambda watch`
    // ends the body with the runtime's error trailer as text): never a complete answer to take for the data.
    app.emulator_control(serde_json::json!({"apiCloseMidBody": true, "apiCloseMidBodyTimes": 1})).await;
    let r = b.raw(&app.origin(), "GET", "/api/domain/odata/Crm_Sales_Customers", &[("x-csrf", "1")], b"").await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err(), "{}", r.text());
}

#[tokio::test]
async fn the_path_reaches_the_api_as_the_browser_sent_it() {
    // A function URL (the production front door of /api/*) delivers `rawPath` undecoded, as `cargo lambda watch`
    // does; the proxy forwards it byte for byte (an HTTP API would have decoded it).
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    for path in
        ["Crm_Sales_Customers(%27a%20b%27)", "Crm_Sales_Customers('a%3Ab')", "Crm_Sales_Customers(%27x%3Dy%27)/Name"]
    {
        let target = format!("/api/domain/odata/{path}");
        let r = app.api(&mut b, Method::GET, &target, None, &[]).await;
        assert!(r.status < 500, "{path}: {}", r.status);
        let seen = app.emulator_requests().await.pop().unwrap();
        assert_eq!(seen["rawUrl"], target, "{path}");
    }
}
