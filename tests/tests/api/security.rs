//! Security hardening on the real stack: every defence of the BFF has a test here that fails without it.

use reqwest::Method;
use shared::http::cookies::{LOGIN_PREFIX, SESSION};
use std::time::{Duration, Instant};
use tests::{Browser, Options, TestApp, spawn_app, spawn_app_with};
use url::Url;

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let mut u = url.clone();
    let pairs: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into(), v.into())).collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    u
}

#[tokio::test]
async fn two_logins_in_two_tabs_of_one_browser_both_complete() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    let tab_a = app.start_login(&mut b, Some("/a")).await;
    let tab_b = app.start_login(&mut b, Some("/b")).await;
    assert_ne!(param(&tab_a, "state"), param(&tab_b, "state"));
    let login_cookies = |b: &Browser| b.jar["localhost"].keys().filter(|k| k.starts_with(LOGIN_PREFIX)).count();
    assert_eq!(login_cookies(&b), 2, "one login cookie per attempt: the second tab must not unbind the first");

    // Tab B signs in first, then tab A (the emulator remembers the user by then).
    let cb_b = app.authenticate_at_emulator(&mut b, &tab_b, "demo", "demo").await;
    let cb_a = app.authenticate_at_emulator(&mut b, &tab_a, "demo", "demo").await;
    let r = b.get(cb_b.as_str()).await;
    assert_eq!((r.status, r.location()), (302, Some("/b")), "{}", r.text());
    let r = b.get(cb_a.as_str()).await;
    assert_eq!((r.status, r.location()), (302, Some("/a")), "{}", r.text());
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
    assert_eq!(login_cookies(&b), 0, "each callback clears its attempt's cookie");
    // A new session per sign-in, and the previous one of this browser is gone (no fixation, no leftovers).
    assert_eq!(app.session_items().await.len(), 1);
    // Pending logins are consumed.
    assert!(
        app.scan().await.iter().all(|i| !i[shared::session::store::attr::PK].as_s().unwrap().starts_with("login#"))
    );
}

#[tokio::test]
async fn id_tokens_the_identity_server_issued_wrongly_are_refused() {
    let app = spawn_app().await;
    for fault in ["wrong-audience", "wrong-nonce", "foreign-key", "expired", "wrong-issuer"] {
        app.emulator_control(serde_json::json!({ "idToken": fault })).await;
        let mut b = Browser::new();
        let authorize = app.start_login(&mut b, None).await;
        let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
        let r = b.get(callback.as_str()).await;
        assert_eq!(r.status, 400, "{fault}: {}", r.text());
        assert_eq!(r.problem_code(), "login_failed", "{fault}");
        assert_eq!(r.json()["error"], "invalid_id_token", "{fault}");
        assert!(r.set_cookies().iter().all(|c| !c.starts_with(&format!("{SESSION}="))), "{fault}: no session");
    }
    assert!(app.session_items().await.is_empty());
    app.emulator_control(serde_json::json!({})).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.session_items().await.len(), 1);
}

#[tokio::test]
async fn an_id_token_whose_azp_names_another_client_is_refused() {
    let app = spawn_app().await;
    app.emulator_control(serde_json::json!({ "idToken": "wrong-azp" })).await;
    let mut b = Browser::new();
    let authorize = app.start_login(&mut b, None).await;
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    let r = b.get(callback.as_str()).await;

    // The token had one audience, us: only its azp was wrong (the case a check limited to several audiences misses).
    let secrets = app.emulator_secrets().await;
    let id_token = secrets["idTokens"].as_array().unwrap().last().unwrap().as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&shared::crypto::b64url_decode(payload).unwrap()).unwrap();
    assert_eq!(claims["aud"], tests::CLIENT_ID, "{claims}");
    assert_eq!(claims["azp"], "some.other.app/second", "{claims}");

    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.problem_code(), "login_failed");
    assert_eq!(r.json()["error"], "invalid_id_token");
    assert!(r.json()["detail"].as_str().unwrap().contains("azp"), "{}", r.text());
    assert!(r.set_cookies().iter().all(|c| !c.starts_with(&format!("{SESSION}="))), "no session cookie");
    assert!(app.session_items().await.is_empty(), "no session");

    // An azp that names us is accepted.
    app.emulator_control(serde_json::json!({})).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.session_items().await.len(), 1);
}

#[tokio::test]
async fn the_callback_must_come_from_our_issuer_rfc9207() {
    let app = spawn_app().await;
    for (iss, expected) in [(Some("https://evil.example/id"), "issuer_mismatch"), (None, "issuer_missing")] {
        let mut b = Browser::new();
        let authorize = app.start_login(&mut b, None).await;
        let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
        assert_eq!(param(&callback, "iss"), Some(app.emulator.issuer()), "discovery advertises iss");
        let r = b.get(with_param(&callback, "iss", iss).as_str()).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"], expected);
        assert_eq!(app.emulator_stats().await["token"]["authorization_code"], 0, "no code exchanged for a mix-up");
    }
}

#[tokio::test]
async fn in_query_mode_an_id_token_parameter_does_not_stand_in_for_iss() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    let authorize = app.start_login(&mut b, None).await;
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    assert_eq!(param(&callback, "iss"), Some(app.emulator.issuer()), "discovery advertises iss");
    // The real code and state, `iss` taken out and an ID token nobody validates in query mode put in.
    let forged = with_param(&with_param(&callback, "iss", None), "id_token", Some("junk.not-a.jwt"));
    assert!(param(&forged, "code").is_some() && param(&forged, "state").is_some());
    let r = b.get(forged.as_str()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.problem_code(), "login_failed");
    assert_eq!(r.json()["error"], "issuer_missing");
    assert!(r.set_cookies().iter().all(|c| !c.starts_with(&format!("{SESSION}="))), "no session cookie");
    assert!(app.session_items().await.is_empty(), "no session");
    assert_eq!(app.emulator_stats().await["token"]["authorization_code"], 0, "no code exchanged");
}

#[tokio::test]
async fn a_signing_key_withdrawn_from_the_jwks_is_trusted_no_longer_than_jwks_max_age() {
    const MAX_AGE: Duration = Duration::from_secs(8);
    let app = spawn_app_with(Options {
        bff_env: vec![("JWKS_MAX_AGE".into(), MAX_AGE.as_secs().to_string())],
        ..Options::default()
    })
    .await;
    // The first sign-in fetches the JWKS (one key), between these two instants.
    let before_fetch = Instant::now();
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let after_fetch = Instant::now();

    // ERP.net rotates its key and withdraws the old one; someone who still holds the old key signs ID tokens with it.
    app.emulator_control(serde_json::json!({"rotateKeys": true, "withdrawKeys": true, "idToken": "withdrawn-key"}))
        .await;
    assert_eq!(app.emulator_json("/__emulator/config").await["jwksKids"].as_array().unwrap().len(), 1);

    // Within the max age the cached JWKS still vouches for the old key: accepted.
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert!(before_fetch.elapsed() < MAX_AGE, "too slow: the sign-in did not happen within the JWKS max age");

    // Once the max age has passed, the next validation refetches the JWKS: the withdrawn key is refused.
    tests::wait_until("the JWKS max age to pass", MAX_AGE * 3, || async { after_fetch.elapsed() > MAX_AGE }).await;
    let mut b = Browser::new();
    let authorize = app.start_login(&mut b, None).await;
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_id_token");
    assert!(r.json()["detail"].as_str().unwrap().contains("signing key is unknown"), "{}", r.text());
    assert!(r.set_cookies().iter().all(|c| !c.starts_with(&format!("{SESSION}="))), "no session cookie");

    // Tokens signed with the key ERP.net publishes are accepted.
    app.emulator_control(serde_json::json!({})).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
}

/// The auto-posting form the identity server answers with in form_post mode: (action, fields).
fn form_post_fields(html: &str) -> (String, Vec<(String, String)>) {
    let action = tests::form_action(html, "").expect("a form");
    let mut fields = vec![];
    for input in html.split("<input").skip(1) {
        let tag = input.split('>').next().unwrap();
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(tag[start..end].replace("&amp;", "&").replace("&#x3D;", "=").replace("&quot;", "\""))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.push((n, v));
        }
    }
    (action, fields)
}

async fn hybrid_response(app: &TestApp, b: &mut Browser) -> (String, Vec<(String, String)>) {
    let authorize = app.start_login(b, Some("/hybrid")).await;
    assert_eq!(param(&authorize, "response_type").as_deref(), Some("code id_token"));
    assert_eq!(param(&authorize, "response_mode").as_deref(), Some("form_post"));
    // Follow the emulator until it answers with the auto-posting form.
    let mut r = b.get(authorize.as_str()).await;
    for _ in 0..10 {
        if let Some(loc) = r.location() {
            let next = r.url.join(loc).unwrap();
            r = b.get(next.as_str()).await;
            continue;
        }
        let html = r.text();
        if html.contains("name=\"login\"") {
            let action = r.url.join(&tests::form_action(&html, "login-form").unwrap()).unwrap();
            r = b.post_form(action.as_str(), &[("login", "demo"), ("password", "demo")]).await;
            continue;
        }
        return form_post_fields(&html);
    }
    panic!("no form_post response");
}

#[tokio::test]
async fn form_post_hybrid_mode_checks_c_hash_and_s_hash() {
    let app =
        spawn_app_with(Options { bff_env: vec![("RESPONSE_MODE".into(), "form_post".into())], ..Options::default() })
            .await;
    let mut b = Browser::new();
    let r = b.get(&app.url("/auth/login")).await;
    let login_cookie = r.set_cookies().into_iter().find(|c| c.starts_with(LOGIN_PREFIX)).unwrap();
    assert!(login_cookie.contains("SameSite=None") && login_cookie.contains("Secure"), "{login_cookie}");

    let mut b = Browser::new();
    let (action, fields) = hybrid_response(&app, &mut b).await;
    assert_eq!(action, app.url("/auth/callback"));
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    for n in ["code", "state", "id_token"] {
        assert!(names.contains(&n), "{names:?}");
    }
    // A second login in another browser gives another code and ID token to swap in.
    let mut other = Browser::new();
    let (_, other_fields) = hybrid_response(&app, &mut other).await;
    let get = |f: &[(String, String)], n: &str| f.iter().find(|(k, _)| k == n).unwrap().1.clone();

    // This response with the code of the other one: the ID token's c_hash does not match that code.
    let forged: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| if k == "code" { (k.clone(), get(&other_fields, "code")) } else { (k.clone(), v.clone()) })
        .collect();
    let body: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post_form(&app.url("/auth/callback"), &body).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_id_token");
    assert!(r.json()["detail"].as_str().unwrap().contains("c_hash"), "{}", r.text());
    assert_eq!(app.emulator_stats().await["token"]["authorization_code"], 0, "refused before any code exchange");

    // A GET to the callback is not how form_post answers.
    let r = b.get(&app.url("/auth/callback?code=x&state=y")).await;
    assert_eq!(r.problem_code(), "method_not_allowed");
    // JSON where a form is expected.
    let r = b
        .request(
            Method::POST,
            &app.url("/auth/callback"),
            &[("content-type", "application/json")],
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(r.problem_code(), "invalid_request");

    // A genuine response completes.
    let (_, fields) = hybrid_response(&app, &mut b).await;
    let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post_form(&app.url("/auth/callback"), &body).await;
    assert_eq!((r.status, r.location()), (302, Some("/hybrid")), "{}", r.text());
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
}

#[tokio::test]
async fn logout_needs_the_sessions_sid() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    for target in ["/auth/logout", "/auth/logout?sid=", "/auth/logout?sid=wrong", "/auth/logout?returnUrl=/x"] {
        let r = b.get(&app.url(target)).await;
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(r.problem_code(), "invalid_request");
    }
    // Another user's sid does not log this one out.
    let mut alice = Browser::new();
    app.sign_in(&mut alice, "alice", "alice").await;
    let alice_logout = app.session_json(&mut alice).await["logoutUrl"].as_str().unwrap().to_string();
    let r = b.get(&app.url(&alice_logout)).await;
    assert_eq!(r.status, 400);
    assert_eq!(app.session_json(&mut b).await["authenticated"], true);
    assert_eq!(app.session_json(&mut alice).await["authenticated"], true);
    assert_eq!(app.emulator_stats().await["endSession"], 0);
}

#[tokio::test]
async fn proxy_header_hygiene_both_ways() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let session_cookie = b.cookie("localhost", SESSION).unwrap();
    b.set_cookie("localhost", "tracking", "abc");
    b.set_cookie("localhost", "ErpContextParameters", "ctx%3D1");
    b.set_cookie("localhost", ".AspNetCore.Culture", "c%3Dbg%7Cuic%3Dbg");
    let r = b
        .raw(
            &app.origin(),
            "GET",
            "/api/domain/odata/Crm_Sales_Customers?$top=1",
            &[
                ("X-CSRF", "1"),
                ("Authorization", "Bearer stolen-token"),
                ("X-Forwarded-For", "203.0.113.9"),
                ("X-Forwarded-Host", "evil.example"),
                ("Forwarded", "for=203.0.113.9"),
                ("Accept-Language", "bg-BG"),
                ("Prefer", "CurrentEnterpriseCompanyId=1"),
                ("TransactionId", "tx-42"),
                ("OData-MaxVersion", "4.0"),
                ("If-None-Match", "W/\"7\""),
                ("X-Custom", "nope"),
                ("Proxy-Authorization", "Basic x"),
            ],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let req = app.emulator_requests().await.pop().unwrap();
    let h = &req["headers"];
    let mut erp: Vec<&str> = h["cookie"].as_str().unwrap().split("; ").collect();
    erp.sort();
    assert_eq!(
        erp,
        vec![".AspNetCore.Culture=c%3Dbg%7Cuic%3Dbg", "ErpContextParameters=ctx%3D1"],
        "only the ERP cookies"
    );
    assert!(!h.to_string().contains(&session_cookie), "the session cookie must never reach the API");
    let auth = h["authorization"].as_str().unwrap();
    assert!(auth.starts_with("Bearer ") && !auth.contains("stolen"), "{auth}");
    for gone in ["x-forwarded-for", "x-forwarded-host", "forwarded", "x-csrf", "x-custom", "proxy-authorization"] {
        assert!(h.get(gone).is_none(), "{gone} reached the API: {h}");
    }
    assert_eq!(h["host"], format!("127.0.0.1:{}", app.emulator.port));
    for (k, v) in [
        ("accept-language", "bg-BG"),
        ("prefer", "CurrentEnterpriseCompanyId=1"),
        ("transactionid", "tx-42"),
        ("odata-maxversion", "4.0"),
        ("if-none-match", "W/\"7\""),
    ] {
        assert_eq!(h[k], v, "{k}");
    }

    // Responses: status and body as they came (an ERP business error too), allowlisted headers only.
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await;
    let id = r.json()["value"][0]["Id"].as_str().unwrap().to_string();
    let r = app
        .api(
            &mut b,
            Method::PATCH,
            &format!("/api/domain/odata/Crm_Sales_Customers({id})"),
            Some(br#"{"Name":"FAIL please"}"#.to_vec()),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["code"], "BusinessRuleViolation", "ERP errors pass through unchanged");
    assert_eq!(r.header("odata-version"), Some("4.0"));

    // Upstream redirects are never followed (SSRF), and one off the API base is not passed back either.
    app.emulator_control(serde_json::json!({"apiRedirect": "http://127.0.0.1:1/elsewhere"})).await;
    let before = app.emulator_requests().await.len();
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.problem_code(), "upstream_redirect");
    assert_eq!(app.emulator_requests().await.len(), before + 1);
    app.emulator_control(serde_json::json!({})).await;
}

#[tokio::test]
async fn proxy_size_limits_and_binary_bodies() {
    // Buffered, explicitly: the 6 MB limit below is the buffered one (the stack streams by default, as deployed).
    let bff_env = vec![("PROXY_STREAMING".to_string(), "false".to_string())];
    let app = spawn_app_with(Options { bff_env, ..Options::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;

    // A request body above the limit (1 MiB by default) never reaches the API.
    let before = app.emulator_requests().await.len();
    let big = vec![b'x'; 1024 * 1024 + 1];
    let r = app
        .api(
            &mut b,
            Method::POST,
            "/api/domain/odata/Crm_Sales_Customers",
            Some(big),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.problem_code(), "payload_too_large");
    assert_eq!(app.emulator_requests().await.len(), before);

    // An upstream answer too large for Lambda's 6 MB buffered response (PROXY_STREAMING off; streamed answers:
    // edge::streamed_answers_pass_whole_and_their_first_bytes_leave_before_the_api_has_finished).
    app.emulator_control(serde_json::json!({"apiResponseBytes": 7_000_000})).await;
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.problem_code(), "upstream_response_too_large");
    assert!(r.json()["detail"].as_str().unwrap().contains("$top"));
    app.emulator_control(serde_json::json!({})).await;
    assert_eq!(app.session_items().await.len(), 1, "the session survives");

    // Binary bodies (base64 in the Lambda event) survive both ways.
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/General_Products_Products?$top=1", None, &[]).await;
    let id = r.json()["value"][0]["Id"].as_str().unwrap().to_string();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let path = format!("/api/domain/odata/General_Products_Products({id})/Picture");
    let r =
        app.api(&mut b, Method::PUT, &path, Some(bytes.clone()), &[("content-type", "application/octet-stream")]).await;
    assert!(r.status / 100 == 2, "{} {}", r.status, r.text());
    let sent = app.emulator_requests().await.pop().unwrap();
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(sent["body"].as_str().unwrap()).unwrap(), bytes);
    let r = app.api(&mut b, Method::GET, &path, None, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes, "the binary body came back byte for byte");
}

#[tokio::test]
async fn no_token_code_verifier_secret_or_cookie_in_clear_at_rest_or_in_logs() {
    let app = spawn_app_with(Options {
        access_token_ttl: 3600,
        bff_env: vec![("REFRESH_FLOOR_SECONDS".into(), "0".into())],
        ..Options::default()
    })
    .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let login_cookie = b.jar["localhost"].iter().find(|(k, _)| k.starts_with(LOGIN_PREFIX)).map(|(_, v)| v.clone());
    let session_cookie = b.cookie("localhost", SESSION).unwrap();
    assert_eq!(
        app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=2", None, &[]).await.status,
        200
    );
    assert_eq!(app.api(&mut b, Method::POST, "/auth/refresh", None, &[]).await.status, 200);
    assert_eq!(
        app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=2", None, &[]).await.status,
        200
    );
    let logout_url = app.session_json(&mut b).await["logoutUrl"].as_str().unwrap().to_string();
    let sid = logout_url.split("sid=").nth(1).unwrap().to_string();

    // Everything secret the identity server issued or received during the flow.
    let seen = app.emulator_secrets().await;
    let mut secrets: Vec<(String, String)> = vec![];
    for (kind, min) in [
        ("codes", 1),
        ("codeVerifiers", 1),
        ("accessTokens", 2),
        ("refreshTokens", 2),
        ("idTokens", 1),
        ("clientSecrets", 1),
    ] {
        let list = seen[kind].as_array().unwrap_or_else(|| panic!("no {kind} in {seen}"));
        assert!(list.len() >= min, "{kind}: {list:?}");
        secrets.extend(list.iter().map(|v| (kind.to_string(), v.as_str().unwrap().to_string())));
    }
    secrets.push(("session cookie".into(), session_cookie));
    if let Some(c) = login_cookie {
        secrets.push(("login cookie".into(), c));
    }
    secrets.push(("logout sid".into(), sid));

    // The table, every attribute of every item, strings and bytes alike.
    let mut at_rest: Vec<u8> = vec![];
    for item in app.scan().await {
        for v in item.values() {
            match v {
                aws_sdk_dynamodb::types::AttributeValue::S(s) => at_rest.extend_from_slice(s.as_bytes()),
                aws_sdk_dynamodb::types::AttributeValue::B(b) => at_rest.extend_from_slice(b.as_ref()),
                other => at_rest.extend_from_slice(format!("{other:?}").as_bytes()),
            }
            at_rest.push(b'\n');
        }
    }
    for (kind, secret) in &secrets {
        assert!(secret.len() >= 16, "{kind} too short to search for");
        assert!(!at_rest.windows(secret.len()).any(|w| w == secret.as_bytes()), "a {kind} is stored in clear");
    }

    // Log out too, then search every log line of the whole flow.
    let r = b.get(&app.url(&logout_url)).await;
    assert_eq!(r.status, 302);
    let logs = app.bff_logs();
    assert!(logs.contains("\"message\":\"request\""), "the logs were captured");
    for (kind, secret) in &secrets {
        assert!(!logs.contains(secret.as_str()), "a {kind} appears in the logs");
    }
    assert!(!logs.contains(tests::CLIENT_SECRET));
}

#[tokio::test]
async fn rotated_signing_keys_are_picked_up_from_the_jwks() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await; // the callback has now cached the JWKS
    app.emulator_control(serde_json::json!({"rotateKeys": true})).await;
    let mut c = Browser::new();
    let r = app.sign_in(&mut c, "alice", "alice").await;
    assert_eq!(r.status, 302);
    assert_eq!(app.session_json(&mut c).await["user"]["sub"], "alice");
}

// ---- The four defects of issue 13, each checked from outside as a browser would meet it ----------------------------

/// Chromium does not send the `SameSite=Strict` session cookie (nor the hint cookie) on a cross-site navigation, so
/// a link on another site that points at `/auth/logout` arrives with no cookie at all. It must change nothing: no
/// session ends and no `Set-Cookie` clears the cookie the browser still holds. (The Chromium version of this, with a
/// real link from 127.0.0.1 to localhost, is `e2e:a link on another site to /auth/logout signs nobody out`.)
#[tokio::test]
async fn a_cross_site_navigation_to_logout_changes_nothing_and_clears_no_cookie() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let navigation = [("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document"), ("accept", "text/html")];

    for (what, site, with_cookie) in [
        ("a cross-site link (no cookie: Strict)", Some("cross-site"), false),
        ("a cross-site link from a browser that sends the cookie", Some("cross-site"), true),
        ("a link in a browser without fetch metadata (no cookie)", None, false),
    ] {
        let mut headers: Vec<(&str, &str)> = navigation.to_vec();
        if let Some(site) = site {
            headers.push(("sec-fetch-site", site));
        }
        let mut nav = if with_cookie { b.clone() } else { Browser::new() };
        let r = nav.request(Method::GET, &app.url("/auth/logout?returnUrl=%2Fx"), &headers, None).await;
        assert!(r.status == 302 || r.status == 400, "{what}: {} {}", r.status, r.text());
        assert_eq!(r.set_cookies(), Vec::<String>::new(), "{what}: a Set-Cookie the browser would apply");
        assert_ne!(r.location().map(|l| l.starts_with(&app.emulator.origin())), Some(true), "{what}: end-session");
        assert_eq!(app.session_json(&mut b).await["authenticated"], true, "{what}: the session ended");
    }
    assert_eq!(app.emulator_stats().await["endSession"], 0);
    assert_eq!(app.session_items().await.len(), 1);

    // The same-origin sign-out (the SPA's logoutUrl) still works.
    let logout = app.session_json(&mut b).await["logoutUrl"].as_str().unwrap().to_string();
    let r = b.request(Method::GET, &app.url(&logout), &[("sec-fetch-site", "same-origin")], None).await;
    assert_eq!(r.status, 302);
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{SESSION}=;"))), "{:?}", r.set_cookies());
    assert_eq!(app.session_json(&mut b).await["authenticated"], false);
}

/// Signing in again in the same browser: `/auth/login` is a same-site navigation and carries the session cookie,
/// the callback is a cross-site one and does not. The previous session must still end, and its refresh token be
/// revoked at the identity server, instead of living on until the idle timeout.
#[tokio::test]
async fn signing_in_again_ends_the_previous_session_and_revokes_its_refresh_token() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let first_cookie = b.cookie("localhost", SESSION).unwrap();
    let first_refresh_token = app.issued_refresh_tokens().await.first().cloned().expect("a refresh token");
    let revocations = app.revocations().await;

    // /auth/login: same site, the Strict cookie goes along (the harness's browser sends it).
    let authorize = app.start_login(&mut b, Some("/again")).await;
    // The identity server's redirect to the callback is cross-site: Chromium leaves the Strict cookie at home.
    let held = b.jar.get_mut("localhost").unwrap().remove(SESSION).unwrap();
    assert_eq!(held, first_cookie);
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    let r = b.get(callback.as_str()).await;
    assert_eq!((r.status, r.location()), (302, Some("/again")), "{}", r.text());
    assert_ne!(b.cookie("localhost", SESSION).unwrap(), first_cookie, "a new session");

    assert_eq!(app.session_items().await.len(), 1, "the previous session was left behind");
    assert_eq!(app.revocations().await, revocations + 1, "the previous session's refresh token was not revoked");
    assert!(!app.refresh_token_accepted(&first_refresh_token).await, "the previous refresh token still works");
    let mut old = Browser::new();
    old.set_cookie("localhost", SESSION, &first_cookie);
    assert_eq!(app.session_json(&mut old).await["authenticated"], false, "the previous cookie still opens a session");
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
}

/// form_post mode sets `SameSite=None` login cookies, which a cross-site `<img>` receives. A login cookie (and a
/// pending-login write) only for navigations (`Sec-Fetch-Dest: document`, or no fetch metadata at all), and never
/// more than three at a time in one browser, however many sign-ins it starts.
#[tokio::test]
async fn login_cookies_only_for_navigations_and_at_most_three_per_browser() {
    let app =
        spawn_app_with(Options { bff_env: vec![("RESPONSE_MODE".into(), "form_post".into())], ..Options::default() })
            .await;
    let mut b = Browser::new();
    let login_cookies = |b: &Browser| {
        b.jar.get("localhost").map(|j| j.keys().filter(|k| k.starts_with(LOGIN_PREFIX)).count()).unwrap_or(0)
    };
    let pending_logins = || async {
        app.scan()
            .await
            .iter()
            .filter(|i| i[shared::session::store::attr::PK].as_s().unwrap().starts_with("login#"))
            .count()
    };

    // Sub-resources and fetches: refused before anything is written.
    for dest in ["image", "empty", "iframe", "script", "style"] {
        let headers = [("sec-fetch-dest", dest), ("sec-fetch-mode", "no-cors"), ("sec-fetch-site", "cross-site")];
        let r = b.request(Method::GET, &app.url("/auth/login"), &headers, None).await;
        assert_eq!(r.status, 400, "{dest}: {}", r.text());
        assert_eq!(r.problem_code(), "invalid_request", "{dest}");
        assert_eq!(r.set_cookies(), Vec::<String>::new(), "{dest}");
    }
    assert_eq!(login_cookies(&b), 0);
    assert_eq!(pending_logins().await, 0, "a pending login was written for a non-navigation");

    // Navigations: each is a sign-in, but the browser keeps at most three login cookies.
    for i in 0..10 {
        let headers = [("sec-fetch-dest", "document"), ("sec-fetch-mode", "navigate"), ("sec-fetch-site", "none")];
        let r = b.request(Method::GET, &app.url("/auth/login"), &headers, None).await;
        assert_eq!(r.status, 302, "{i}: {}", r.text());
        assert!(login_cookies(&b) <= 3, "{i}: {} login cookies", login_cookies(&b));
    }
    assert_eq!(login_cookies(&b), 3);

    // The latest sign-in (from a browser without fetch metadata) completes.
    let (_, fields) = hybrid_response(&app, &mut b).await;
    let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post_form(&app.url("/auth/callback"), &body).await;
    assert_eq!((r.status, r.location()), (302, Some("/hybrid")), "{}", r.text());
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
    assert!(login_cookies(&b) <= 3);
}

/// The callback's `error` comes from whoever sent the browser there. It becomes a metric dimension and a URL
/// parameter only as one of the codes OAuth 2.0 and OpenID Connect define; anything else is `other`.
#[tokio::test]
async fn the_callback_error_becomes_a_standard_code_or_other() {
    let app = spawn_app().await;
    let html = [("accept", "text/html")];
    for (sent, expected) in [
        ("access_denied", "access_denied"),
        ("login_required", "login_required"),
        ("temporarily_unavailable", "temporarily_unavailable"),
        ("made_up_by_someone_7f3a", "other"),
        ("ACCESS_DENIED", "other"),
        ("access_denied2", "other"),
    ] {
        let mut b = Browser::new();
        let authorize = app.start_login(&mut b, Some("/p")).await;
        let state = param(&authorize, "state").unwrap();
        let url = format!("{}?state={}&error={}", app.url("/auth/callback"), tests::enc(&state), tests::enc(sent));
        let r = b.request(Method::GET, &url, &html, None).await;
        assert_eq!(r.status, 302, "{sent}: {}", r.text());
        assert_eq!(r.location(), Some(format!("/p?login_error={expected}").as_str()), "{sent}");
    }
    let logs = app.bff_logs();
    assert!(logs.contains("\"Reason\":\"other\""), "no SignInFailures line with Reason other");
    for made_up in ["made_up_by_someone_7f3a", "ACCESS_DENIED", "access_denied2"] {
        assert!(!logs.contains(made_up), "{made_up} reached the logs (and a metric dimension)");
    }
}

/// In form_post (hybrid) mode the authorization response carries an ID token; the mix-up defence of that mode rests
/// on validating it before the code is exchanged. Each fault applies to the front-channel ID token only (the
/// emulator leaves the token endpoint's alone), so a refusal here is that validation's, before any code exchange.
#[tokio::test]
async fn form_post_front_channel_id_tokens_are_validated_before_the_code_is_exchanged() {
    let app =
        spawn_app_with(Options { bff_env: vec![("RESPONSE_MODE".into(), "form_post".into())], ..Options::default() })
            .await;
    let post = |b: &mut Browser, fields: Vec<(String, String)>| {
        let url = app.url("/auth/callback");
        let mut b = b.clone();
        async move {
            let body: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b.post_form(&url, &body).await
        }
    };
    for fault in ["wrong-audience", "wrong-nonce", "foreign-key", "expired", "wrong-issuer", "bad-signature"] {
        let emulator_fault =
            if fault == "bad-signature" { serde_json::json!({}) } else { serde_json::json!({ "idToken": fault }) };
        app.emulator_control(emulator_fault).await;
        let mut b = Browser::new();
        let (_, mut fields) = hybrid_response(&app, &mut b).await;
        if fault == "bad-signature" {
            let id_token = &mut fields.iter_mut().find(|(k, _)| k == "id_token").unwrap().1;
            let at = id_token.rfind('.').unwrap() + 5;
            let flipped = if id_token.as_bytes()[at] == b'A' { "B" } else { "A" };
            id_token.replace_range(at..at + 1, flipped);
        }
        let r = post(&mut b, fields).await;
        assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("invalid_id_token")), "{fault}: {}", r.text());
        assert_eq!(app.emulator_stats().await["token"]["authorization_code"], 0, "{fault}: no code was exchanged");
    }
    assert!(app.session_items().await.is_empty(), "no session");
    // Without a fault the same flow signs in: the refusals above were the ID token's.
    app.emulator_control(serde_json::json!({})).await;
    let mut b = Browser::new();
    let (_, fields) = hybrid_response(&app, &mut b).await;
    assert_eq!(post(&mut b, fields).await.status, 302);
    assert_eq!(app.emulator_stats().await["token"]["authorization_code"], 1);
}
