//! One deployment, many ERP.net instances (`INSTANCE_REGISTRY=true`): `acme` and `globex`, each an emulator of its
//! own (own keys, own client secret, own data), chosen by host. Sessions, sign-ins and tokens never cross.

use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};
use tests::instances::{CACHE_SECONDS, entry};
use tests::{Browser, Options, TestApp, spawn_app_with};

const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers";

async fn two_instances() -> TestApp {
    spawn_app_with(Options { instances: true, ..Default::default() }).await
}

async fn customers(app: &TestApp, origin: &str, b: &mut Browser, query: &str) -> Value {
    let r = app.api_at(origin, b, Method::GET, &format!("{CUSTOMERS}{query}"), None, &[]).await;
    assert_eq!(r.status, 200, "{origin}: {}", r.text());
    r.json()
}

#[tokio::test]
async fn one_browser_signed_in_to_two_instances_sees_each_ones_own_data() {
    let app = two_instances().await;
    let (acme, globex) = (app.instance_origin("acme"), app.instance_origin("globex"));
    let mut b = Browser::new();
    app.sign_in_at(&acme, &mut b, "demo", "demo").await;
    app.sign_in_at(&globex, &mut b, "demo", "demo").await;
    for origin in [&acme, &globex] {
        let s = app.api_at(origin, &mut b, Method::GET, "/auth/session", None, &[]).await.json();
        assert_eq!(s["authenticated"], true, "{origin}: {s}");
    }
    let items = app.session_items().await;
    let inst: Vec<_> = items.iter().map(|i| i.get("inst").and_then(|v| v.as_s().ok()).cloned()).collect();
    assert!(inst.contains(&Some("acme".into())) && inst.contains(&Some("globex".into())), "{inst:?}");
    // demo's sessions as each instance lists them: only that instance's one (the same `sub` at both).
    for origin in [&acme, &globex] {
        let list = app.api_at(origin, &mut b, Method::GET, "/auth/sessions", None, &[]).await.json();
        assert_eq!(list["sessions"].as_array().unwrap().len(), 1, "{origin}: {list}");
    }
    // The app's own host is the default instance, where this browser has no session.
    let s = app.api_at(&app.origin(), &mut b, Method::GET, "/auth/session", None, &[]).await.json();
    assert_eq!(s["authenticated"], false, "{s}");

    // A change made through globex is globex's alone.
    let first = customers(&app, &globex, &mut b, "?$top=1").await["value"][0].clone();
    let marker = format!("globex-only-{}", tests::now());
    let body = serde_json::json!({ "Name": marker }).to_string();
    let entity = format!("{CUSTOMERS}({})", first["Id"].as_str().unwrap());
    let json = [("content-type", "application/json")];
    let r = app.api_at(&globex, &mut b, Method::PATCH, &entity, Some(body.into_bytes()), &json).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let filter = format!("?$filter=Name%20eq%20'{marker}'");
    assert_eq!(customers(&app, &globex, &mut b, &filter).await["value"].as_array().unwrap().len(), 1);
    assert_eq!(customers(&app, &acme, &mut b, &filter).await["value"].as_array().unwrap().len(), 0);
    // Signing out of one leaves the other signed in.
    let s = app.api_at(&globex, &mut b, Method::GET, "/auth/session", None, &[]).await.json();
    let logout = format!("{globex}{}", s["logoutUrl"].as_str().unwrap());
    assert_eq!(b.get(&logout).await.status, 302);
    let s = app.api_at(&globex, &mut b, Method::GET, "/auth/session", None, &[]).await.json();
    assert_eq!(s["authenticated"], false, "{s}");
    let s = app.api_at(&acme, &mut b, Method::GET, "/auth/session", None, &[]).await.json();
    assert_eq!(s["authenticated"], true, "{s}");
}

#[tokio::test]
async fn a_callback_of_one_instance_with_the_others_state_or_code_fails_cleanly() {
    let app = two_instances().await;
    let (acme, globex) = (app.instance_origin("acme"), app.instance_origin("globex"));
    let host = |o: &str| url::Url::parse(o).unwrap().host_str().unwrap().to_string();

    // acme's callback (its code and state) delivered to globex's host: no login cookie there.
    let mut b = Browser::new();
    let authorize = app.start_login_at(&acme, &mut b, Some("/")).await;
    let callback = app.authenticate_for(&acme, &mut b, &authorize, "demo", "demo").await;
    let moved = callback.as_str().replacen(&acme, &globex, 1);
    let r = b.get(&moved).await;
    assert_eq!((r.status, r.problem_code()), (400, "login_failed".into()), "{}", r.text());
    // Even with acme's login cookie copied over to globex's host, globex refuses acme's pending login.
    let login_cookies: Vec<(String, String)> =
        b.jar[&host(&acme)].iter().filter(|(k, _)| k.contains("login")).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert!(!login_cookies.is_empty());
    for (k, v) in &login_cookies {
        b.set_cookie(&host(&globex), k, v);
    }
    let r = b.get(&moved).await;
    assert_eq!((r.status, r.problem_code()), (400, "login_failed".into()), "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_state", "{}", r.text());

    // globex's own state with acme's code: globex's identity server does not know the code.
    let mut b2 = Browser::new();
    let authorize = app.start_login_at(&acme, &mut b2, Some("/")).await;
    let acme_cb = app.authenticate_for(&acme, &mut b2, &authorize, "demo", "demo").await;
    let acme_code = acme_cb.query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string();
    let authorize = app.start_login_at(&globex, &mut b2, Some("/")).await;
    let globex_cb = app.authenticate_for(&globex, &mut b2, &authorize, "demo", "demo").await;
    let mut mixed = globex_cb.clone();
    let pairs: Vec<(String, String)> = globex_cb
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == "code" { acme_code.clone() } else { v.to_string() }))
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let r = b2.get(mixed.as_str()).await;
    assert_eq!((r.status, r.problem_code()), (400, "login_failed".into()), "{}", r.text());
    assert!(app.session_items().await.is_empty(), "no session was stored");
}

#[tokio::test]
async fn a_session_cookie_of_one_host_is_refused_on_the_other() {
    let app = two_instances().await;
    let (acme, globex) = (app.instance_origin("acme"), app.instance_origin("globex"));
    let mut b = Browser::new();
    app.sign_in_at(&acme, &mut b, "demo", "demo").await;
    // Copy every acme cookie to globex's host, as someone holding the cookie might.
    let cookies: Vec<(String, String)> = b.jar["acme.localhost"].clone().into_iter().collect();
    for (k, v) in &cookies {
        b.set_cookie("globex.localhost", k, v);
    }
    let r = app.api_at(&globex, &mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!((r.status, r.problem_code()), (401, "session_expired".into()), "{}", r.text());
    assert_eq!(
        app.api_at(&globex, &mut b, Method::GET, "/auth/session", None, &[]).await.json()["authenticated"],
        false
    );
    // The acme session itself is untouched.
    let r = app.api_at(&acme, &mut b, Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Polls until `check` holds, and returns how long that took.
async fn within_cache_time<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    tests::wait_until(what, Duration::from_secs(CACHE_SECONDS + 3), check).await;
    started.elapsed()
}

#[tokio::test]
async fn unknown_and_disabled_instances_are_refused_and_a_rotated_secret_applies_within_the_cache_time() {
    let app = two_instances().await;
    let globex = app.instance_origin("globex");
    let mut b = Browser::new();
    for origin in [app.instance_origin("nope"), "http://a.b.localhost:1".replace(":1", &format!(":{}", app.bff_port))] {
        let r = b.get(&format!("{origin}/auth/login")).await;
        assert_eq!((r.status, r.problem_code()), (404, "unknown_instance".into()), "{origin}: {}", r.text());
    }
    assert!(app.scan().await.iter().all(|i| !i["pk"].as_s().unwrap().starts_with("login#")), "nothing stored");

    // globex signed in, then disabled: refused within the cache time, its session kept for when it comes back.
    app.sign_in_at(&globex, &mut b, "demo", "demo").await;
    let globex_port = app.globex.as_ref().unwrap().port;
    app.register("globex", &tests::instances::Entry { enabled: false, ..entry(globex_port, "env:BFF_SECRET_GLOBEX") })
        .await;
    let took = within_cache_time("globex refused", || {
        let mut b = b.clone();
        let (app, globex) = (&app, &globex);
        async move { app.api_at(globex, &mut b, Method::GET, CUSTOMERS, None, &[]).await.status == 404 }
    })
    .await;
    println!("disable took effect after {took:?}");
    app.register("globex", &entry(globex_port, "env:BFF_SECRET_GLOBEX")).await;

    // A wrong secret in the registry: sign-ins fail at the code exchange; the right one applies within the cache time.
    app.register("globex", &entry(globex_port, "env:BFF_SECRET_GLOBEX_WRONG")).await;
    let signs_in = |ok: bool| {
        let (app, globex) = (&app, &globex);
        async move {
            let mut fresh = Browser::new();
            let authorize = app.start_login_at(globex, &mut fresh, Some("/")).await;
            let cb = app.authenticate_for(globex, &mut fresh, &authorize, "demo", "demo").await;
            (fresh.get(cb.as_str()).await.status == 302) == ok
        }
    };
    within_cache_time("the wrong secret in use", || signs_in(false)).await;
    app.register("globex", &entry(globex_port, "env:BFF_SECRET_GLOBEX")).await;
    let took = within_cache_time("the rotated secret in use", || signs_in(true)).await;
    println!("secret rotation took effect after {took:?}");
}
