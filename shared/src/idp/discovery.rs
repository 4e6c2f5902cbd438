//! The discovery document: fetched lazily on first use, then cached for the life of the execution environment.

use super::{IdentityServer, transport_error};
use crate::error::BffError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl IdentityServer {
    /// The discovery document. A failure is not cached: the next call tries again.
    pub async fn discovery(&self) -> Result<&Discovery, BffError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
                let resp = self.http.get(&url).send().await.map_err(transport_error)?;
                if !resp.status().is_success() {
                    return Err(BffError::IdpUnavailable(format!("discovery answered {}", resp.status())));
                }
                let d: Discovery = resp.json().await.map_err(|e| {
                    BffError::IdpUnavailable(format!("discovery is not valid JSON: {}", e.without_url()))
                })?;
                if d.issuer != self.config.issuer.as_str() {
                    return Err(BffError::Misconfigured(format!(
                        "discovery issuer {} differs from configured {}",
                        d.issuer, self.config.issuer
                    )));
                }
                Ok(d)
            })
            .await
    }
}
