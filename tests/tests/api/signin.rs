//! The sign-in flow end to end on the real local stack: login → the emulator's login page → callback → session →
//! proxied OData calls → logout; and the first unhappy paths.

use reqwest::Method;
use shared::http::cookies::{LOGIN_PREFIX, SESSION};
use tests::{Browser, CLIENT_ID, spawn_app};
use url::Url;

const DEMO_ID: &str = "6f1e8d2c-5b1a-4c39-9a57-2f0d4c8e1a01";

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn cookie_attrs(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

#[tokio::test]
async fn sign_in_proxy_and_sign_out() {
    let app = spawn_app().await;
    let mut b = Browser::new();

    // Anonymous.
    assert_eq!(app.session_json(&mut b).await, serde_json::json!({"authenticated": false}));

    // Login: a 302 to the emulator's authorize endpoint with every parameter as it should be.
    let r = b.get(&app.url("/auth/login?returnUrl=%2Fcustomers%3Ftab%3D1")).await;
    assert_eq!(r.status, 302);
    let login_cookie = r.set_cookies().into_iter().find(|c| c.starts_with(LOGIN_PREFIX)).expect("login cookie");
    let attrs = cookie_attrs(&login_cookie);
    for flag in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&flag.to_string()), "login cookie lacks {flag}: {login_cookie}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain")));
    let authorize = Url::parse(r.location().unwrap()).unwrap();
    assert_eq!(
        format!("{}{}", authorize.origin().ascii_serialization(), authorize.path()),
        format!("{}/id/connect/authorize", app.emulator.origin())
    );
    assert_eq!(param(&authorize, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(&authorize, "redirect_uri"), Some(app.url("/auth/callback")));
    assert_eq!(param(&authorize, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&authorize, "scope").as_deref(), Some("openid profile offline_access read update"));
    assert_eq!(param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&authorize, "code_challenge").map(|c| c.len()), Some(43));
    assert!(param(&authorize, "state").unwrap().len() >= 43, "state must carry at least 128 bits");
    assert!(param(&authorize, "nonce").unwrap().len() >= 43);
    assert_eq!(param(&authorize, "response_mode"), None);
    assert_eq!(param(&authorize, "prompt"), None);
    assert!(!authorize.as_str().contains(tests::CLIENT_SECRET));

    // The emulator's real login page, then back to the callback.
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    assert_eq!(callback.path(), "/auth/callback");
    assert_eq!(param(&callback, "iss"), Some(app.emulator.issuer()));
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.location(), Some("/customers?tab=1"));
    let session_cookie =
        r.set_cookies().into_iter().find(|c| c.starts_with(&format!("{SESSION}="))).expect("session cookie");
    let attrs = cookie_attrs(&session_cookie);
    for flag in ["secure", "httponly", "samesite=strict", "path=/"] {
        assert!(attrs.contains(&flag.to_string()), "session cookie lacks {flag}: {session_cookie}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain")));
    let cookie_value = b.cookie("localhost", SESSION).unwrap();
    assert_eq!(cookie_value.len(), 43, "256-bit base64url secret");

    // The code was exchanged with client_secret_post.
    let stats = app.emulator_stats().await;
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    assert_eq!(stats["tokenAuthMethods"]["client_secret_post"], 1, "{stats}");
    assert_eq!(stats["tokenAuthMethods"]["client_secret_basic"], 0, "{stats}");

    // Who is signed in.
    let s = app.session_json(&mut b).await;
    assert_eq!(s["authenticated"], true);
    assert_eq!(s["user"]["sub"], "demo");
    assert_eq!(s["user"]["id"], DEMO_ID);
    assert_eq!(s["user"]["name"], "Demo User");
    assert_eq!(s["user"]["email"], "demo@example.com");
    assert!(s["user"].get("nonce").is_none());
    assert!(s["accessTokenExpiresAt"].as_str().unwrap().ends_with('Z'));
    assert!(s["sessionExpiresAt"].as_str().unwrap().ends_with('Z'));
    let logout_url = s["logoutUrl"].as_str().unwrap().to_string();
    assert!(logout_url.starts_with("/auth/logout?sid="));

    // The store holds a hash of the cookie, never the cookie or a token in clear.
    let items = app.session_items().await;
    assert_eq!(items.len(), 1);
    let dump = format!("{items:?}");
    assert!(!dump.contains(&cookie_value));

    // A proxied OData query, passed byte-exact.
    // Sent raw: an HTTP library would re-encode the quotes; the BFF must pass whatever came, byte for byte.
    let query = "$filter=contains(Name,'a%20b')%20and%20Active%20eq%20true&$top=5&$select=Id,Name";
    let target = format!("/api/domain/odata/Crm_Sales_Customers?{query}");
    let r = b.raw(&app.origin(), "GET", &target, &[("X-CSRF", "1"), ("Accept", "application/json")], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["@emulator.user"], "demo");
    assert!(!body["value"].as_array().unwrap().is_empty(), "the sample data has customers matching 'a b': {body}");
    let seen = app.emulator_requests().await;
    let last = seen.last().unwrap();
    assert_eq!(last["rawUrl"], format!("/api/domain/odata/Crm_Sales_Customers?{query}"));
    assert!(last["headers"]["authorization"].as_str().unwrap().starts_with("Bearer "));
    assert!(last["headers"].get("cookie").is_none(), "browser cookies must not reach the API: {last}");
    assert!(last["headers"].get("x-csrf").is_none());

    // Paging: the absolute nextLink comes back as the BFF's /api/… and can be followed.
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=5", None, &[]).await;
    assert_eq!(r.status, 200);
    let page1 = r.json();
    let next = page1["@odata.nextLink"].as_str().expect("nextLink").to_string();
    assert!(next.starts_with("/api/domain/odata/Crm_Sales_Customers?"), "{next}");
    assert!(!r.text().contains(&app.emulator.origin()), "absolute ERP URLs must be rewritten: {}", r.text());
    let r = app.api(&mut b, Method::GET, &next, None, &[]).await;
    assert_eq!(r.status, 200);
    let page2 = r.json();
    assert_ne!(page1["value"][0]["Id"], page2["value"][0]["Id"]);

    // Logout: session gone here, the refresh token revoked, end-session redirect with id_token_hint, and the
    // emulator counted it.
    let refresh_token = app.issued_refresh_tokens().await.last().cloned().expect("a refresh token");
    let r = b.get(&app.url(&logout_url)).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(app.revocations().await, 1, "the refresh token was not revoked at logout");
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{}=;", shared::http::cookies::HINT))));
    let end = Url::parse(r.location().unwrap()).unwrap();
    assert_eq!(end.path(), "/id/connect/endsession");
    assert!(param(&end, "id_token_hint").is_some_and(|t| t.split('.').count() == 3));
    assert_eq!(param(&end, "post_logout_redirect_uri"), Some(app.url("/")));
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{SESSION}=;"))));
    let r = b.get(end.as_str()).await;
    assert_eq!(r.status / 100, 3, "end-session should redirect back: {}", r.text());
    assert_eq!(r.location(), Some(app.url("/").as_str()));
    assert_eq!(app.emulator_stats().await["endSession"], 1);
    assert_eq!(app.session_json(&mut b).await["authenticated"], false);
    assert!(app.session_items().await.is_empty());
    assert!(!app.refresh_token_accepted(&refresh_token).await, "the revoked refresh token still works");

    // Logging out again is harmless.
    let r = b.get(&app.url(&logout_url)).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), Some("/"));
}

#[tokio::test]
async fn unhappy_paths_fail_cleanly() {
    let app = spawn_app().await;

    // Wrong password: the emulator's form says so, and nothing comes back to the app.
    let mut b = Browser::new();
    let authorize = app.start_login(&mut b, Some("//evil.example")).await;
    let mut r = b.get(authorize.as_str()).await;
    while let Some(loc) = r.location() {
        let next = r.url.join(loc).unwrap();
        r = b.get(next.as_str()).await;
    }
    let action = r.url.join(&tests::form_action(&r.text(), "login-form").unwrap()).unwrap();
    let r = b.post_form(action.as_str(), &[("login", "demo"), ("password", "wrong")]).await;
    assert!(r.location().is_none());
    assert!(r.text().contains("Invalid login or password"), "{}", r.text());
    assert_eq!(app.emulator_stats().await["login"]["failed"], 1);

    // Then the right password; returnUrl=//evil.example lands on `/`.
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;

    // A callback carried to another browser fails, and does not burn the login of the right one.
    let mut other = Browser::new();
    let r = other.get(callback.as_str()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_code(), "login_failed");
    assert_eq!(r.json()["error"], "login_not_bound");
    let mut planted = Browser::new();
    let state = callback.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let name = b.jar["localhost"].keys().find(|k| k.starts_with(LOGIN_PREFIX)).unwrap().clone();
    planted.set_cookie("localhost", &name, &"A".repeat(43));
    assert!(!state.is_empty());
    let r = planted.get(callback.as_str()).await;
    assert_eq!(r.problem_code(), "login_failed");

    let binding_value = b.jar["localhost"].iter().find(|(k, _)| k.starts_with(LOGIN_PREFIX)).unwrap().1.clone();
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.location(), Some("/"));
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");

    // A replayed callback fails cleanly, and the live session is untouched: the attempt's cookie is gone …
    let login_cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(LOGIN_PREFIX))
        .expect("the callback clears the attempt's login cookie");
    assert!(login_cookie.contains("Max-Age=0"), "{login_cookie}");
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_code(), "login_failed");
    assert_eq!(r.json()["error"], "login_not_bound");
    // … and even with the cookie planted back, the state was consumed exactly once.
    let name = login_cookie.split('=').next().unwrap().to_string();
    b.set_cookie("localhost", &name, &binding_value);
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_state");
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
    assert_eq!(
        app.emulator_stats().await["token"]["authorization_code"],
        1,
        "a replay must not reach the token endpoint"
    );

    // An unknown state: this browser holds no login cookie for it.
    let r = b.get(&app.url("/auth/callback?code=abc&state=not-a-state-we-issued")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "login_not_bound");
    // A browser navigation (it asks for HTML) is sent back to the app with the code instead of a JSON page.
    let r = b
        .request(
            Method::GET,
            &app.url("/auth/callback?code=abc&state=nope"),
            &[("accept", "text/html,application/xhtml+xml")],
            None,
        )
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), Some("/?login_error=login_not_bound"));
    // No state at all.
    let r = b.get(&app.url("/auth/callback?code=abc")).await;
    assert_eq!(r.problem_code(), "invalid_request");

    // Missing X-CSRF.
    let r = b.get(&app.url("/auth/session")).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_code(), "csrf_required");
    let r = b.get(&app.url("/api/domain/odata/Crm_Sales_Customers")).await;
    assert_eq!(r.problem_code(), "csrf_required");
    // A foreign Origin.
    let r = app.api(&mut b, Method::GET, "/auth/session", None, &[("origin", "https://evil.example")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_code(), "origin_not_allowed");

    // Outside the proxy allowlist.
    for path in ["/api/domain/secret", "/api/admin", "/api/domain/odata"] {
        let r = app.api(&mut b, Method::GET, path, None, &[]).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(r.problem_code(), "path_not_allowed", "{path}");
    }
    // A method the proxy does not forward.
    let r = app.api(&mut b, Method::OPTIONS, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.problem_code(), "method_not_allowed");

    // The user cancels at the identity server: back to the app with login_error.
    let mut c = Browser::new();
    let authorize = app.start_login(&mut c, Some("/orders")).await;
    let mut r = c.get(authorize.as_str()).await;
    while let Some(loc) = r.location() {
        let next = r.url.join(loc).unwrap();
        r = c.get(next.as_str()).await;
    }
    let cancel = r.url.join(&tests::form_action(&r.text(), "cancel-form").unwrap()).unwrap();
    let mut r = c.post_form(cancel.as_str(), &[]).await;
    while let Some(loc) = r.location() {
        let next = r.url.join(loc).unwrap();
        if next.as_str().starts_with(&app.origin()) {
            r = c.get(next.as_str()).await;
            break;
        }
        r = c.get(next.as_str()).await;
    }
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), Some("/orders?login_error=access_denied"));
    assert_eq!(app.session_json(&mut c).await["authenticated"], false);

    // Anonymous API calls.
    let r = app.api(&mut c, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.problem_code(), "not_authenticated");
    // A session cookie that leads nowhere.
    c.set_cookie("localhost", SESSION, &"B".repeat(43));
    let r = app.api(&mut c, Method::GET, "/api/domain/odata/Crm_Sales_Customers", None, &[]).await;
    assert_eq!(r.problem_code(), "session_expired");
    assert!(r.set_cookies().iter().any(|s| s.starts_with(&format!("{SESSION}=;"))));
}

#[tokio::test]
async fn a_code_exchange_answer_that_is_not_a_bearer_token_is_refused() {
    let app = spawn_app().await;
    for token_type in ["mac", "DPoP", "Bearer-ish"] {
        app.emulator_control(serde_json::json!({ "tokenType": token_type })).await;
        let mut b = Browser::new();
        let authorize = app.start_login(&mut b, None).await;
        let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
        let r = b.get(callback.as_str()).await;
        assert_eq!(r.status, 400, "{token_type}: {}", r.text());
        assert_eq!(r.problem_code(), "login_failed", "{token_type}");
        assert_eq!(r.json()["error"], "invalid_token_response", "{token_type}");
        assert!(r.set_cookies().iter().all(|c| !c.starts_with(&format!("{SESSION}="))), "{token_type}: no session");
    }
    assert!(app.session_items().await.is_empty(), "nothing is created from a refused token response");
    assert_eq!(app.emulator_stats().await["token"]["authorization_code"], 3, "the codes were exchanged");

    // The type is compared case-insensitively.
    app.emulator_control(serde_json::json!({ "tokenType": "bearer" })).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo");
}

#[tokio::test]
async fn every_cookie_carries_the_host_http_prefix_and_its_attributes() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    let r = b.get(&app.url("/auth/login")).await;
    assert_eq!(r.status, 302);
    let mut set_cookies = r.set_cookies();
    let authorize = Url::parse(r.location().unwrap()).unwrap();
    let callback = app.authenticate_at_emulator(&mut b, &authorize, "demo", "demo").await;
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 302, "{}", r.text());
    set_cookies.extend(r.set_cookies());
    // The login cookie set, the login cookie cleared, the session cookie set, the tab-sync hint set.
    assert_eq!(set_cookies.len(), 4, "{set_cookies:?}");
    for c in &set_cookies {
        let attrs = cookie_attrs(c);
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "a Domain: {c}");
        if let Some(hint) = c.strip_prefix(&format!("{}=", shared::http::cookies::HINT)) {
            // The one cookie script reads: `__Host-` rules, Strict, and nothing in it but a generation and the expiry.
            for needed in ["secure", "path=/", "samesite=strict"] {
                assert!(attrs.iter().any(|a| a == needed), "{needed} missing: {c}");
            }
            let value = hint.split(';').next().unwrap();
            let (generation, expiry) = value.split_once('.').unwrap();
            assert!(generation.len() == 12 && expiry.parse::<i64>().unwrap() > tests::now(), "{value}");
            continue;
        }
        // draft-ietf-oauth-browser-based-apps: `__Host-Http-` (browsers also refuse such a cookie from script).
        assert!(c.starts_with("__Host-Http-"), "{c}");
        for needed in ["secure", "httponly", "path=/"] {
            assert!(attrs.iter().any(|a| a == needed), "{needed} missing: {c}");
        }
    }
    assert!(set_cookies.iter().any(|c| c.starts_with(&format!("{SESSION}="))), "{set_cookies:?}");
    assert_eq!(app.session_json(&mut b).await["user"]["sub"], "demo", "the browser sends it back");
}
