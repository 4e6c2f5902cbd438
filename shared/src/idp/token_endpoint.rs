//! The token endpoint: the code exchange (`client_secret_post` + PKCE + the exact redirect URI), the refresh grant,
//! and revocation. Failures are classified ([`TokenError`]) so callers can tell a dead grant from an outage. A
//! success is used only when its `token_type` is `Bearer` (RFC 6749 §5.1: required; §7.1: the client must not use
//! a token whose type it does not understand), compared case-insensitively (RFC 6750 §4 spells it `Bearer`).

use super::pkce::CodeVerifier;
use super::tokens::{AccessToken, IdToken, RefreshToken};
use super::{IdentityServer, transport_error};
use crate::error::BffError;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize, Debug)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// Checked by [`IdentityServer::token_request`]: only `Bearer` is used.
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_token: Option<RefreshToken>,
    #[serde(default)]
    pub id_token: Option<IdToken>,
}

impl TokenResponse {
    /// ERP.net says `expires_in` "can vary": trust it, default to an hour, never below a second.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in.unwrap_or(3600).max(1) as u64)
    }
}

/// How a token-endpoint call failed.
#[derive(Debug)]
pub enum TokenError {
    /// The IdP refused the grant (`invalid_grant`, …): the code or refresh token is dead.
    Rejected(String),
    /// The IdP refused *us* (`invalid_client`, `unauthorized_client`): an operator problem.
    Misconfigured(String),
    /// Transport failure, 5xx or garbage: try again later; nothing is lost.
    Unavailable(BffError),
    /// A success we must not use: its `token_type` is missing or not `Bearer`.
    NotBearer,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

impl IdentityServer {
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, TokenError> {
        let endpoint = self.discovery().await.map_err(TokenError::Unavailable)?.token_endpoint.clone();
        let secret = self.client_secret().await.map_err(TokenError::Unavailable)?;
        let mut body: Vec<(&str, &str)> = form.to_vec();
        // client_secret_post, as ERP.net documents for confidential apps.
        body.push(("client_id", &self.config.client_id));
        body.push(("client_secret", secret.expose()));
        let resp = self
            .http
            .post(&endpoint)
            .header("accept", "application/json")
            .form(&body)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(transport_error(e)))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| TokenError::Unavailable(transport_error(e)))?;
        if status.is_success() {
            let resp: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| {
                TokenError::Unavailable(BffError::IdpUnavailable("token response is not valid JSON".into()))
            })?;
            if !resp.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("Bearer")) {
                return Err(TokenError::NotBearer);
            }
            return Ok(resp);
        }
        if status.is_client_error()
            && let Ok(e) = serde_json::from_slice::<OAuthError>(&bytes)
        {
            let code: String = e.error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            return Err(match code.as_str() {
                "invalid_client" | "unauthorized_client" | "unsupported_grant_type" | "invalid_scope" => {
                    TokenError::Misconfigured(code)
                }
                _ => TokenError::Rejected(code),
            });
        }
        Err(TokenError::Unavailable(BffError::IdpUnavailable(format!("token endpoint answered {status}"))))
    }

    /// Resolves everything a token call needs (discovery, the client secret), so that a refresh can take its lease
    /// only once nothing but the token call itself is left.
    pub async fn prepare_token_calls(&self) -> Result<(), BffError> {
        self.discovery().await?;
        self.client_secret().await?;
        Ok(())
    }

    /// Exchanges an authorization code: `client_secret_post` + the PKCE verifier + the exact redirect URI.
    pub async fn exchange_code(&self, code: &str, verifier: &CodeVerifier) -> Result<TokenResponse, TokenError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", verifier.expose()),
        ])
        .await
    }

    /// Spends a refresh token (ERP.net rotates it: the old one is dead once this succeeds).
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenResponse, TokenError> {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())]).await
    }

    /// Revokes a refresh token when discovery lists a revocation endpoint. Best effort: logout goes on regardless.
    pub async fn revoke(&self, refresh_token: &RefreshToken) {
        let Ok(d) = self.discovery().await else {
            return;
        };
        let Some(endpoint) = d.revocation_endpoint.clone() else {
            return;
        };
        let Ok(secret) = self.client_secret().await else {
            return;
        };
        let form = [
            ("token", refresh_token.expose()),
            ("token_type_hint", "refresh_token"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", secret.expose()),
        ];
        match self.http.post(&endpoint).form(&form).send().await {
            Ok(r) if r.status().is_success() => tracing::info!("refresh token revoked"),
            Ok(r) => tracing::warn!(status = r.status().as_u16(), "revocation refused"),
            Err(e) => tracing::warn!(error = %e.without_url(), "revocation failed"),
        }
    }
}
