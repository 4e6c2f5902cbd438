//! The tokens the identity server issues, as types: each holds its value privately, exposes it only on request
//! (`expose`), and prints as `Name(..)`, so no token can reach a log line or a body by accident.

use serde::{Deserialize, Serialize};

macro_rules! token {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                Self(value)
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        $crate::redacted_debug!($name);
    };
}

token!(
    /// The bearer token for the ERP.net API.
    AccessToken
);
token!(
    /// The refresh token. ERP.net rotates it on every use and has no grace window.
    RefreshToken
);
token!(
    /// The ID token (a JWT): validated at sign-in, sent back as `id_token_hint` at logout.
    IdToken
);

#[cfg(test)]
mod tests {
    #[test]
    fn debug_redacts() {
        let t = super::RefreshToken::new("rt-secret".into());
        assert_eq!(format!("{t:?}"), "RefreshToken(..)");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"rt-secret\"");
    }
}
