//! Device-bound sessions (W3C DBSC): a session whose browser registered a key needs, beside its session cookie, a
//! short-lived bound cookie that only that key can renew. A cookie jar copied to another machine stops working when
//! the bound cookie expires (`DBSC_COOKIE_SECONDS`, 10 minutes).
//!
//! Everything here is pure computation under keys derived from the session cookie's secret (so the table alone
//! forges nothing, and the hot path checks the bound cookie without another read):
//! - the bound cookie ([`BoundCookie`]): AES-256-GCM over the session's public id and an expiry;
//! - challenges ([`Challenge`]): sealed the same way, with what they are for, the session and when they were
//!   issued; single use is the store's conditional write (`Sessions::bind`, `Sessions::spend_challenge`);
//! - the browser's proofs ([`proof`]): ES256 JWTs, verified with aws-lc-rs.
//!
//! The flow ([`flow`]): `/auth/session` offers registration (the `Secure-Session-Registration` header) to an unbound
//! session, `POST /auth/dbsc/register` binds the key, `POST /auth/dbsc/refresh` renews the bound cookie.

pub mod flow;
pub mod proof;

use super::Session;
use super::secrets::SessionSecret;
use crate::crypto::{b64url, b64url_decode, open, seal};
use crate::http::cookies;
use crate::time::{UnixMillis, UnixTime};
use lambda_http::http::HeaderMap;
use std::time::Duration;

/// Where the browser registers its key and renews the bound cookie (the session function serves both).
pub const REGISTER_PATH: &str = "/auth/dbsc/register";
pub const REFRESH_PATH: &str = "/auth/dbsc/refresh";
/// The proof header (a JWT, as an sf-string) and the session-id header the browser sends.
pub const RESPONSE_HEADER: &str = "secure-session-response";
pub const SESSION_ID_HEADER: &str = "sec-secure-session-id";
pub const REGISTRATION_HEADER: &str = "secure-session-registration";
pub const CHALLENGE_HEADER: &str = "secure-session-challenge";
/// How long after sign-in an unbound session is still offered registration: a browser with DBSC registers on its
/// first `/auth/session`; a cookie stolen later cannot bind the session to the thief's key.
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(600);

/// The key a session is bound to (an uncompressed P-256 point), and the issue time of the last challenge spent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub public_key: Vec<u8>,
    pub spent: UnixMillis,
}

/// What a challenge may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Register,
    Refresh,
}

impl Purpose {
    fn tag(self) -> u8 {
        match self {
            Purpose::Register => b'g',
            Purpose::Refresh => b'f',
        }
    }
}

/// A challenge as issued: sealed under the session's secret, naming its purpose, its session and its issue time.
pub struct Challenge {
    pub issued: UnixMillis,
    pub purpose: Purpose,
}

const CHALLENGE_AAD: &[u8] = b"bff/dbsc/challenge";
const COOKIE_AAD: &[u8] = b"bff/dbsc/bound-cookie";

fn challenge_key(secret: &SessionSecret) -> [u8; 32] {
    secret.0.derive("bff/dbsc/challenge")
}

fn cookie_key(secret: &SessionSecret) -> [u8; 32] {
    secret.0.derive("bff/dbsc/bound-cookie")
}

impl Challenge {
    /// A fresh challenge for the session `id`: opaque to the browser, different every time.
    pub fn issue(secret: &SessionSecret, id: &str, purpose: Purpose, now: UnixMillis) -> String {
        let mut plain = vec![purpose.tag()];
        plain.extend_from_slice(&now.millis().to_be_bytes());
        plain.extend_from_slice(id.as_bytes());
        b64url(&seal(&challenge_key(secret), CHALLENGE_AAD, &plain))
    }

    /// The challenge `value`, if this session's secret issued it for the session `id` and it has not expired.
    pub fn open(secret: &SessionSecret, id: &str, value: &str, ttl: Duration, now: UnixMillis) -> Option<Self> {
        let plain = open(&challenge_key(secret), CHALLENGE_AAD, &b64url_decode(value)?).ok()?;
        let (&tag, rest) = plain.split_first()?;
        let (issued, sid) = rest.split_at_checked(8)?;
        let issued = UnixMillis::from_millis(i64::from_be_bytes(issued.try_into().ok()?));
        let purpose = [Purpose::Register, Purpose::Refresh].into_iter().find(|p| p.tag() == tag)?;
        let live = now.millis() >= issued.millis() && now.millis() - issued.millis() < ttl.as_millis() as i64;
        (sid == id.as_bytes() && live).then_some(Challenge { issued, purpose })
    }
}

/// The bound cookie: proof, renewed by the key, that this browser holds the session's key.
pub struct BoundCookie;

impl BoundCookie {
    /// A new bound cookie for `session`, valid until `expires`.
    pub fn value(secret: &SessionSecret, session: &Session, expires: UnixTime) -> String {
        let mut plain = expires.secs().to_be_bytes().to_vec();
        plain.extend_from_slice(session.id.as_bytes());
        b64url(&seal(&cookie_key(secret), COOKIE_AAD, &plain))
    }

    /// Whether the request carries a live bound cookie of this session (pure computation: no read).
    pub fn is_valid(headers: &HeaderMap, secret: &SessionSecret, session: &Session, now: UnixTime) -> bool {
        let Ok(Some(value)) = cookies::read(headers, cookies::BOUND) else { return false };
        let Some(plain) = b64url_decode(value).and_then(|v| open(&cookie_key(secret), COOKIE_AAD, &v).ok()) else {
            return false;
        };
        let Some((exp, id)) = plain.split_at_checked(8) else { return false };
        let exp = i64::from_be_bytes(exp.try_into().expect("8 bytes"));
        id == session.id.as_bytes() && now.secs() < exp
    }
}

/// Whether a request may use `session`: an unbound session always (a browser without DBSC), a bound one only with
/// its live bound cookie. A bound session never goes back to unbound.
pub fn admits(headers: &HeaderMap, secret: &SessionSecret, session: &Session, now: UnixTime) -> bool {
    session.binding.is_none() || BoundCookie::is_valid(headers, secret, session, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    pub(crate) fn session(id: &str) -> Session {
        let mut s = crate::session::tests::sample();
        s.id = id.into();
        s
    }

    fn with_bound(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_str(&format!("{}={value}", cookies::BOUND)).unwrap());
        h
    }

    #[test]
    fn bound_cookie_opens_only_for_its_session_and_until_it_expires() {
        let (secret, s) = (SessionSecret::generate(), session("s1"));
        let now = UnixTime::from_secs(1_000);
        let v = BoundCookie::value(&secret, &s, now + Duration::from_secs(60));
        assert!(BoundCookie::is_valid(&with_bound(&v), &secret, &s, now));
        assert!(!BoundCookie::is_valid(&with_bound(&v), &secret, &s, now + Duration::from_secs(60)), "expired");
        assert!(!BoundCookie::is_valid(&with_bound(&v), &SessionSecret::generate(), &s, now), "other secret");
        assert!(!BoundCookie::is_valid(&with_bound(&v), &secret, &session("s2"), now), "other session");
        assert!(!BoundCookie::is_valid(&with_bound("garbage"), &secret, &s, now));
        assert!(!BoundCookie::is_valid(&HeaderMap::new(), &secret, &s, now));
    }

    #[test]
    fn unbound_sessions_are_admitted_bound_ones_need_the_cookie() {
        let (secret, mut s) = (SessionSecret::generate(), session("s1"));
        let now = UnixTime::from_secs(1_000);
        assert!(admits(&HeaderMap::new(), &secret, &s, now));
        s.binding = Some(Binding { public_key: vec![4; 65], spent: UnixMillis::NEVER });
        assert!(!admits(&HeaderMap::new(), &secret, &s, now));
        let v = BoundCookie::value(&secret, &s, now + Duration::from_secs(1));
        assert!(admits(&with_bound(&v), &secret, &s, now));
    }

    #[test]
    fn challenges_are_bound_to_session_purpose_and_time() {
        let (secret, s) = (SessionSecret::generate(), session("s1"));
        let (t0, ttl) = (UnixMillis::from_millis(5_000), Duration::from_secs(10));
        let c = Challenge::issue(&secret, &s.id, Purpose::Refresh, t0);
        let opened = Challenge::open(&secret, &s.id, &c, ttl, t0).unwrap();
        assert_eq!((opened.purpose, opened.issued), (Purpose::Refresh, t0));
        assert!(Challenge::open(&secret, &s.id, &c, ttl, UnixMillis::from_millis(15_000)).is_none(), "expired");
        assert!(Challenge::open(&secret, "s2", &c, ttl, t0).is_none(), "another session's");
        assert!(Challenge::open(&SessionSecret::generate(), &s.id, &c, ttl, t0).is_none());
        assert_ne!(c, Challenge::issue(&secret, &s.id, Purpose::Refresh, t0), "never the same twice");
    }
}
