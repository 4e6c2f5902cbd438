//! Per-attempt secrets of a sign-in: `state`, `nonce` and the PKCE S256 verifier. 256 bits each, base64url.
//! Their `Debug` shows nothing: they must never reach a log line.

use crate::crypto::{b64url, random_bytes, sha256};

macro_rules! secret_string {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                Self(b64url(&random_bytes::<32>()))
            }
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        $crate::redacted_debug!($name);
    };
}

secret_string!(
    /// The `state` parameter. The store keys the pending login by its hash, never the value.
    State
);
secret_string!(
    /// The OIDC `nonce`, checked against the ID token.
    Nonce
);
secret_string!(
    /// The PKCE `code_verifier` (43 characters of base64url: within RFC 7636's 43..128).
    CodeVerifier
);

impl State {
    /// What the store keys a pending login by.
    pub fn store_key(&self) -> String {
        state_store_key(&self.0)
    }
}

/// The store key for a `state` value as received at the callback.
pub fn state_store_key(state: &str) -> String {
    format!("login#{}", b64url(&sha256(state.as_bytes())))
}

impl CodeVerifier {
    /// `code_challenge` for `code_challenge_method=S256`.
    pub fn challenge(&self) -> String {
        b64url(&sha256(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = CodeVerifier::from_stored("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(v.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn fresh_values_are_long_and_distinct() {
        let (a, b) = (State::generate(), State::generate());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(!format!("{a:?}").contains(a.expose()));
        // The nonce and the PKCE verifier: 256 bits, 43 base64url characters (RFC 7636 4.1: 43..128 unreserved).
        let (n, m) = (Nonce::generate(), Nonce::generate());
        assert_ne!(n, m);
        assert_eq!(n.expose().len(), 43);
        let (v, w) = (CodeVerifier::generate(), CodeVerifier::generate());
        assert_ne!(v, w);
        assert_eq!(v.expose().len(), 43);
        assert!(v.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(!format!("{v:?}").contains(v.expose()));
    }
}
