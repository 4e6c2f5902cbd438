//! The DBSC exchanges, as the routes answer them:
//! - [`offer`]: the `Secure-Session-Registration` header `/auth/session` adds for an unbound session in its first
//!   [`super::REGISTRATION_WINDOW`] (the first same-site answer: the browser's registration request then carries
//!   the `SameSite=Strict` session cookie, which the callback's cross-site navigation does not);
//! - [`register`]: the proof over a registration challenge binds the key (one conditional write);
//! - [`refresh`]: a proof over a refresh challenge, verified with the stored key, spends it (one conditional
//!   write) and sets a new bound cookie; without one, 403 and a fresh challenge. A session that is gone, ended or
//!   not bound answers `{"continue": false}`, which ends the browser's DBSC session.
//!
//! Every answer that sets a bound cookie carries the next refresh challenge, so a renewal is one request: one read
//! (the session) and one conditional write.

use super::proof::{self, Proof};
use super::{BoundCookie, Challenge, Purpose};
use super::{CHALLENGE_HEADER, REFRESH_PATH, REGISTER_PATH, RESPONSE_HEADER, SESSION_ID_HEADER};
use crate::config::DbscConfig;
use crate::error::BffError;
use crate::http::cookies;
use crate::http::respond::{json, with_cookies};
use crate::session::Session;
use crate::session::secrets::SessionSecret;
use crate::session::store::Sessions;
use crate::time::{UnixMillis, UnixTime};
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::json;

/// The registration header for `session`, when it should be offered one: DBSC on, not bound, signed in within the
/// registration window. Costs nothing: the challenge is sealed, not stored.
pub fn offer(cfg: &DbscConfig, secret: &SessionSecret, session: &Session, now: UnixTime) -> Option<HeaderValue> {
    if !cfg.enabled || session.binding.is_some() || now.since(session.created_at) >= super::REGISTRATION_WINDOW {
        return None;
    }
    let challenge = Challenge::issue(secret, &session.id, Purpose::Register, UnixMillis::now());
    HeaderValue::from_str(&format!("(ES256);path=\"{REGISTER_PATH}\";challenge=\"{challenge}\"")).ok()
}

/// `POST /auth/dbsc/register`: the browser's proof over our registration challenge binds its key to the session;
/// the answer is the session configuration and the first bound cookie.
pub async fn register(
    sessions: &Sessions,
    cfg: &DbscConfig,
    origin: &str,
    (secret, session): (&SessionSecret, &Session),
    headers: &HeaderMap,
) -> Result<Response<Body>, BffError> {
    if !cfg.enabled {
        return Err(BffError::NotFound("Device-bound sessions are off (DBSC)."));
    }
    if session.binding.is_some() {
        return Err(BffError::InvalidSessionProof("this session is already bound to a key"));
    }
    let raw = proof_header(headers).ok_or(BffError::InvalidSessionProof("no Secure-Session-Response"))?;
    let proof = proof::verify_registration(raw).map_err(refused)?;
    let now = UnixMillis::now();
    let challenge = Challenge::open(secret, &session.id, &proof.jti, cfg.challenge_ttl(), now)
        .filter(|c| c.purpose == Purpose::Register)
        .ok_or(BffError::InvalidSessionProof("not a live registration challenge of this session"))?;
    if !sessions.bind(&session.key, &proof.key, challenge.issued).await? {
        return Err(BffError::InvalidSessionProof("this session is gone or already bound"));
    }
    tracing::info!("session bound to a device key");
    Ok(issue(cfg, origin, secret, session))
}

/// `POST /auth/dbsc/refresh`: a new bound cookie for a proof over a live refresh challenge, signed by the session's
/// key; else 403 with a fresh challenge (the browser signs it and asks again).
pub async fn refresh(
    sessions: &Sessions,
    cfg: &DbscConfig,
    origin: &str,
    current: Option<(&SessionSecret, &Session)>,
    headers: &HeaderMap,
) -> Result<Response<Body>, BffError> {
    let asked = headers.get(SESSION_ID_HEADER).and_then(|v| v.to_str().ok()).map(|v| v.trim().trim_matches('"'));
    let (secret, session, key) = match current {
        Some((secret, s)) if asked.is_none_or(|id| id == s.id) => match &s.binding {
            Some(b) => (secret, s, b),
            None => return Ok(ended(headers)),
        },
        _ => return Ok(ended(headers)),
    };
    let now = UnixMillis::now();
    let spent = match proof_header(headers).map(|raw| proof::verify_refresh(raw, &key.public_key)) {
        None => None,
        Some(Err(why)) => {
            tracing::info!(reason = ?why, "DBSC refresh proof refused");
            None
        }
        Some(Ok(Proof { jti, .. })) => Challenge::open(secret, &session.id, &jti, cfg.challenge_ttl(), now)
            .filter(|c| c.purpose == Purpose::Refresh && c.issued.millis() > key.spent.millis()),
    };
    match spent {
        Some(c) if sessions.spend_challenge(&session.key, c.issued).await? => {
            tracing::info!("bound cookie renewed");
            Ok(issue(cfg, origin, secret, session))
        }
        _ => Ok(challenge(secret, session)),
    }
}

/// 403 with a fresh refresh challenge for this session.
fn challenge(secret: &SessionSecret, session: &Session) -> Response<Body> {
    let mut resp = BffError::InvalidSessionProof("sign this challenge with the session's key").to_response();
    resp.headers_mut().insert(CHALLENGE_HEADER, next_challenge(secret, session));
    resp
}

fn next_challenge(secret: &SessionSecret, session: &Session) -> HeaderValue {
    let c = Challenge::issue(secret, &session.id, Purpose::Refresh, UnixMillis::now());
    HeaderValue::from_str(&format!("\"{c}\";id=\"{}\"", session.id)).expect("base64url")
}

/// The session configuration, a new bound cookie and the next challenge.
fn issue(cfg: &DbscConfig, origin: &str, secret: &SessionSecret, session: &Session) -> Response<Body> {
    let value = BoundCookie::value(secret, session, UnixTime::now() + cfg.cookie_lifetime);
    let config = json!({
        "session_identifier": session.id,
        "refresh_url": REFRESH_PATH,
        "scope": {"origin": origin, "include_site": false},
        "credentials": [{"type": "cookie", "name": cookies::BOUND, "attributes": cookies::BOUND_ATTRIBUTES}],
    });
    let mut resp = with_cookies(json(StatusCode::OK, &config), [cookies::set_bound(value, cfg.cookie_lifetime)]);
    resp.headers_mut().insert(CHALLENGE_HEADER, next_challenge(secret, session));
    resp
}

/// `{"continue": false}`: the browser ends its DBSC session (signed out, ended elsewhere, or not bound).
fn ended(headers: &HeaderMap) -> Response<Body> {
    let mut clear = cookies::clear_ended(headers);
    clear.retain(|c| c.as_bytes().starts_with(cookies::BOUND.as_bytes()));
    with_cookies(json(StatusCode::OK, &json!({"continue": false})), clear)
}

fn proof_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(RESPONSE_HEADER).and_then(|v| v.to_str().ok())
}

fn refused(why: proof::Refused) -> BffError {
    tracing::info!(reason = ?why, "DBSC registration proof refused");
    BffError::InvalidSessionProof("the proof's signature, algorithm or key is not valid")
}
