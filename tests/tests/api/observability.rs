//! Logs and metrics: JSON lines with the Lambda request id and a correlation id; CloudWatch EMF metric lines.

use reqwest::Method;
use shared::http::cookies::{LOGIN_PREFIX, SESSION};
use tests::{Browser, Options, spawn_app, spawn_app_with};

#[tokio::test]
async fn log_lines_carry_ids_and_metrics_are_emf() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let r = app
        .api(
            &mut b,
            Method::GET,
            "/api/domain/odata/Crm_Sales_Customers?$top=1",
            None,
            &[("x-correlation-id", "trace-abc-123")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-correlation-id"), Some("trace-abc-123"), "echoed to the caller");
    // A hostile correlation id is replaced, not echoed.
    let r = app.api(&mut b, Method::GET, "/auth/session", None, &[("x-correlation-id", "<script>")]).await;
    assert_ne!(r.header("x-correlation-id"), Some("<script>"));

    let logs = app.bff_logs();
    let lines: Vec<serde_json::Value> =
        logs.lines().filter(|l| l.starts_with('{')).filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ours: Vec<&serde_json::Value> =
        lines.iter().filter(|v| v["span"]["correlation_id"] == "trace-abc-123").collect();
    assert!(!ours.is_empty(), "the proxied call's lines carry the correlation id");
    assert!(ours.iter().all(|v| v["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty())));
    let request_lines: Vec<_> = lines.iter().filter(|v| v["message"] == "request").collect();
    assert!(request_lines.iter().all(|v| v["span"]["correlation_id"].as_str().is_some()), "every request line has one");

    let emf = |name: &str| lines.iter().filter(|v| v.get("_aws").is_some() && v.get(name).is_some()).count();
    assert_eq!(emf("SignIns"), 1);
    assert!(emf("ProxyLatency") >= 1);
    let proxy = lines.iter().find(|v| v.get("ProxyLatency").is_some()).unwrap();
    assert_eq!(proxy["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ErpNetBff");
    assert_eq!(proxy["StatusClass"], "2xx");
    assert_eq!(proxy["FunctionName"], "proxy");
}

#[tokio::test]
async fn rust_log_trace_logs_no_secret_of_a_whole_session() {
    let app = spawn_app_with(Options {
        // No refresh floor: the forced refresh below must really spend and rotate the refresh token.
        bff_env: vec![("RUST_LOG".into(), "trace".into()), ("REFRESH_FLOOR_SECONDS".into(), "0".into())],
        ..Options::default()
    })
    .await;
    let mut b = Browser::new();
    let authorize = app.start_login(&mut b, Some("/")).await;
    let login_cookie =
        b.jar["localhost"].iter().find(|(k, _)| k.starts_with(LOGIN_PREFIX)).map(|(_, v)| v.clone()).unwrap();
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let session_cookie = b.cookie("localhost", SESSION).unwrap();
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=2", None, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await.status, 200);
    let logout_url = app.session_json(&mut b).await["logoutUrl"].as_str().unwrap().to_string();
    let sid = logout_url.split("sid=").nth(1).unwrap().to_string();
    assert_eq!(b.get(&app.url(&logout_url)).await.status, 302);

    let seen = app.emulator_secrets().await;
    let mut secrets: Vec<(String, String)> = vec![
        ("session cookie".into(), session_cookie),
        ("login cookie".into(), login_cookie),
        ("logout sid".into(), sid),
    ];
    for kind in ["codes", "codeVerifiers", "accessTokens", "refreshTokens", "idTokens", "clientSecrets"] {
        let list = seen[kind].as_array().unwrap_or_else(|| panic!("no {kind} in {seen}"));
        assert!(!list.is_empty(), "{kind}");
        secrets.extend(list.iter().map(|v| (kind.to_string(), v.as_str().unwrap().to_string())));
    }

    let logs = app.bff_logs();
    // RUST_LOG=trace took effect: the libraries' debug lines are there (their trace lines must not be).
    assert!(logs.lines().any(|l| l.contains("\"level\":\"DEBUG\"")), "RUST_LOG=trace was not applied");
    for (kind, secret) in &secrets {
        assert!(secret.len() >= 16, "{kind} too short to search for");
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            let shown: String = line.replace(secret.as_str(), "<SECRET>").chars().take(400).collect();
            panic!("a {kind} in a log line: {shown}");
        }
    }
}

#[tokio::test]
async fn no_personal_data_in_logs_at_any_level() {
    let app = spawn_app_with(Options {
        // No refresh floor: the forced refresh below really reaches the identity server (its answer carries claims).
        bff_env: vec![("RUST_LOG".into(), "trace".into()), ("REFRESH_FLOOR_SECONDS".into(), "0".into())],
        ..Options::default()
    })
    .await;
    // A user of this test's own, with a login (also its name) and an e-mail address found nowhere else.
    let login = format!("pii-probe-{}", shared::crypto::b64url(&shared::crypto::random_bytes::<6>()).to_lowercase());
    let r = app.http.post(format!("{}/__emulator/users?login={login}", app.emulator.origin())).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let email = format!("{login}@example.com");

    let (mut b, mut demo) = (Browser::new(), Browser::new());
    app.sign_in(&mut b, &login, &login).await;
    app.sign_in(&mut demo, "demo", "demo").await;
    let session = app.session_json(&mut b).await;
    assert_eq!(session["user"]["sub"], login.as_str(), "the user is signed in: {session}");
    for browser in [&mut b, &mut demo] {
        assert_eq!(
            app.api(browser, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await.status,
            200
        );
        assert_eq!(app.api(browser, Method::POST, "/auth/refresh", None, &[]).await.status, 200);
        assert_eq!(app.api(browser, Method::GET, "/auth/sessions", None, &[]).await.status, 200);
    }
    // A back-channel logout names the user by `sub`.
    let url = format!("{}/__emulator/logout?sub={login}&send=true", app.emulator.origin());
    let done: serde_json::Value = app.http.post(url).send().await.unwrap().json().await.unwrap();
    assert!(done["backchannel"].as_array().unwrap().iter().all(|d| d["ok"] == true), "{done}");
    let logout_url = app.session_json(&mut demo).await["logoutUrl"].as_str().unwrap().to_string();
    assert_eq!(demo.get(&app.url(&logout_url)).await.status, 302);

    let logs = app.bff_logs();
    assert!(logs.lines().any(|l| l.contains("\"level\":\"DEBUG\"")), "RUST_LOG=trace was not applied");
    assert!(logs.contains("back-channel logout"), "the logout reached the functions");
    for (what, value) in [
        ("login name", login.as_str()),
        ("e-mail address", email.as_str()),
        ("user id", id.as_str()),
        ("demo's e-mail address", "demo@example.com"),
        ("demo's name", "Demo User"),
        ("demo's user id", "6f1e8d2c-5b1a-4c39-9a57-2f0d4c8e1a01"),
    ] {
        if let Some(line) = logs.lines().find(|l| l.to_ascii_lowercase().contains(&value.to_ascii_lowercase())) {
            panic!("the {what} in a log line: {}", line.chars().take(400).collect::<String>());
        }
    }
}
