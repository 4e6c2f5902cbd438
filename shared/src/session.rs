//! Sessions and pending logins as domain values, and how they are sealed for the store.
//!
//! The browser holds a 256-bit secret in a cookie ([`SessionSecret`]). Everything else derives from it:
//! the store key (a keyed hash: the table never holds a usable cookie), the AES-256-GCM key that seals the tokens
//! (so a copy of the table alone yields no usable token), and the logout token (`sid`). The same scheme binds
//! pending logins to a browser ([`BrowserBinding`]).

use crate::crypto::{b64url, b64url_decode, derive, open, random_bytes, seal};
use crate::return_url::ReturnUrl;
use serde::{Deserialize, Serialize};

/// A 256-bit secret held only by the browser, in an HttpOnly cookie. `Debug` never shows it.
#[derive(Clone)]
pub struct CookieSecret([u8; 32]);

impl CookieSecret {
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// Only exactly 32 bytes of base64url are a secret; anything else is not ours.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() != 43 {
            return None;
        }
        let bytes = b64url_decode(value)?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn cookie_value(&self) -> String {
        b64url(&self.0)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        derive(&self.0, label)
    }
}

impl std::fmt::Debug for CookieSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieSecret(..)")
    }
}

/// The session cookie's secret.
#[derive(Clone, Debug)]
pub struct SessionSecret(pub CookieSecret);

/// Where a session lives in the store: a keyed hash of the cookie secret. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionSecret {
    pub fn generate() -> Self {
        Self(CookieSecret::generate())
    }
    pub fn parse(value: &str) -> Option<Self> {
        CookieSecret::parse(value).map(Self)
    }
    pub fn cookie_value(&self) -> String {
        self.0.cookie_value()
    }
    pub fn key(&self) -> SessionKey {
        SessionKey(format!("session#{}", b64url(&self.0.derive("bff/session/store-key"))))
    }
    fn token_key(&self) -> [u8; 32] {
        self.0.derive("bff/session/token-key")
    }
    /// The `sid` that `/auth/logout` requires: derived, never stored.
    pub fn logout_token(&self) -> String {
        b64url(&self.0.derive("bff/session/logout")[..16])
    }
}

/// The tokens of a session. `Debug` never shows them.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    #[serde(rename = "a")]
    pub access_token: String,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSet(..)")
    }
}

impl TokenSet {
    /// AES-256-GCM under the cookie-derived key, bound to the item's key.
    pub fn seal(&self, secret: &SessionSecret) -> Vec<u8> {
        let key = secret.key();
        seal(&secret.token_key(), key.as_str().as_bytes(), &serde_json::to_vec(self).expect("serialize"))
    }

    pub fn open(sealed: &[u8], secret: &SessionSecret) -> Option<Self> {
        let key = secret.key();
        let plain = open(&secret.token_key(), key.as_str().as_bytes(), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// A session as the handlers see it (tokens still sealed: only opened where they are used).
#[derive(Clone, Debug)]
pub struct Session {
    pub key: SessionKey,
    /// The user's stable key (ERP.net's `id` claim; `sub` when absent).
    pub user_id: String,
    /// Display claims for `/auth/session` (never tokens).
    pub claims: serde_json::Map<String, serde_json::Value>,
    pub sealed_tokens: Vec<u8>,
    /// Epoch seconds.
    pub access_expires_at: i64,
    /// The access token's lifetime when issued (caps the proactive-refresh skew at half of it).
    pub access_lifetime: i64,
    pub created_at: i64,
    pub last_seen: i64,
    pub absolute_expires_at: i64,
    /// Bumped by every write of a new token set; refresh coordination conditions on it.
    pub version: i64,
    /// Epoch milliseconds until which a refresher holds the lease (0: none).
    pub lease_until_ms: i64,
}

impl Session {
    pub fn idle_expires_at(&self, idle_timeout: i64) -> i64 {
        self.last_seen + idle_timeout
    }

    /// When the session ends if nothing happens: the earlier of idle and absolute expiry. Also the item's TTL.
    pub fn expires_at(&self, idle_timeout: i64) -> i64 {
        self.idle_expires_at(idle_timeout).min(self.absolute_expires_at)
    }

    pub fn is_expired(&self, now: i64, idle_timeout: i64) -> bool {
        now >= self.expires_at(idle_timeout)
    }
}

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
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    #[serde(rename = "v")]
    pub verifier: String,
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "r")]
    pub return_url: String,
    #[serde(rename = "c")]
    pub created_at: i64,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("return_url", &self.return_url).finish_non_exhaustive()
    }
}

impl PendingLogin {
    pub fn seal(&self, binding: &BrowserBinding, store_key: &str) -> Vec<u8> {
        seal(&binding.login_key(), store_key.as_bytes(), &serde_json::to_vec(self).expect("serialize"))
    }

    pub fn open(sealed: &[u8], binding: &BrowserBinding, store_key: &str) -> Option<Self> {
        let plain = open(&binding.login_key(), store_key.as_bytes(), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    pub fn return_url(&self) -> ReturnUrl {
        ReturnUrl::parse_or_root(Some(&self.return_url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_secret_parses_only_its_own_shape() {
        let s = SessionSecret::generate();
        let v = s.cookie_value();
        assert_eq!(v.len(), 43);
        assert_eq!(SessionSecret::parse(&v).unwrap().key(), s.key());
        for bad in
            ["", "abc", &"A".repeat(44), &format!("{}!", &v[..42]), "../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaa"]
        {
            assert!(SessionSecret::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn key_and_logout_token_do_not_reveal_the_secret() {
        let s = SessionSecret::generate();
        let v = s.cookie_value();
        assert!(!s.key().as_str().contains(&v));
        assert_ne!(s.logout_token(), v);
        assert!(!format!("{s:?} {:?}", s.key()).contains(&v));
    }

    #[test]
    fn tokens_open_only_with_their_cookie() {
        let s = SessionSecret::generate();
        let t = TokenSet { access_token: "AT".into(), refresh_token: Some("RT".into()), id_token: None };
        let sealed = t.seal(&s);
        assert_eq!(TokenSet::open(&sealed, &s).unwrap().refresh_token.as_deref(), Some("RT"));
        assert!(TokenSet::open(&sealed, &SessionSecret::generate()).is_none());
        assert_eq!(format!("{t:?}"), "TokenSet(..)");
    }

    #[test]
    fn expiry_is_the_earlier_of_idle_and_absolute() {
        let mut s = Session {
            key: SessionKey::from_stored("k".into()),
            user_id: "u".into(),
            claims: Default::default(),
            sealed_tokens: vec![],
            access_expires_at: 0,
            access_lifetime: 3600,
            created_at: 0,
            last_seen: 100,
            absolute_expires_at: 1000,
            version: 1,
            lease_until_ms: 0,
        };
        assert_eq!(s.expires_at(50), 150);
        assert!(s.is_expired(150, 50) && !s.is_expired(149, 50));
        s.last_seen = 990;
        assert_eq!(s.expires_at(50), 1000);
    }
}
