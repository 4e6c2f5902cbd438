//! A refresh holding the lease: the token call, then the new token set written as `version + 1` under the lease
//! (tried again while the lease lasts), or, when it cannot be stored, the rotated refresh token revoked and the
//! session ended.

use super::{Fresh, Held, Keeper};
use crate::error::BffError;
use crate::idp::token_endpoint::{TokenError, TokenResponse};
use crate::metrics::Metric;
use crate::session::Session;
use crate::session::store::{Commit, RefreshedTokens};
use crate::session::tokens::TokenSet;
use crate::time::{UnixMillis, UnixTime};
use std::time::Duration;

impl Keeper<'_> {
    pub(super) async fn refresh_holding_lease(&self, held: Held<'_>) -> Result<Fresh, BffError> {
        let Held { secret, ref session, owner, .. } = held;
        let old = session.tokens(secret)?;
        let Some(refresh_token) = old.refresh_token.clone() else {
            // No refresh token (offline_access not granted): the session ends with its access token.
            self.keeper.sessions.release_lease(&session.key, owner).await?;
            if UnixTime::now() < session.access_expires_at {
                return Ok(Fresh { session: held.session, tokens: old, refreshed: false });
            }
            session.end(&self.keeper.sessions).await?;
            return Err(BffError::SessionExpired);
        };
        // The token call ends inside the lease, leaving a margin for the commit (and its retries).
        let token_deadline = held.lease_end - self.commit_margin();
        let sent = std::time::Instant::now();
        let answer = match tokio::time::timeout_at(token_deadline, self.idp.refresh(&refresh_token)).await {
            Ok(answer) => answer,
            Err(_) => Err(TokenError::Unavailable(BffError::IdpTimeout)),
        };
        match answer {
            Ok(resp) => {
                let answered = std::time::Instant::now();
                let fresh = self.commit(held, old, resp).await?;
                crate::metrics::refresh_exposure(sent.elapsed(), answered.elapsed());
                Ok(fresh)
            }
            Err(TokenError::Rejected(error)) => {
                tracing::info!(error = %error, "refresh token refused: session ends");
                Metric::RefreshFailures.count_because("rejected");
                self.keeper.sessions.delete_at_version(&session.key, session.version).await?;
                Err(BffError::SessionExpired)
            }
            Err(TokenError::Misconfigured(error)) => {
                Metric::RefreshFailures.count_because("misconfigured");
                self.keeper.sessions.release_lease(&session.key, owner).await?;
                Err(BffError::Misconfigured(format!("token endpoint refused the client: {error}")))
            }
            Err(TokenError::NotBearer) => {
                // Like an unusable answer (garbage, 5xx): the stored tokens stay as they were, so the session
                // lives on with its access token until that expires. (If the identity server did rotate the
                // refresh token, the next refresh gets `invalid_grant` and ends the session then.)
                tracing::warn!("refresh answer is not a Bearer token response: session kept");
                Metric::RefreshFailures.count_because("not_bearer");
                let _ = self.keeper.sessions.release_lease(&session.key, owner).await;
                Err(BffError::IdpUnavailable("token response is not a Bearer token response".into()))
            }
            Err(TokenError::Unavailable(e)) => {
                tracing::warn!(error = %e, "refresh failed: session kept");
                Metric::RefreshFailures.count_because(e.code());
                // Keep the session and its tokens; let the next caller try at once.
                let _ = self.keeper.sessions.release_lease(&session.key, owner).await;
                Err(e)
            }
        }
    }

    /// Writes the new token set as `version + 1`, releasing the lease in the same conditional write; tried again
    /// while the lease lasts. A rotated refresh token that cannot be stored is revoked and the session ends.
    pub(super) async fn commit(&self, held: Held<'_>, old: TokenSet, resp: TokenResponse) -> Result<Fresh, BffError> {
        let Held { secret, session, owner, lease_end } = held;
        let lifetime = resp.lifetime();
        let rotated = resp.refresh_token.is_some();
        let tokens = TokenSet {
            access_token: resp.access_token,
            // Rotation: a new refresh token replaces the old; without one the old stays valid.
            refresh_token: resp.refresh_token.or(old.refresh_token),
            id_token: resp.id_token.or(old.id_token),
        };
        let access_expires_at = UnixTime::now() + lifetime;
        let sealed = tokens.seal(secret);
        let written = RefreshedTokens { sealed_tokens: sealed.clone(), access_expires_at, access_lifetime: lifetime };
        let reason = self.store_until(&session, owner, &written, lease_end).await.err();
        if let Some(reason) = reason {
            // The new token set cannot be stored, and the old refresh token is spent: the session is over. The new
            // refresh token is revoked (when the identity server lists a revocation endpoint) so it dies with it.
            tracing::error!(
                reason,
                "refresh commit failed for good: the rotated token is revoked and the session ends"
            );
            Metric::RefreshFailures.count_because(reason);
            if rotated && let Some(rt) = &tokens.refresh_token {
                self.idp.revoke(rt).await;
            }
            let _ = self.keeper.sessions.delete_at_version(&session.key, session.version).await;
            return Err(BffError::SessionExpired);
        }
        tracing::info!("token set refreshed");
        Metric::Refreshes.count();
        let session = Session {
            sealed_tokens: sealed,
            access_expires_at,
            access_lifetime: lifetime,
            version: session.version + 1,
            lease_until: UnixMillis::NEVER,
            ..session
        };
        Ok(Fresh { session, tokens, refreshed: true })
    }

    /// The commit's conditional write, tried again (with backoff) while the lease lasts: `Err` names why the new
    /// token set could not be stored.
    async fn store_until(
        &self,
        session: &Session,
        owner: &str,
        written: &RefreshedTokens,
        lease_end: tokio::time::Instant,
    ) -> Result<(), &'static str> {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.keeper.sessions.commit_refresh(&session.key, session.version, owner, written.clone()).await {
                Ok(Commit::Stored) => return Ok(()),
                // Our lease was taken over (the refresh outlived it) or the session was deleted meanwhile.
                Ok(Commit::Lost) => return Err("lease_lost"),
                Ok(Commit::NotYet) => tracing::warn!("refresh commit not applied; trying again"),
                Err(e) => tracing::warn!(error = %e, "refresh commit failed; trying again while the lease lasts"),
            }
            if tokio::time::Instant::now() + backoff >= lease_end {
                return Err("store_unavailable");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}
