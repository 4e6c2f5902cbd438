//! The end of a refresh: the new token set written as `version + 1` under the lease (tried again while the lease
//! lasts), or, when it cannot be stored, the rotated refresh token revoked and the session ended.

use super::{Fresh, Held, Keeper};
use crate::error::BffError;
use crate::idp::token_endpoint::TokenResponse;
use crate::metrics::Metric;
use crate::session::Session;
use crate::session::store::{Commit, RefreshedTokens};
use crate::session::tokens::TokenSet;
use crate::time::{UnixMillis, UnixTime};
use std::time::Duration;

impl Keeper<'_> {
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
