//! The browser's secrets. The browser holds a 256-bit secret in a cookie ([`CookieSecret`]); everything else derives
//! from it: the store key (a keyed hash: the table never holds a usable cookie), the AES-256-GCM key that seals the
//! tokens (so a copy of the table alone yields no usable token), and the logout token (`sid`). The same scheme binds
//! pending logins to a browser (`login::pending::BrowserBinding`).

use crate::crypto::{b64url, b64url_decode, derive, random_bytes};

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

    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
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
    pub(crate) fn token_key(&self) -> [u8; 32] {
        self.0.derive("bff/session/token-key")
    }
    /// The value of the script-readable hint cookie: an opaque generation (derived: it opens nothing, and it changes
    /// with every new session) and the absolute expiry, `<generation>.<epoch seconds>`.
    pub fn hint(&self, expires: crate::time::UnixTime) -> String {
        format!("{}.{}", b64url(&self.0.derive("bff/session/hint")[..9]), expires.secs())
    }
    /// The `sid` that `/auth/logout` requires: derived, never stored.
    pub fn logout_token(&self) -> String {
        b64url(&self.0.derive("bff/session/logout")[..16])
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
        let hint = s.hint(crate::time::UnixTime::from_secs(1_800_000_000));
        assert!(hint.ends_with(".1800000000") && hint.len() == 12 + 11 && !v.contains(&hint[..12]), "{hint}");
        assert!(!format!("{s:?} {:?}", s.key()).contains(&v));
    }
}
