//! The user's sessions (`GET /auth/sessions`, `DELETE /auth/sessions[/{id}]`), OpenID Connect Back-Channel Logout
//! (`POST /auth/backchannel-logout`, driven by the emulator's `POST /__emulator/logout?sub=`), and how soon an
//! ended session is refused. The figures are printed (`--no-capture` shows them).

use reqwest::Method;
use serde_json::Value;
use shared::http::cookies::{HINT, SESSION};
use std::time::{Duration, Instant};
use tests::{Browser, Options, TestApp, spawn_app, spawn_app_with};

const API: &str = "/api/domain/odata/Crm_Sales_Customers?$top=1";

async fn list(app: &TestApp, b: &mut Browser) -> Vec<Value> {
    let r = app.api(b, Method::GET, "/auth/sessions", None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.json()["sessions"].as_array().unwrap().clone()
}

/// Calls the API until it is refused; the time from `since` to that first refused call.
async fn first_refused_call(app: &TestApp, b: &mut Browser, since: Instant) -> Duration {
    for _ in 0..200 {
        let r = app.api(b, Method::GET, API, None, &[]).await;
        if r.status == 401 {
            assert_eq!(r.problem_code(), "session_expired");
            return since.elapsed();
        }
        assert_eq!(r.status, 200, "{}", r.text());
    }
    panic!("the ended session was never refused");
}

#[tokio::test]
async fn a_user_lists_ends_one_and_ends_all_other_sessions() {
    let app = spawn_app().await;
    let ua = |b: &str| format!("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) {b}");
    let mut laptop = Browser::new();
    let mut phone = Browser::new();
    let mut tablet = Browser::new();
    let mut alice = Browser::new();
    for (b, who) in [(&mut laptop, "demo"), (&mut phone, "demo"), (&mut tablet, "demo"), (&mut alice, "alice")] {
        app.sign_in(b, who, who).await;
    }
    // The device label comes from the User-Agent of the sign-in (the harness's client sends none).
    let mut edge = Browser::new();
    let authorize = app.start_login(&mut edge, None).await;
    let callback = app.authenticate_at_emulator(&mut edge, &authorize, "demo", "demo").await;
    let r = edge
        .request(Method::GET, callback.as_str(), &[("user-agent", &ua("Chrome/131.0 Safari/537.36 Edg/131.0"))], None)
        .await;
    assert_eq!(r.status, 302);

    let sessions = list(&app, &mut laptop).await;
    assert_eq!(sessions.len(), 4, "demo's four sessions, not alice's: {sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    for s in &sessions {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["createdAt", "current", "device", "deviceBound", "expiresAt", "id", "lastSeenAt"], "{s}");
        assert_eq!(s["id"].as_str().unwrap().len(), 22, "an opaque id: {s}");
    }
    assert!(sessions.iter().any(|s| s["device"] == "Edge on Windows"), "{sessions:?}");
    // Nothing that opens a session leaves: no cookie value, no store key.
    let body = serde_json::to_string(&sessions).unwrap();
    for b in [&laptop, &phone, &tablet, &edge] {
        assert!(!body.contains(&b.cookie("localhost", SESSION).unwrap()));
    }
    for item in app.session_items().await {
        assert!(!body.contains(item["pk"].as_s().unwrap().trim_start_matches("session#")));
    }

    // Someone else's id: 404, and nothing happens to it.
    let alice_id = list(&app, &mut alice).await[0]["id"].as_str().unwrap().to_string();
    let r = app.api(&mut laptop, Method::DELETE, &format!("/auth/sessions/{alice_id}"), None, &[]).await;
    assert_eq!((r.status, r.problem_code().as_str()), (404, "not_found"));
    assert_eq!(app.api(&mut alice, Method::GET, API, None, &[]).await.status, 200);
    // Without X-CSRF, or from another origin: refused.
    let r = laptop.request(Method::DELETE, &app.url("/auth/sessions"), &[], None).await;
    assert_eq!(r.problem_code(), "csrf_required");
    let r = app.api(&mut laptop, Method::GET, "/auth/sessions", None, &[("origin", "https://evil.example")]).await;
    assert_eq!(r.problem_code(), "origin_not_allowed");
    assert_eq!(
        app.api(&mut laptop, Method::POST, "/auth/sessions", None, &[]).await.problem_code(),
        "method_not_allowed"
    );

    // End the phone's session: 204; the phone's very next call is refused, and its refresh token is revoked then.
    let phone_id =
        list(&app, &mut phone).await.iter().find(|s| s["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
    let revocations = app.revocations().await;
    let ended_at = Instant::now();
    let r = app.api(&mut laptop, Method::DELETE, &format!("/auth/sessions/{phone_id}"), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let refused_after = first_refused_call(&app, &mut phone, ended_at).await;
    println!("FIGURE revocation to first refused call: {} ms", refused_after.as_millis());
    assert!(refused_after < Duration::from_secs(1), "{refused_after:?}");
    assert_eq!(app.revocations().await, revocations + 1, "the ended session's refresh token was revoked");
    assert!(list(&app, &mut laptop).await.iter().all(|s| s["id"] != phone_id.as_str()));

    // End every other session: tablet and edge; the laptop (this one) stays.
    let r = app.api(&mut laptop, Method::DELETE, "/auth/sessions", None, &[]).await;
    assert_eq!((r.status, r.json()), (200, serde_json::json!({"ended": 2})));
    for b in [&mut tablet, &mut edge] {
        assert_eq!(app.api(b, Method::GET, API, None, &[]).await.status, 401);
    }
    assert_eq!(app.api(&mut laptop, Method::GET, API, None, &[]).await.status, 200);
    assert_eq!(list(&app, &mut laptop).await.len(), 1);
    assert_eq!(app.api(&mut alice, Method::GET, API, None, &[]).await.status, 200, "alice untouched");

    // Ending the current session by id is a sign-out here: cookies cleared.
    let me = list(&app, &mut laptop).await[0]["id"].as_str().unwrap().to_string();
    let r = app.api(&mut laptop, Method::DELETE, &format!("/auth/sessions/{me}"), None, &[]).await;
    assert_eq!(r.status, 204);
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{SESSION}=;"))));
    assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("{HINT}=;"))));
    assert_eq!(
        app.api(&mut laptop, Method::GET, "/auth/sessions", None, &[]).await.problem_code(),
        "not_authenticated"
    );
}

async fn logout_at_emulator(app: &TestApp, sub: &str, send: bool) -> Value {
    let url = format!("{}/__emulator/logout?sub={sub}&send={send}", app.emulator.origin());
    let r = app.http.post(url).send().await.unwrap();
    assert!(r.status().is_success());
    r.json().await.unwrap()
}

#[tokio::test]
async fn backchannel_logout_ends_the_users_sessions_within_a_second() {
    let app = spawn_app().await;
    let (mut one, mut two, mut alice) = (Browser::new(), Browser::new(), Browser::new());
    app.sign_in(&mut one, "demo", "demo").await;
    app.sign_in(&mut two, "demo", "demo").await;
    app.sign_in(&mut alice, "alice", "alice").await;
    assert_eq!(app.api(&mut one, Method::GET, API, None, &[]).await.status, 200);
    // The logout function is started (its first start under cargo lambda builds it): the figure is a warm one.
    let warm = app.http.post(app.url("/auth/backchannel-logout")).form(&[("logout_token", "x")]).send().await.unwrap();
    assert_eq!(warm.status(), 400);

    let started = Instant::now();
    let done = logout_at_emulator(&app, "demo", true).await;
    assert!(done["backchannel"].as_array().unwrap().iter().all(|d| d["ok"] == true), "{done}");
    let refused_after = first_refused_call(&app, &mut one, started).await;
    println!("FIGURE back-channel logout to first refused call: {} ms", refused_after.as_millis());
    assert!(refused_after < Duration::from_secs(1), "{refused_after:?}");
    assert_eq!(app.api(&mut two, Method::GET, API, None, &[]).await.status, 401);
    assert_eq!(app.api(&mut alice, Method::GET, API, None, &[]).await.status, 200, "another user's session stays");
    assert_eq!(app.emulator_stats().await["backchannelLogout"]["ok"], 2);
}

#[tokio::test]
async fn backchannel_logout_of_one_erpnet_session_ends_only_the_sessions_signed_in_through_it() {
    let app = spawn_app().await;
    let (mut one, mut two) = (Browser::new(), Browser::new());
    app.sign_in(&mut one, "demo", "demo").await;
    app.sign_in(&mut two, "demo", "demo").await;
    // `one`'s ERP.net session, as its item recorded it (`<instance>|<sid>`).
    let id = list(&app, &mut one).await.into_iter().find(|s| s["current"] == true).unwrap()["id"].clone();
    let items = app.session_items().await;
    let item = items.iter().find(|i| i["id"].as_s().ok().map(String::as_str) == id.as_str()).expect("one's item");
    let sid = item["idp_sid"].as_s().unwrap().split_once('|').unwrap().1.to_string();
    let other = items.iter().find(|i| i["id"].as_s().ok().map(String::as_str) != id.as_str()).expect("two's item");
    assert_ne!(other["idp_sid"], item["idp_sid"], "two browsers, two ERP.net sessions");

    // ERP.net ends that one session of demo (the logout token names `sub` and that `sid`).
    let url = format!("{}/__emulator/logout?sub=demo&sid={sid}", app.emulator.origin());
    let done: Value = app.http.post(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(done["sessions"], 1, "{done}");
    assert!(done["backchannel"].as_array().unwrap().iter().all(|d| d["ok"] == true), "{done}");
    first_refused_call(&app, &mut one, Instant::now()).await;
    assert_eq!(app.api(&mut two, Method::GET, API, None, &[]).await.status, 200, "demo's other ERP.net session stays");
}

#[tokio::test]
async fn backchannel_logout_tokens_are_validated_and_accepted_once() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let tokens = logout_at_emulator(&app, "demo", false).await["logoutTokens"].as_array().unwrap().clone();
    let token = tokens[0].as_str().unwrap().to_string();
    let post = |body: String, ct: &'static str| {
        let http = app.http.clone();
        let url = app.url("/auth/backchannel-logout");
        async move { http.post(url).header("content-type", ct).body(body).send().await.unwrap() }
    };
    let form = |t: &str| format!("logout_token={}", tests::enc(t));

    let mut tampered = token.clone().into_bytes();
    let at = token.rfind('.').unwrap() + 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (head, rest) = token.split_once('.').unwrap();
    let no_typ_check = format!("{}.{rest}", shared::crypto::b64url(br#"{"alg":"none","typ":"logout+jwt"}"#));
    for (what, body, ct) in [
        ("garbage", form("not.a.jwt"), "application/x-www-form-urlencoded"),
        ("a bad signature", form(&tampered), "application/x-www-form-urlencoded"),
        ("alg none", form(&no_typ_check), "application/x-www-form-urlencoded"),
        ("no logout_token", "x=1".to_string(), "application/x-www-form-urlencoded"),
    ] {
        let r = post(body, ct).await;
        assert_eq!(r.status(), 400, "{what}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{what}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (v["code"].as_str(), v["error"].as_str()),
            (Some("invalid_logout_token"), Some("invalid_request")),
            "{what}: {v}"
        );
    }
    assert_eq!(post(form(&token), "application/json").await.status(), 400, "a JSON body");
    assert!(!head.is_empty());
    assert_eq!(app.api(&mut b, Method::GET, API, None, &[]).await.status, 200, "nothing ended by the bad ones");

    let r = post(form(&token), "application/x-www-form-urlencoded").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(app.api(&mut b, Method::GET, API, None, &[]).await.status, 401);
    // The same token again (a replay): refused, its jti is remembered.
    let r = post(form(&token), "application/x-www-form-urlencoded").await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["detail"].as_str().unwrap().contains("already used"), "{v}");
}

#[tokio::test]
async fn backchannel_logout_is_off_unless_configured() {
    let app =
        spawn_app_with(Options { bff_env: vec![("BACKCHANNEL_LOGOUT".into(), "false".into())], ..Options::default() })
            .await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let done = logout_at_emulator(&app, "demo", true).await;
    assert!(done["backchannel"].as_array().unwrap().iter().all(|d| d["ok"] == false), "{done}");
    let r = app.http.post(app.url("/auth/backchannel-logout")).form(&[("logout_token", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The access token is still valid: the session goes on until ERP.net refuses its refresh.
    assert_eq!(app.api(&mut b, Method::GET, API, None, &[]).await.status, 200);
}

/// An emulator user hook (`POST /__emulator/users…`); its JSON answer.
async fn user_hook(app: &TestApp, path_and_query: &str) -> Value {
    let r = app.http.post(format!("{}/__emulator/users{path_and_query}", app.emulator.origin())).send().await.unwrap();
    assert!(r.status().is_success(), "{path_and_query}: {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_renamed_user_keeps_their_sessions_and_a_namesake_given_the_old_login_sees_none() {
    let app = spawn_app().await;
    let (mut old_laptop, mut renamed, mut namesake) = (Browser::new(), Browser::new(), Browser::new());
    app.sign_in(&mut old_laptop, "carol", "carol").await;
    // ERP.net renames carol: same user (same `id`), a new login.
    let moved = user_hook(&app, "/carol/rename?to=caroline").await;
    assert_eq!(moved["sub"], "caroline");
    app.sign_in(&mut renamed, "caroline", "carol").await;
    let sessions = list(&app, &mut renamed).await;
    assert_eq!(
        sessions.len(),
        2,
        "the renamed user still sees the session signed in under the old login: {sessions:?}"
    );
    assert_eq!(app.session_json(&mut renamed).await["user"]["sub"], "caroline");

    // The old login is given to someone else: they see none of carol's sessions and end none of them.
    let other = user_hook(&app, "?login=carol&password=namesake").await;
    assert_ne!(other["id"], moved["id"], "a different user");
    app.sign_in(&mut namesake, "carol", "namesake").await;
    let theirs = list(&app, &mut namesake).await;
    assert_eq!(theirs.len(), 1, "only their own session: {theirs:?}");
    let r = app.api(&mut namesake, Method::DELETE, "/auth/sessions", None, &[]).await;
    assert_eq!((r.status, r.json()["ended"].as_u64()), (200, Some(0)), "{}", r.text());
    for id in sessions.iter().map(|s| s["id"].as_str().unwrap()) {
        let r = app.api(&mut namesake, Method::DELETE, &format!("/auth/sessions/{id}"), None, &[]).await;
        assert_eq!(r.status, 404, "another user's session id: {}", r.text());
    }
    for b in [&mut old_laptop, &mut renamed] {
        assert_eq!(app.api(b, Method::GET, API, None, &[]).await.status, 200, "carol's sessions live on");
    }
    // And the renamed user's "sign out everywhere else" ends the old session, not the namesake's.
    let r = app.api(&mut renamed, Method::DELETE, "/auth/sessions", None, &[]).await;
    assert_eq!(r.json()["ended"], 1, "{}", r.text());
    assert_eq!(app.api(&mut old_laptop, Method::GET, API, None, &[]).await.status, 401);
    assert_eq!(app.api(&mut namesake, Method::GET, API, None, &[]).await.status, 200);
}
