//! The identity server as the BFF sees it: one [`IdentityServer`] per ERP.net instance, owning its HTTP client,
//! its client registration (config + [`client_secret`]) and its caches: [`discovery`], the [`jwks`]. It validates
//! ID tokens ([`id_token`]) and back-channel logout tokens ([`logout_token`]), talks to the [`token_endpoint`] (exchange, refresh, revoke) and builds the browser's
//! URLs to it ([`authorize`]). The tokens it issues are types ([`tokens`]) that never print.

pub mod authorize;
pub mod client_secret;
pub mod discovery;
pub mod id_token;
mod jwks;
pub mod logout_token;
pub mod pkce;
pub mod token_endpoint;
pub mod tokens;

use crate::config::ClientSecret;
use crate::config::IdpConfig;
use crate::error::BffError;
use discovery::Discovery;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub struct IdentityServer {
    http: reqwest::Client,
    config: IdpConfig,
    secret: Mutex<Option<(ClientSecret, Instant)>>,
    secret_max_age: Option<Duration>,
    discovery: OnceCell<Discovery>,
    jwks: jwks::JwksCache,
}

/// Maps a transport failure of a call to the identity server.
fn transport_error(e: reqwest::Error) -> BffError {
    if e.is_timeout() { BffError::IdpTimeout } else { BffError::IdpUnavailable(e.without_url().to_string()) }
}

impl IdentityServer {
    /// The HTTP client for identity servers (and the Secrets Manager extension): no redirects, the configured
    /// timeout. One per execution environment, shared by every instance's [`IdentityServer`].
    pub fn http_client(config: &IdpConfig, tls: rustls::ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(3)))
            .build()
    }

    /// One identity server. `secret_max_age`: how long its client secret is kept (`None`: for good).
    pub fn new(config: IdpConfig, http: reqwest::Client, secret_max_age: Option<Duration>) -> Self {
        Self {
            http,
            config,
            secret: Mutex::new(None),
            secret_max_age,
            discovery: OnceCell::new(),
            jwks: Default::default(),
        }
    }

    pub fn issuer(&self) -> &str {
        self.config.issuer.as_str()
    }

    pub fn config(&self) -> &IdpConfig {
        &self.config
    }
}

/// Whether a token's unverified claims could be this identity server's for us: `iss` is its issuer and `aud` (a
/// string or an array) names our client id. Checked before any key is looked up, so a token that cannot be ours
/// never costs a JWKS fetch; the signature check repeats both on the verified claims.
fn addressed_to_us(config: &IdpConfig, claims: &serde_json::Map<String, serde_json::Value>) -> Result<(), Unaddressed> {
    use serde_json::Value;
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(Unaddressed::Issuer);
    }
    let ours = |v: &Value| v.as_str() == Some(config.client_id.as_str());
    match claims.get("aud") {
        Some(Value::Array(auds)) if auds.iter().any(ours) => Ok(()),
        Some(aud) if ours(aud) => Ok(()),
        _ => Err(Unaddressed::Audience),
    }
}

/// Why a token cannot be for us ([`addressed_to_us`]).
#[derive(Debug, PartialEq, Eq)]
enum Unaddressed {
    Issuer,
    Audience,
}

/// A JWS's payload, decoded but NOT verified: only to refuse, before a key is looked up, a token that cannot be
/// ours. `None`: not three base64url parts with a JSON object in the middle.
fn unverified_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else { return None };
    let bytes = crate::crypto::b64url_decode(payload)?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn idp() -> IdpConfig {
        let env = [
            ("ISSUER", "https://acme.my.erp.net/id"),
            ("API_BASE", "https://acme.my.erp.net/api"),
            ("CLIENT_ID", "partner.app/bff"),
            ("CLIENT_SECRET", "s"),
            ("PUBLIC_ORIGIN", "https://app.example.com"),
            ("SESSION_TABLE", "t"),
        ];
        let config = Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        config.idp
    }

    fn claims(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_our_issuer_and_client_id_are_addressed_to_us() {
        let idp = idp();
        let (iss, aud) = ("https://acme.my.erp.net/id", "partner.app/bff");
        assert_eq!(addressed_to_us(&idp, &claims(json!({"iss": iss, "aud": aud}))), Ok(()));
        assert_eq!(addressed_to_us(&idp, &claims(json!({"iss": iss, "aud": ["other", aud]}))), Ok(()));
        for (c, why) in [
            (json!({"iss": "https://evil.example/id", "aud": aud}), Unaddressed::Issuer),
            (json!({"iss": "https://acme.my.erp.net/id/", "aud": aud}), Unaddressed::Issuer),
            (json!({"aud": aud}), Unaddressed::Issuer),
            (json!({"iss": iss, "aud": "other"}), Unaddressed::Audience),
            (json!({"iss": iss, "aud": ["other"]}), Unaddressed::Audience),
            (json!({"iss": iss, "aud": [["partner.app/bff"]]}), Unaddressed::Audience),
            (json!({"iss": iss}), Unaddressed::Audience),
        ] {
            assert_eq!(addressed_to_us(&idp, &claims(c.clone())), Err(why), "{c}");
        }
    }

    #[test]
    fn unverified_claims_are_the_middle_part() {
        use crate::crypto::b64url;
        let token = format!("{}.{}.sig", b64url(br#"{"alg":"RS256"}"#), b64url(br#"{"iss":"x"}"#));
        assert_eq!(unverified_claims(&token), Some(claims(json!({"iss": "x"}))));
        for bad in ["", "a.b", "a.b.c.d", &format!("h.{}.s", b64url(b"[1]")), "h.!!.s", &format!("{token}.x")] {
            assert_eq!(unverified_claims(bad), None, "{bad}");
        }
    }
}
