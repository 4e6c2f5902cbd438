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

/// A JSON document of one emulator's test hooks (`/__emulator/…`), by its origin.
async fn hooks(app: &TestApp, emulator: &str, path: &str) -> Value {
    app.http.get(format!("{emulator}/__emulator/{path}")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_batch_on_a_registered_host_is_checked_against_that_instances_own_api() {
    let app = two_instances().await;
    let globex = app.instance_origin("globex");
    let (globex_api, acme_api) = (format!("{}/api", app.globex_origin()), format!("{}/api", app.emulator.origin()));
    let mut b = Browser::new();
    app.sign_in_at(&globex, &mut b, "demo", "demo").await;
    let batch = "/api/domain/odata/$batch";
    let json = [("content-type", "application/json")];
    let post = |body: Value| {
        let (app, globex, mut b) = (&app, &globex, b.clone());
        async move { app.api_at(globex, &mut b, Method::POST, batch, Some(body.to_string().into_bytes()), &json).await }
    };
    let one = |url: String, headers: Value| serde_json::json!({"requests": [{"id": "1", "method": "GET", "url": url, "headers": headers}]});

    // globex's own API by absolute URL, and by `Host`: checked, forwarded to globex, answered with globex's data.
    let own = format!("{globex_api}/domain/odata/Crm_Sales_Customers?$top=1");
    let authority = app.globex_origin().trim_start_matches("http://").to_string();
    for (url, headers) in [
        (own.clone(), serde_json::json!({})),
        ("Crm_Sales_Customers?$top=1".to_string(), serde_json::json!({ "Host": authority })),
    ] {
        let r = post(one(url.clone(), headers)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let answer = &r.json()["responses"][0];
        assert_eq!(answer["status"], 200, "{answer}");
        let id = answer["body"]["value"][0]["Number"].as_str().unwrap_or_default().to_string();
        assert!(id.starts_with('G'), "globex's own customers: {answer}");
    }
    let globex_batches =
        |seen: Vec<Value>| seen.iter().filter(|r| r["rawUrl"].as_str().unwrap().contains("batch")).count();
    let before = globex_batches(hooks(&app, &app.globex_origin(), "requests").await.as_array().cloned().unwrap());
    let acme_before = globex_batches(app.emulator_requests().await);

    // Another instance's API (the default instance's and acme's), by URL or by `Host`: refused, nothing forwarded.
    let acme_authority = app.emulator.origin().trim_start_matches("http://").to_string();
    for (url, headers) in [
        (format!("{acme_api}/domain/odata/Crm_Sales_Customers?$top=1"), serde_json::json!({})),
        ("Crm_Sales_Customers?$top=1".to_string(), serde_json::json!({ "Host": acme_authority })),
    ] {
        let r = post(one(url.clone(), headers)).await;
        assert_eq!((r.status, r.problem_code()), (403, "path_not_allowed".into()), "{url}: {}", r.text());
    }
    let after = globex_batches(hooks(&app, &app.globex_origin(), "requests").await.as_array().cloned().unwrap());
    assert_eq!(after, before, "no refused batch reached globex");
    assert_eq!(globex_batches(app.emulator_requests().await), acme_before, "nor acme");
}

#[tokio::test]
async fn re_pointing_an_instance_ends_its_sessions_and_sends_no_token_to_the_new_target() {
    let app = two_instances().await;
    let globex = app.instance_origin("globex");
    let mut b = Browser::new();
    app.sign_in_at(&globex, &mut b, "demo", "demo").await;
    customers(&app, &globex, &mut b, "?$top=1").await;
    // Every token globex's identity server issued to this session.
    let issued = hooks(&app, &app.globex_origin(), "secrets").await;
    let tokens: Vec<String> = ["accessTokens", "refreshTokens", "idTokens"]
        .iter()
        .flat_map(|k| issued[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert!(tokens.len() >= 3, "{issued}");
    let (acme_requests, acme_stats) = (app.emulator_requests().await.len(), app.emulator_stats().await);

    // An operator re-points globex at another ERP.net (here acme's database, with acme's client): globex's live
    // session must not carry its tokens there.
    app.register("globex", &entry(app.emulator.port, "env:BFF_SECRET_ACME")).await;
    let took = within_cache_time("globex's old session refused", || {
        let mut b = b.clone();
        let (app, globex) = (&app, &globex);
        async move { app.api_at(globex, &mut b, Method::GET, CUSTOMERS, None, &[]).await.status == 401 }
    })
    .await;
    println!("re-pointing took effect after {took:?}");
    // Ended cleanly: session_expired, its cookies cleared, its item gone.
    let r = app.api_at(&globex, &mut b.clone(), Method::GET, CUSTOMERS, None, &[]).await;
    assert_eq!((r.status, r.problem_code()), (401, "session_expired".into()), "{}", r.text());
    let s = app.api_at(&globex, &mut b, Method::GET, "/auth/session", None, &[]).await;
    assert_eq!(s.json()["authenticated"], false, "{}", s.text());
    assert!(app.session_items().await.is_empty(), "the session's item is deleted");

    // Nothing of it reached the new target: no API call, no token call, no revocation, and none of its tokens.
    let seen: Vec<Value> = app.emulator_requests().await.into_iter().skip(acme_requests).collect();
    assert!(seen.is_empty(), "the new target's API saw {seen:?}");
    let stats = app.emulator_stats().await;
    for counter in ["token", "revocation"] {
        assert_eq!(stats[counter], acme_stats[counter], "{counter}: {stats}");
    }
    let received = app.emulator_secrets().await.to_string();
    for t in &tokens {
        assert!(!received.contains(t.as_str()), "a globex token reached the new target");
    }
}

#[tokio::test]
async fn the_hot_path_is_one_read_on_a_registered_instance_too() {
    let app = spawn_app_with(Options { instances: true, ddb_proxy: true, ..Default::default() }).await;
    let globex = app.instance_origin("globex");
    let mut b = Browser::new();
    app.sign_in_at(&globex, &mut b, "demo", "demo").await;
    customers(&app, &globex, &mut b, "?$top=1").await; // warm: the registry entry, discovery
    app.ddb_reset().await;
    let idp_before = hooks(&app, &app.globex_origin(), "stats").await;
    let started = Instant::now();
    for _ in 0..10 {
        customers(&app, &globex, &mut b, "?$top=1").await;
    }
    // One GetItem per call, and the registry's one read per cache period (CACHE_SECONDS) at most.
    let periods = started.elapsed().as_secs() / CACHE_SECONDS + 1;
    let ops = app.ddb_stats().await["ops"].clone();
    let reads = ops["GetItem"].as_u64().unwrap_or(0);
    assert!((10..=10 + periods).contains(&reads), "{ops}");
    assert_eq!(ops.as_object().unwrap().len(), 1, "reads only: {ops}");
    let idp_after = hooks(&app, &app.globex_origin(), "stats").await;
    assert_eq!(idp_before["token"], idp_after["token"], "no token-endpoint call on the hot path");
}
