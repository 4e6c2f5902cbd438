//! A sign-in in progress. [`start`] draws fresh `state`, `nonce` and PKCE verifier, seals them with the returnUrl
//! under a [`BrowserBinding`] (a secret in a login cookie of the attempt's own, so tabs never collide) and stores
//! them for [`LOGIN_TTL`]. [`consume`] takes them back exactly once, and only for the browser that started it.
//! The pending login also records the browser's current session, if it has one (`/auth/login` is a same-site
//! navigation and carries the Strict session cookie; the callback, a cross-site one, does not), so that the callback
//! can end it.

use super::return_url::ReturnUrl;
use super::store::PendingLogins;
use crate::crypto::{b64url, open, seal};
use crate::error::BffError;
use crate::http::cookies;
use crate::idp::pkce::{CodeVerifier, Nonce, State, state_store_key};
use crate::instance::{Instance, IssuedBy};
use crate::session::secrets::{CookieSecret, SessionSecret};
use crate::time::UnixTime;
use lambda_http::http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a started sign-in may take.
pub const LOGIN_TTL: Duration = Duration::from_secs(600);

/// A login cookie's secret: binds a pending login to the browser that started it.
#[derive(Clone, Debug)]
pub struct BrowserBinding(pub CookieSecret);

impl BrowserBinding {
    pub fn generate() -> Self {
        Self(CookieSecret::generate())
    }
    pub fn parse(value: &str) -> Option<Self> {
        CookieSecret::parse(value).map(Self)
    }
    pub fn cookie_value(&self) -> String {
        self.0.cookie_value()
    }
    /// Stored beside the pending login; the callback's cookie must hash to it.
    pub fn binding_hash(&self) -> String {
        b64url(&self.0.derive("bff/login/binding"))
    }
    fn login_key(&self) -> [u8; 32] {
        self.0.derive("bff/login/seal-key")
    }
}

/// What the callback needs to finish a sign-in. Sealed under the browser binding: the table never holds a verifier.
#[derive(Clone)]
pub struct PendingLogin {
    pub verifier: CodeVerifier,
    pub nonce: Nonce,
    pub return_url: ReturnUrl,
    pub created_at: UnixTime,
    /// The session the browser had when it started signing in: the callback ends it.
    pub previous: Option<SessionSecret>,
    /// The ERP.net instance it signs in to, as it was then: only that instance's callback may finish it, and only
    /// while it is still the same issuer, client and API.
    pub issued_by: IssuedBy,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("return_url", &self.return_url).finish_non_exhaustive()
    }
}

/// The sealed form (short names: it travels in every pending-login item).
#[derive(Serialize, Deserialize)]
struct Wire {
    v: String,
    n: String,
    r: String,
    c: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    i: String,
}

impl PendingLogin {
    pub fn seal(&self, binding: &BrowserBinding, store_key: &str) -> Vec<u8> {
        let wire = Wire {
            v: self.verifier.expose().to_string(),
            n: self.nonce.expose().to_string(),
            r: self.return_url.as_str().to_string(),
            c: self.created_at.secs(),
            p: self.previous.as_ref().map(SessionSecret::cookie_value),
            i: self.issued_by.as_str().to_string(),
        };
        seal(&binding.login_key(), store_key.as_bytes(), &serde_json::to_vec(&wire).expect("serialize"))
    }

    pub fn open(sealed: &[u8], binding: &BrowserBinding, store_key: &str) -> Option<Self> {
        let plain = open(&binding.login_key(), store_key.as_bytes(), sealed).ok()?;
        let w: Wire = serde_json::from_slice(&plain).ok()?;
        Some(Self {
            verifier: CodeVerifier::from_stored(w.v),
            nonce: Nonce::from_stored(w.n),
            return_url: ReturnUrl::parse_or_root(Some(&w.r)),
            created_at: UnixTime::from_secs(w.c),
            previous: w.p.as_deref().and_then(SessionSecret::parse),
            issued_by: IssuedBy::from_stored(w.i),
        })
    }
}

/// A started sign-in: what goes to the authorize endpoint and into the login cookie.
pub struct Attempt {
    pub state: State,
    pub nonce: Nonce,
    pub verifier: CodeVerifier,
    pub binding: BrowserBinding,
}

impl Attempt {
    /// The name of this attempt's login cookie.
    pub fn cookie_name(&self) -> String {
        cookies::login_name(self.state.expose())
    }
}

/// Starts a sign-in that returns to `return_url`: fresh secrets, sealed and stored under the hash of `state`, with
/// the browser's `previous` session (sealed too: the table never holds a usable cookie).
pub async fn start(
    logins: &PendingLogins,
    instance: &Instance,
    return_url: ReturnUrl,
    previous: Option<SessionSecret>,
) -> Result<Attempt, BffError> {
    let attempt = Attempt {
        state: State::generate(),
        nonce: Nonce::generate(),
        verifier: CodeVerifier::generate(),
        binding: BrowserBinding::generate(),
    };
    let created_at = UnixTime::now();
    let pending = PendingLogin {
        verifier: attempt.verifier.clone(),
        nonce: attempt.nonce.clone(),
        return_url,
        created_at,
        previous,
        issued_by: instance.issued_by.clone(),
    };
    let key = attempt.state.store_key();
    let sealed = pending.seal(&attempt.binding, &key);
    logins.put(&key, &attempt.binding.binding_hash(), sealed, created_at, created_at + LOGIN_TTL).await?;
    Ok(attempt)
}

const UNKNOWN: &str = "This sign-in is unknown, already completed, or was started in another browser.";

/// A consumed pending login, and the name of its (now spent) login cookie.
pub struct Consumed {
    pub pending: PendingLogin,
    pub cookie_name: String,
}

/// Takes the pending login named by `state` exactly once, only with the login cookie of the browser that started it,
/// only on the host of the instance it started on, and only within [`LOGIN_TTL`].
pub async fn consume(
    logins: &PendingLogins,
    instance: &Instance,
    headers: &HeaderMap,
    state: &str,
) -> Result<Consumed, BffError> {
    if state.is_empty() || state.len() > 512 {
        return Err(BffError::login_failed("invalid_state", UNKNOWN));
    }
    let cookie_name = cookies::login_name(state);
    let binding = cookies::read(headers, &cookie_name)
        .map_err(|_| BffError::InvalidRequest("the login cookie was sent more than once"))?
        .and_then(BrowserBinding::parse)
        .ok_or_else(|| {
            BffError::login_failed(
                "login_not_bound",
                "This browser has no sign-in in progress (it may have taken over 10 minutes).",
            )
        })?;
    let key = state_store_key(state);
    let pending = logins
        .take(&key, &binding.binding_hash())
        .await?
        .and_then(|sealed| PendingLogin::open(&sealed, &binding, &key))
        .filter(|p| p.issued_by == instance.issued_by)
        .ok_or_else(|| BffError::login_failed("invalid_state", UNKNOWN))?;
    if UnixTime::now() > pending.created_at + LOGIN_TTL {
        return Err(BffError::login_failed("login_expired", "The sign-in took too long. Start again."));
    }
    Ok(Consumed { pending, cookie_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_login_opens_only_for_its_browser_and_key() {
        let binding = BrowserBinding::generate();
        let pending = PendingLogin {
            verifier: CodeVerifier::generate(),
            nonce: Nonce::generate(),
            return_url: ReturnUrl::parse("/orders?id=7").unwrap(),
            created_at: UnixTime::from_secs(1_800_000_000),
            previous: Some(SessionSecret::generate()),
            issued_by: IssuedBy::from_stored("acme-1".into()),
        };
        let sealed = pending.seal(&binding, "login#k");
        let opened = PendingLogin::open(&sealed, &binding, "login#k").unwrap();
        assert_eq!(opened.verifier, pending.verifier);
        assert_eq!(opened.nonce, pending.nonce);
        assert_eq!(opened.return_url, pending.return_url);
        assert_eq!(opened.created_at, pending.created_at);
        assert_eq!(opened.issued_by, pending.issued_by);
        let previous = pending.previous.as_ref().unwrap();
        assert_eq!(opened.previous.unwrap().key(), previous.key());
        assert!(!sealed.windows(43).any(|w| w == previous.cookie_value().as_bytes()), "sealed, not in clear");
        assert!(PendingLogin::open(&sealed, &BrowserBinding::generate(), "login#k").is_none());
        assert!(PendingLogin::open(&sealed, &binding, "login#other").is_none());
        assert!(!format!("{pending:?}").contains(pending.verifier.expose()));
        assert!(!format!("{pending:?}").contains(&previous.cookie_value()));
    }
}
