//! A session's token set, sealed for the store with AES-256-GCM under a key derived from the session cookie and
//! bound to the item's key. Only opened where a token is used.

use super::secrets::SessionSecret;
use crate::crypto::{open, seal};
use crate::idp::tokens::{AccessToken, IdToken, RefreshToken};
use serde::{Deserialize, Serialize};

/// The tokens of a session. `Debug` never shows them.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    #[serde(rename = "a")]
    pub access_token: AccessToken,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_with_their_cookie() {
        let s = SessionSecret::generate();
        let t = TokenSet {
            access_token: AccessToken::new("AT".into()),
            refresh_token: Some(RefreshToken::new("RT".into())),
            id_token: None,
        };
        let sealed = t.seal(&s);
        assert_eq!(TokenSet::open(&sealed, &s).unwrap().refresh_token.unwrap().expose(), "RT");
        assert!(TokenSet::open(&sealed, &SessionSecret::generate()).is_none());
        assert_eq!(format!("{t:?}"), "TokenSet(..)");
    }
}
