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
