//! Device-bound sessions (W3C DBSC) at the protocol level: a test client with its own P-256 key registers, renews
//! the bound cookie, and meets every refusal (wrong key, replayed challenge, another session's challenge, an
//! expired challenge, a downgrade). The bound cookie lives 2 s here (`DBSC_COOKIE_SECONDS`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::Method;
use serde_json::{Value, json};
use shared::session::bound::{Challenge, Purpose};
use shared::session::secrets::SessionSecret;
use shared::time::UnixMillis;
use std::time::Duration;
use tests::browser::{Browser, Resp};
use tests::{Options, TestApp, spawn_app_with};

const BOUND: &str = "__Host-Http-bff-bound";
const SESSION: &str = "__Host-Http-bff-session";
const CUSTOMERS: &str = "/api/domain/odata/Crm_Sales_Customers?$top=1";

async fn app(extra: &[(&str, &str)]) -> TestApp {
    let mut bff_env: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if !extra.iter().any(|(k, _)| *k == "DBSC_COOKIE_SECONDS") {
        bff_env.push(("DBSC_COOKIE_SECONDS".into(), "2".into()));
    }
    spawn_app_with(Options { bff_env, ddb_proxy: true, ..Options::default() }).await
}

/// The browser side of DBSC: a key, and the challenge the last answer left.
struct Device {
    key: EcdsaKeyPair,
    challenge: Option<String>,
}

impl Device {
    fn new() -> Self {
        Self { key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(), challenge: None }
    }

    fn jwk(&self) -> Value {
        let p = self.key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])})
    }

    /// A `dbsc+jwt` over `jti`, with the key in the header at registration.
    fn proof(&self, jti: &str, with_key: bool) -> String {
        self.proof_claiming(jti, with_key.then(|| self.jwk()))
    }

    /// A proof signed by this key that names `jwk` as its key.
    fn proof_claiming(&self, jti: &str, jwk: Option<Value>) -> String {
        let mut header = json!({"alg": "ES256", "typ": "dbsc+jwt"});
        if let Some(jwk) = jwk {
            header["jwk"] = jwk;
        }
        let payload = json!({"jti": jti, "iat": tests::now()});
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload.to_string()));
        let sig = self.key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("\"{input}.{}\"", B64.encode(sig.as_ref()))
    }
}

/// `key="value"` from a structured-header parameter list.
fn param(header: &str, key: &str) -> String {
    let start = header.find(&format!("{key}=\"")).unwrap_or_else(|| panic!("no {key} in {header}")) + key.len() + 2;
    header[start..][..header[start..].find('"').unwrap()].to_string()
}

/// The challenge of a `Secure-Session-Challenge: "<c>";id="<id>"`.
fn challenge_of(r: &Resp) -> String {
    let h = r.header("secure-session-challenge").unwrap_or_else(|| panic!("no challenge: {} {}", r.status, r.text()));
    h.trim_start_matches('"').split('"').next().unwrap().to_string()
}

async fn post(app: &TestApp, b: &mut Browser, path: &str, proof: Option<&str>) -> Resp {
    let mut h = vec![("origin", app.origin())];
    if let Some(p) = proof {
        h.push(("secure-session-response", p.to_string()));
    }
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.request(Method::POST, &app.url(path), &h, None).await
}

/// Signs in and registers `device`: the registration the first `/auth/session` offers, proven with its key.
async fn bind(app: &TestApp, b: &mut Browser, device: &mut Device) -> Value {
    app.sign_in(b, "demo", "demo").await;
    let r = app.api(b, Method::GET, "/auth/session", None, &[]).await;
    let offer = r.header("secure-session-registration").expect("a new session is offered DBSC").to_string();
    assert!(offer.starts_with("(ES256);") && param(&offer, "path") == "/auth/dbsc/register", "{offer}");
    let r = post(app, b, "/auth/dbsc/register", Some(&device.proof(&param(&offer, "challenge"), true))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(b.cookie("localhost", BOUND).is_some(), "the first bound cookie");
    device.challenge = Some(challenge_of(&r));
    r.json()
}

/// Renews the bound cookie with the cached challenge (one request), as a browser does when it expires.
async fn renew(app: &TestApp, b: &mut Browser, device: &mut Device) -> Resp {
    let proof = device.proof(device.challenge.as_deref().unwrap(), false);
    let r = post(app, b, "/auth/dbsc/refresh", Some(&proof)).await;
    if r.status == 200 && r.header("secure-session-challenge").is_some() {
        device.challenge = Some(challenge_of(&r));
    }
    r
}

/// Polls until the bound cookie has expired for the BFF (a deadline, no fixed sleep).
async fn until_bound_cookie_expired(app: &TestApp, b: &mut Browser) {
    tests::wait_until("the bound cookie to expire", Duration::from_secs(10), || {
        let mut b2 = Browser::new();
        b2.jar = b.jar.clone();
        async move { app.api(&mut b2, Method::GET, CUSTOMERS, None, &[]).await.status == 401 }
    })
    .await;
}

#[tokio::test]
async fn registration_binds_the_key_and_refresh_renews_the_bound_cookie() {
    let app = app(&[]).await;
    let (mut b, mut device) = (Browser::new(), Device::new());
    let config = bind(&app, &mut b, &mut device).await;
    assert_eq!(config["refresh_url"], "/auth/dbsc/refresh");
    assert_eq!(config["scope"], json!({"origin": app.origin(), "include_site": false}));
    assert_eq!(config["credentials"][0]["name"], BOUND);
    let sessions = app.api(&mut b, Method::GET, "/auth/sessions", None, &[]).await.json();
    assert_eq!(sessions["sessions"][0]["deviceBound"], true);
    assert_eq!(config["session_identifier"], sessions["sessions"][0]["id"]);
    let r = app.api(&mut b, Method::GET, "/auth/session", None, &[]).await;
    assert!(r.header("secure-session-registration").is_none(), "a bound session is not offered DBSC again");
    for _ in 0..3 {
        until_bound_cookie_expired(&app, &mut b).await;
        let r = app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await;
        assert_eq!((r.status, r.problem_code()), (401, "bound_cookie_required".into()));
        app.ddb_reset().await;
        let started = std::time::Instant::now();
        assert_eq!(renew(&app, &mut b, &mut device).await.status, 200);
        eprintln!("renewal took {:?}", started.elapsed());
        let ops = app.ddb_stats().await["ops"].clone();
        assert_eq!(ops, json!({"GetItem": 1, "UpdateItem": 1}), "a renewal: one read, one conditional write");
        assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    }
}

#[tokio::test]
async fn the_hot_path_of_a_bound_session_is_still_one_read() {
    let app = app(&[("DBSC_COOKIE_SECONDS", "60")]).await;
    let (mut b, mut device) = (Browser::new(), Device::new());
    bind(&app, &mut b, &mut device).await;
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    app.ddb_reset().await;
    let idp_before = app.emulator_stats().await;
    for _ in 0..10 {
        assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
    }
    assert_eq!(app.ddb_stats().await["ops"], json!({"GetItem": 10}), "the bound cookie costs no read");
    assert_eq!(idp_before["token"], app.emulator_stats().await["token"]);
}

#[tokio::test]
async fn stolen_cookies_work_only_until_the_bound_cookie_expires() {
    let app = app(&[]).await;
    let (mut b, mut device) = (Browser::new(), Device::new());
    bind(&app, &mut b, &mut device).await;
    let mut thief = Browser::new();
    thief.jar = b.jar.clone();
    assert_eq!(app.api(&mut thief, Method::GET, CUSTOMERS, None, &[]).await.status, 200, "until it expires");
    until_bound_cookie_expired(&app, &mut thief).await;
    for path in [CUSTOMERS, "/auth/session", "/auth/sessions"] {
        let r = app.api(&mut thief, Method::GET, path, None, &[]).await;
        assert_eq!((r.status, r.problem_code()), (401, "bound_cookie_required".into()), "{path}");
    }
    let r = app.api(&mut thief, Method::POST, "/auth/refresh", Some(vec![]), &[]).await;
    assert_eq!((r.status, r.problem_code()), (401, "bound_cookie_required".into()));
    // The thief cannot renew it: no key, and a key of its own is not the session's.
    let r = post(&app, &mut thief, "/auth/dbsc/refresh", None).await;
    assert_eq!((r.status, r.problem_code()), (403, "invalid_session_proof".into()));
    let r = post(&app, &mut thief, "/auth/dbsc/refresh", Some(&Device::new().proof(&challenge_of(&r), false))).await;
    assert_eq!(r.status, 403, "another key");
    assert!(thief.cookie("localhost", BOUND).is_none() || r.set_cookies().is_empty());
    // The browser with the key goes on.
    assert_eq!(renew(&app, &mut b, &mut device).await.status, 200);
    assert_eq!(app.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200);
}

#[tokio::test]
async fn every_refusal_of_registration_and_refresh() {
    let app = app(&[("DBSC_COOKIE_SECONDS", "60")]).await;
    let (mut b, mut device) = (Browser::new(), Device::new());
    app.sign_in(&mut b, "demo", "demo").await;
    let offer = app.api(&mut b, Method::GET, "/auth/session", None, &[]).await;
    let reg = param(offer.header("secure-session-registration").unwrap(), "challenge");
    // Registration: signed by another key than the one it carries; no key; no proof at all.
    let forged = Device::new();
    let r = post(&app, &mut b, "/auth/dbsc/register", Some(&forged.proof_claiming(&reg, Some(device.jwk())))).await;
    assert_eq!((r.status, r.problem_code()), (403, "invalid_session_proof".into()), "wrong key");
    let r = post(&app, &mut b, "/auth/dbsc/register", Some(&device.proof(&reg, false))).await;
    assert_eq!(r.status, 403, "no key in the proof");
    let r = post(&app, &mut b, "/auth/dbsc/register", None).await;
    assert_eq!(r.status, 403);
    // Another session's registration challenge (a second browser signed in as the same user).
    let mut other = Browser::new();
    app.sign_in(&mut other, "demo", "demo").await;
    let other_offer = app.api(&mut other, Method::GET, "/auth/session", None, &[]).await;
    let other_reg = param(other_offer.header("secure-session-registration").unwrap(), "challenge");
    let r = post(&app, &mut b, "/auth/dbsc/register", Some(&device.proof(&other_reg, true))).await;
    assert_eq!(r.status, 403, "a challenge of another session");
    // The right one binds; the same challenge again (replay) and a new key (a thief's rebinding) do not.
    let r = post(&app, &mut b, "/auth/dbsc/register", Some(&device.proof(&reg, true))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    device.challenge = Some(challenge_of(&r));
    let r = post(&app, &mut b, "/auth/dbsc/register", Some(&forged.proof(&reg, true))).await;
    assert_eq!((r.status, r.problem_code()), (403, "invalid_session_proof".into()), "bound once, for good");

    // Refresh: wrong key, another session's challenge, an expired challenge, a replay.
    let cached = device.challenge.clone().unwrap();
    let r = post(&app, &mut b, "/auth/dbsc/refresh", Some(&forged.proof(&cached, false))).await;
    assert_eq!(r.status, 403, "wrong key");
    let r = post(&app, &mut b, "/auth/dbsc/refresh", Some(&device.proof(&other_reg, false))).await;
    assert_eq!(r.status, 403, "another session's challenge");
    let secret = SessionSecret::parse(&b.cookie("localhost", SESSION).unwrap()).unwrap();
    let id = app.api(&mut b, Method::GET, "/auth/sessions", None, &[]).await.json()["sessions"][0]["id"].clone();
    let old = UnixMillis::from_millis(UnixMillis::now().millis() - 3_600_000);
    let expired = Challenge::issue(&secret, id.as_str().unwrap(), Purpose::Refresh, old);
    let r = post(&app, &mut b, "/auth/dbsc/refresh", Some(&device.proof(&expired, false))).await;
    assert_eq!(r.status, 403, "an expired challenge");
    let replay = device.proof(&cached, false);
    assert_eq!(post(&app, &mut b, "/auth/dbsc/refresh", Some(&replay)).await.status, 200);
    let r = post(&app, &mut b, "/auth/dbsc/refresh", Some(&replay)).await;
    assert_eq!((r.status, r.problem_code()), (403, "invalid_session_proof".into()), "a challenge is spent once");
    assert!(r.set_cookies().is_empty(), "no bound cookie for a refused proof");
    // Downgrade: without the bound cookie the bound session is refused, whatever else the request carries.
    b.jar.get_mut("localhost").unwrap().remove(BOUND);
    let r = app.api(&mut b, Method::GET, "/auth/session", None, &[]).await;
    assert_eq!((r.status, r.problem_code()), (401, "bound_cookie_required".into()));
    assert!(r.set_cookies().is_empty(), "the session is kept: nothing is cleared");
}

#[tokio::test]
async fn signing_out_ends_the_dbsc_session_and_dbsc_off_offers_nothing() {
    let app = app(&[]).await;
    let (mut b, mut device) = (Browser::new(), Device::new());
    bind(&app, &mut b, &mut device).await;
    let logout = app.session_json(&mut b).await["logoutUrl"].as_str().unwrap().to_string();
    let r = b.get(&app.url(&logout)).await;
    assert_eq!(r.status, 302);
    let r = renew(&app, &mut b, &mut device).await;
    assert_eq!((r.status, r.json()), (200, json!({"continue": false})), "the browser ends its DBSC session");

    let off = app_without_dbsc().await;
    let mut b = Browser::new();
    off.sign_in(&mut b, "demo", "demo").await;
    let r = off.api(&mut b, Method::GET, "/auth/session", None, &[]).await;
    assert!(r.header("secure-session-registration").is_none(), "DBSC=false offers no registration");
    assert_eq!(off.api(&mut b, Method::GET, CUSTOMERS, None, &[]).await.status, 200, "unbound, as today");
}

async fn app_without_dbsc() -> TestApp {
    app(&[("DBSC", "false")]).await
}
