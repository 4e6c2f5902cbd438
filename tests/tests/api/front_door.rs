//! The local front door (`infra/front-door.js`, started by `xtask/src/stack/front_door.rs`) does to a request what
//! AWS does before a function sees it (docs/front-door.md, "Local parity"): `/api/*` as the proxy's function URL
//! behind CloudFront with origin access control, `/auth/*` as the HTTP API behind the same CloudFront. Each test
//! also shows what `cargo lambda watch` alone does differently, where it does.

use crate::hostile::{Case, Expect, Problem, Status, case};
use reqwest::Method;
use tests::{Browser, Options, TestApp, content_sha256, spawn_app_with};

const SECRET: &str = "FrontDoorTest0123456789abcdefghijklmnopqrstuvwxyz";
const SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. \
    Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

async fn app(streaming: bool) -> TestApp {
    // Explicitly either way (the local stack streams by default, as template.yaml deploys it).
    let bff_env = vec![
        ("FRONT_DOOR_SECRET".to_string(), SECRET.to_string()),
        ("PROXY_STREAMING".to_string(), streaming.to_string()),
    ];
    spawn_app_with(Options { front_door: true, bff_env, ..Default::default() }).await
}

#[tokio::test]
async fn api_paths_pass_byte_for_byte_bodies_need_their_hash_and_answers_stream() {
    let app = app(true).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let origin = app.origin();
    assert_ne!(origin, app.functions_origin(), "the app's origin is the front door");

    // The function URL delivers the raw path: `%27`, `%3A`, `%3D` reach the API as the browser wrote them.
    for path in ["Crm_Sales_Customers(%27a%20b%27)", "Crm_Sales_Customers('a%3Ab')", "Crm_Sales_Customers(%27x%3Dy%27)"]
    {
        let target = format!("/api/domain/odata/{path}");
        let r = b.raw(&origin, "GET", &target, &[("x-csrf", "1")], b"").await;
        assert!(r.status < 500, "{path}: {}", r.status);
        assert_eq!(app.emulator_requests().await.pop().unwrap()["rawUrl"], target, "{path}");
    }

    // A body needs x-amz-content-sha256 = its SHA-256 (OAC signs it; Lambda takes no unsigned payload).
    let page = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await.json();
    let entity = format!("/api/domain/odata/Crm_Sales_Customers({})", page["value"][0]["Id"].as_str().unwrap());
    let body = br#"{"Name":"Front door"}"#;
    let good = content_sha256(body);
    let seen = app.emulator_requests().await.len();
    for (what, hash) in
        [("no hash", None), ("a wrong hash", Some(content_sha256(b"other"))), ("upper case", Some(good.to_uppercase()))]
    {
        let mut h = vec![("x-csrf", "1"), ("content-type", "application/json")];
        if let Some(hash) = &hash {
            h.push(("x-amz-content-sha256", hash));
        }
        let r = b.raw(&origin, "PATCH", &entity, &h, body).await;
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_eq!(r.header("x-amzn-errortype"), Some("InvalidSignatureException"), "{what}");
        assert_eq!(r.json()["message"], SIGNATURE, "{what}");
    }
    // A GET may carry the empty body's hash, not another.
    let r = b.raw(&origin, "GET", &entity, &[("x-csrf", "1"), ("x-amz-content-sha256", &good)], b"").await;
    assert_eq!(r.status, 403);
    assert_eq!(app.emulator_requests().await.len(), seen, "nothing refused reached the API");
    let h = [("x-csrf", "1"), ("content-type", "application/json"), ("x-amz-content-sha256", good.as_str())];
    let r = b.raw(&origin, "PATCH", &entity, &h, body).await;
    assert_eq!(r.status, 204, "with its hash the body passes: {}", r.text());

    // Over Lambda's 6 MB invoke payload: refused at the door, whatever the hash.
    let big = vec![b' '; 6 * 1024 * 1024 + 1];
    let h = [("x-csrf", "1"), ("content-type", "application/json"), ("x-amz-content-sha256", &content_sha256(&big))];
    let r = b.raw(&origin, "POST", "/api/domain/odata/Crm_Sales_Customers", &h, &big).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (413, Some("Request Entity Too Large")));

    // RESPONSE_STREAM: an answer over 6 MB passes whole, and its first bytes do not wait for the API's last ones.
    app.emulator_control(serde_json::json!({ "apiResponseBytes": 7_000_000 })).await;
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 36, "the whole 7 MB answer");
    app.emulator_control(serde_json::json!({ "apiResponseBytes": 2_000_000, "apiPauseMidBodyMs": 3000 })).await;
    let cookie = format!(
        "{}={}",
        shared::http::cookies::SESSION,
        b.cookie("localhost", shared::http::cookies::SESSION).unwrap()
    );
    let started = std::time::Instant::now();
    let mut r = reqwest::Client::new()
        .get(app.url("/api/domain/odata/Crm_Sales_Customers"))
        .header("x-csrf", "1")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let first = r.chunk().await.unwrap().map(|_| started.elapsed());
    while r.chunk().await.unwrap().is_some() {}
    app.emulator_control(serde_json::json!({})).await;
    let (first, total) = (first.unwrap(), started.elapsed());
    assert!(first < std::time::Duration::from_millis(2500), "the first byte waited for the whole answer: {first:?}");
    assert!(total >= std::time::Duration::from_millis(3000), "{total:?}");

    // Cut off upstream mid-body: the status has left, the viewer never gets a complete answer.
    app.emulator_control(serde_json::json!({"apiCloseMidBody": true, "apiCloseMidBodyTimes": 1})).await;
    let r = reqwest::Client::new()
        .get(app.url("/api/domain/odata/Crm_Sales_Customers"))
        .header("x-csrf", "1")
        .header(
            "cookie",
            format!(
                "{}={}",
                shared::http::cookies::SESSION,
                b.cookie("localhost", shared::http::cookies::SESSION).unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await;
    app.emulator_control(serde_json::json!({})).await;
    assert!(!matches!(&body, Ok(b) if serde_json::from_slice::<serde_json::Value>(b).is_ok()), "{body:?}");
}

#[tokio::test]
async fn auth_paths_are_decoded_and_repeated_headers_joined_as_the_http_api_does() {
    let app = app(false).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let (door, around) = (app.origin(), app.functions_origin());
    let session = format!(
        "{}={}",
        shared::http::cookies::SESSION,
        b.cookie("localhost", shared::http::cookies::SESSION).unwrap()
    );
    let secret = ("x-bff-front-door", SECRET);

    // rawPath arrives URL-decoded and cut at a decoded `?`: `/auth/%73ession` is `/auth/session` to the function.
    for path in ["/auth/%73ession", "/auth/session%3Fx=1", "/auth/sessio%6E?x=%2F"] {
        let r = b.raw(&door, "GET", path, &[("x-csrf", "1")], b"").await;
        assert_eq!((r.status, r.json()["user"]["sub"].as_str()), (200, Some("demo")), "{path}: {}", r.text());
        let r = b.raw(&around, "GET", path, &[("x-csrf", "1"), secret], b"").await;
        assert_eq!(r.status, 404, "the functions alone (no front door) keep {path} encoded");
    }

    // Repeated header lines: one value, joined with commas (`X-CSRF: 1,1` is not `1`); cargo lambda keeps the first.
    let csrf = [("x-csrf", "1"), ("x-csrf", "1")];
    let r = b.raw(&door, "GET", "/auth/session", &csrf, b"").await;
    assert_eq!((r.status, r.problem_code().as_str()), (403, "csrf_required"));
    let r = b.raw(&around, "GET", "/auth/session", &[csrf[0], csrf[1], secret], b"").await;
    assert_eq!(r.status, 200);
    // Cookie lines: every cookie reaches the function (payload 2.0's `cookies`); cargo lambda keeps the first line.
    let cookies = [("x-csrf", "1"), ("cookie", "theme=dark"), ("cookie", session.as_str())];
    let r = b.raw(&door, "GET", "/auth/session", &cookies, b"").await;
    assert_eq!(r.json()["user"]["sub"], "demo", "the session cookie of the second line counts");
    let r = b.raw(&around, "GET", "/auth/session", &[cookies[0], cookies[1], cookies[2], secret], b"").await;
    assert_eq!(r.json()["authenticated"], false);

    // CloudFront replaces a viewer's own `x-bff-front-door` with the secret.
    let r = b.raw(&door, "GET", "/auth/session", &[("x-csrf", "1"), ("x-bff-front-door", "guess")], b"").await;
    assert_eq!(r.status, 200);
    assert!(!std::fs::read_to_string(&app.front_door.as_ref().unwrap().proc.log).unwrap().contains(SECRET));
}

#[tokio::test]
async fn requests_over_the_edge_limits_are_refused_as_aws_refuses_them() {
    let app = app(false).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let door = app.origin();
    let api = "/api/domain/odata/Crm_Sales_Customers?$top=1";
    let kb = |n: usize| "x".repeat(n * 1024);
    let cloudfront = |r: &tests::Resp| r.status == 413 && r.header("x-cache") == Some("Error from cloudfront");
    let http_api = |r: &tests::Resp| r.status == 413 && r.json()["message"] == "Request Entity Too Large";

    // CloudFront: a URL over 8,192 bytes, a request line and headers over 20,480 bytes (any route).
    let long = format!("/api/domain/odata/Crm_Sales_Customers?$filter={}", kb(8));
    assert!(cloudfront(&b.raw(&door, "GET", &long, &[("x-csrf", "1")], b"").await));
    let r = b.raw(&door, "GET", &long[..7000], &[("x-csrf", "1")], b"").await;
    assert!(r.status < 500 && r.status != 413, "7,000 bytes pass: {}", r.status);
    let (x10, x21) = (kb(10), kb(21));
    assert!(cloudfront(&b.raw(&door, "GET", api, &[("x-csrf", "1"), ("x-junk", &x21)], b"").await));
    // The function URL takes what CloudFront takes: 10 KB of headers pass on /api/*...
    assert_eq!(b.raw(&door, "GET", api, &[("x-csrf", "1"), ("x-junk", &x10)], b"").await.status, 200);
    // ...but not on /auth/*: the HTTP API's request line and header values are at most 10,240 bytes.
    assert!(http_api(&b.raw(&door, "GET", "/auth/session", &[("x-csrf", "1"), ("x-junk", &x10)], b"").await));
    let r = b.raw(&door, "GET", "/auth/session", &[("x-csrf", "1"), ("x-junk", &kb(9))], b"").await;
    assert_eq!(r.status, 200);
    // And its payload is at most 10 MB.
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    assert!(http_api(&b.raw(&door, "POST", "/auth/refresh", &[("x-csrf", "1")], &big).await));
    assert_eq!(app.session_items().await.len(), 1, "the session is untouched");
}

/// Where the hostile-input suite (`hostile::`) gets another answer through the front door, and why.
pub(crate) fn hostile_expectation(name: &str) -> Option<Expect> {
    match name {
        // The HTTP API joins repeated header lines: the function sees `X-CSRF: 1,1`.
        "session X-CSRF twice" => Some(Problem(403, "csrf_required")),
        // The HTTP API: request line and header values at most 10,240 bytes.
        "session X-CSRF 10 KB" | "session cookie 10 KB" => Some(Status(&[413])),
        // CloudFront: a URL at most 8,192 bytes.
        "login 10 KB returnUrl" | "callback state 10 KB" | "logout sid 10 KB" => Some(Status(&[413])),
        _ => None,
    }
}

/// The hostile cases only the front door makes sense of: paths the HTTP API decodes, bodies without their hash.
pub(crate) fn hostile_cases(cases: &mut Vec<Case>) {
    for name in ["session X-CSRF twice", "session X-CSRF 10 KB", "session cookie 10 KB", "login 10 KB returnUrl"] {
        assert!(cases.iter().any(|c| c.name == name), "no hostile case {name}");
    }
    let csrf = [("X-CSRF", "1")];
    let api = "/api/domain/odata/Crm_Sales_Customers";
    cases.extend([
        case("auth encoded traversal", "GET", &format!("/auth/%2e%2e{api}"), &csrf, Status(&[404])),
        case("auth encoded ? cuts the path", "GET", "/auth/session%3F/../sessions", &csrf, Status(&[200])),
        case("auth encoded NUL", "GET", "/auth/session%00", &csrf, Status(&[404])),
        case("auth double-encoded", "GET", "/auth/%2573ession", &csrf, Status(&[404])),
    ]);
    for (name, hash) in [("api body with an empty hash", String::new()), ("api body with a wrong hash", "0".repeat(64))]
    {
        let json = [("X-CSRF", "1"), ("Content-Type", "application/json"), ("x-amz-content-sha256", hash.as_str())];
        let mut c = case(name, "POST", api, &json, Status(&[403]));
        c.body = b"{\"Name\":\"x\"}".to_vec();
        cases.push(c);
    }
}
