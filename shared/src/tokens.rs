//! The token service: the code exchange, refresh, revocation, and keeping a session's access token fresh with a
//! refresh that is single-flight **across execution environments** (coordinated in DynamoDB, not in memory).
//!
//! ERP.net rotates refresh tokens and has no grace window: two instances that spend the same refresh token log the
//! user out. So before calling the token endpoint an instance takes a lease on the session item (conditional on
//! the token-set `version` and on no live lease). The winner refreshes and writes the new set as `version + 1`,
//! releasing the lease in the same conditional write. The others poll with consistent reads until the version
//! moves, then use the new token (or go ahead with the old one while it is still valid). A lease outlives the token
//! call's timeout, so a live winner never loses it; the lease of a refresher that died simply expires.

use crate::app::App;
use crate::error::BffError;
use crate::oidc::idp_transport_error;
use crate::session::{Session, SessionSecret, TokenSet};
use crate::store::RefreshedTokens;
use crate::time::{now, now_millis};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenResponse(..)")
    }
}

impl TokenResponse {
    /// ERP.net says `expires_in` "can vary": trust it, default to an hour, never below a minute.
    pub fn lifetime(&self) -> i64 {
        self.expires_in.unwrap_or(3600).max(1)
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
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

impl App {
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, TokenError> {
        let endpoint = self.idp.discovery().await.map_err(TokenError::Unavailable)?.token_endpoint.clone();
        let secret = self.client_secret().await.map_err(TokenError::Unavailable)?;
        let mut body: Vec<(&str, &str)> = form.to_vec();
        // client_secret_post, as ERP.net documents for confidential apps.
        body.push(("client_id", &self.config.client_id));
        body.push(("client_secret", secret.expose()));
        let resp = self
            .idp
            .http
            .post(&endpoint)
            .header("accept", "application/json")
            .form(&body)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(idp_transport_error(e)))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| TokenError::Unavailable(idp_transport_error(e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| {
                TokenError::Unavailable(BffError::IdpUnavailable("token response is not valid JSON".into()))
            });
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

    /// Exchanges an authorization code: `client_secret_post` + the PKCE verifier + the exact redirect URI.
    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<TokenResponse, TokenError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.config.redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn refresh_grant(&self, refresh_token: &str) -> Result<TokenResponse, TokenError> {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Revokes a refresh token when discovery lists a revocation endpoint. Best effort: logout goes on regardless.
    pub async fn revoke(&self, refresh_token: &str) {
        let Ok(d) = self.idp.discovery().await else {
            return;
        };
        let Some(endpoint) = d.revocation_endpoint.clone() else {
            return;
        };
        let Ok(secret) = self.client_secret().await else {
            return;
        };
        let form = [
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", secret.expose()),
        ];
        match self.idp.http.post(&endpoint).form(&form).send().await {
            Ok(r) if r.status().is_success() => tracing::info!("refresh token revoked"),
            Ok(r) => tracing::warn!(status = r.status().as_u16(), "revocation refused"),
            Err(e) => tracing::warn!(error = %e.without_url(), "revocation failed"),
        }
    }

    /// The skew before expiry at which a token is refreshed proactively: the configured skew, but never more than
    /// half the token's lifetime (else a short-lived token would be refreshed on every call).
    pub fn refresh_skew(&self, session: &Session) -> i64 {
        (self.config.refresh_skew.as_secs() as i64).min(session.access_lifetime / 2)
    }

    /// The session's tokens, refreshed first when the access token is about to expire (or `force`).
    pub async fn fresh_tokens(
        &self,
        secret: &SessionSecret,
        session: Session,
        force: bool,
    ) -> Result<(Session, TokenSet), BffError> {
        let due = force || now() >= session.access_expires_at - self.refresh_skew(&session);
        if !due {
            let tokens = open_tokens(&session, secret)?;
            return Ok((session, tokens));
        }
        self.refresh_single_flight(secret, session).await
    }

    /// Refreshes the session's token set once across all instances. See the module docs.
    pub async fn refresh_single_flight(
        &self,
        secret: &SessionSecret,
        mut session: Session,
    ) -> Result<(Session, TokenSet), BffError> {
        let start_version = session.version;
        let owner = crate::crypto::b64url(&crate::crypto::random_bytes::<12>());
        let lease = self.config.refresh_lease;
        // Bounded: one full lease to wait out a holder (who may have died), and one more to refresh ourselves.
        let deadline = tokio::time::Instant::now() + lease * 2 + Duration::from_secs(1);
        let mut backoff = Duration::from_millis(25);

        loop {
            if session.version != start_version {
                // Someone else refreshed while we waited: use their tokens.
                let tokens = open_tokens(&session, secret)?;
                return Ok((session, tokens));
            }
            let now_ms = now_millis();
            if session.lease_until_ms <= now_ms {
                let until = now_ms + lease.as_millis() as i64;
                if self.store.acquire_lease(&session.key, session.version, &owner, now_ms, until).await? {
                    return self.refresh_holding_lease(secret, session, &owner).await;
                }
            } else {
                // A live lease elsewhere. While our access token is still valid we need not wait for it.
                if now() < session.access_expires_at {
                    let tokens = open_tokens(&session, secret)?;
                    return Ok((session, tokens));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BffError::IdpTimeout);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
            session = match self.store.load_session(&session.key).await? {
                Some(s) => s,
                // Deleted under us (invalid_grant elsewhere, or logout).
                None => return Err(BffError::SessionExpired),
            };
        }
    }

    async fn refresh_holding_lease(
        &self,
        secret: &SessionSecret,
        session: Session,
        owner: &str,
    ) -> Result<(Session, TokenSet), BffError> {
        let old = open_tokens(&session, secret)?;
        let Some(refresh_token) = old.refresh_token.clone() else {
            // No refresh token (offline_access not granted): the session ends with its access token.
            self.store.release_lease(&session.key, owner).await?;
            if now() < session.access_expires_at {
                return Ok((session, old));
            }
            self.store.delete_session(&session.key).await?;
            return Err(BffError::SessionExpired);
        };
        match self.refresh_grant(&refresh_token).await {
            Ok(resp) => {
                let lifetime = resp.lifetime();
                let tokens = TokenSet {
                    access_token: resp.access_token,
                    // Rotation: a new refresh token replaces the old; without one the old stays valid.
                    refresh_token: resp.refresh_token.or(old.refresh_token),
                    id_token: resp.id_token.or(old.id_token),
                };
                let access_expires_at = now() + lifetime;
                let sealed = tokens.seal(secret);
                let committed = self
                    .store
                    .commit_refresh(
                        &session.key,
                        session.version,
                        owner,
                        RefreshedTokens { sealed_tokens: sealed.clone(), access_expires_at, access_lifetime: lifetime },
                    )
                    .await?;
                if !committed {
                    // Only possible if our lease was taken over (the token call outlived it) or the session was
                    // deleted meanwhile. The new refresh token cannot be stored: the session is over.
                    tracing::error!("refresh commit lost its lease; session cannot keep the rotated token");
                    crate::metrics::count_with("RefreshFailures", "Reason", "lease_lost");
                    return Err(BffError::SessionExpired);
                }
                tracing::info!("token set refreshed");
                crate::metrics::count("Refreshes");
                let session = Session {
                    sealed_tokens: sealed,
                    access_expires_at,
                    access_lifetime: lifetime,
                    version: session.version + 1,
                    lease_until_ms: 0,
                    ..session
                };
                Ok((session, tokens))
            }
            Err(TokenError::Rejected(error)) => {
                tracing::info!(error = %error, "refresh token refused: session ends");
                crate::metrics::count_with("RefreshFailures", "Reason", "rejected");
                self.store.delete_session_at_version(&session.key, session.version).await?;
                Err(BffError::SessionExpired)
            }
            Err(TokenError::Misconfigured(error)) => {
                crate::metrics::count_with("RefreshFailures", "Reason", "misconfigured");
                self.store.release_lease(&session.key, owner).await?;
                Err(BffError::Misconfigured(format!("token endpoint refused the client: {error}")))
            }
            Err(TokenError::Unavailable(e)) => {
                tracing::warn!(error = %e, "refresh failed: session kept");
                crate::metrics::count_with("RefreshFailures", "Reason", e.code());
                // Keep the session and its tokens; let the next caller try at once.
                let _ = self.store.release_lease(&session.key, owner).await;
                Err(e)
            }
        }
    }
}

pub fn open_tokens(session: &Session, secret: &SessionSecret) -> Result<TokenSet, BffError> {
    // A session whose tokens do not open under this cookie is not this cookie's session.
    TokenSet::open(&session.sealed_tokens, secret).ok_or(BffError::SessionExpired)
}
