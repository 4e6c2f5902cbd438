//! [`TokenKeeper`]: keeps a session's access token fresh, with a refresh that is single-flight **across execution
//! environments** (coordinated in DynamoDB, not in memory).
//!
//! ERP.net rotates refresh tokens and has no grace window: two execution environments that spend the same refresh
//! token log the user out. So before calling the token endpoint a refresher takes a lease on the session item (conditional on
//! the token-set `version` and on no live lease). The winner refreshes and writes the new set as `version + 1`,
//! releasing the lease in the same conditional write. The others poll with consistent reads until the version
//! moves, then use the new token (or go ahead with the old one while it is still valid). The lease of a refresher
//! that died simply expires.
//!
//! Fencing: everything the token call needs (discovery, the client secret) is resolved before the lease is taken;
//! the lease's end is counted from before the acquire is sent; the token call has a deadline a quarter-lease before
//! that end, and the commit is retried until it. So a live refresher does not outlive its lease. A write whose
//! answer was lost is decided by the item itself (see `store::lease`), never taken for a lost lease. A rotated
//! refresh token that truly cannot be stored is revoked and the session ends (`session_expired`), logged with why.
//! And a lease is taken only while the Lambda invocation has a whole lease (and a second) left, so the platform's
//! timeout never cuts off a refresher that holds one.

mod commit;
mod flight;
mod keeper;

pub use keeper::Keeper;

use super::Session;
use super::secrets::SessionSecret;
use super::store::{Lease, Sessions};
use super::tokens::TokenSet;
use crate::config::SessionConfig;
use crate::error::BffError;
use crate::metrics::Metric;
use crate::time::{UnixMillis, UnixTime, invocation_left};
use std::time::Duration;

/// A refresh holding the lease: whose, by whom, and until when (counted from before the acquire was sent).
struct Held<'a> {
    secret: &'a SessionSecret,
    session: Session,
    owner: &'a str,
    lease_end: tokio::time::Instant,
}

/// Time kept back from the invocation's end to send the answer.
const INVOCATION_MARGIN: Duration = Duration::from_secs(1);

/// A session and its opened token set, as of the latest refresh this caller saw; `refreshed`: by this request.
pub struct Fresh {
    pub session: Session,
    pub tokens: TokenSet,
    pub refreshed: bool,
}

impl Fresh {
    /// The session's stored tokens, as they are (not refreshed by this request).
    fn stored(session: Session, secret: &SessionSecret) -> Result<Self, BffError> {
        let tokens = session.tokens(secret)?;
        Ok(Self { session, tokens, refreshed: false })
    }
}

pub struct TokenKeeper {
    sessions: Sessions,
    /// How long a refresh lease is held.
    lease: Duration,
    /// The configured proactive-refresh skew.
    skew: Duration,
    /// A forced refresh of a token younger than this is not made.
    floor: Duration,
    /// This process's refreshes in flight, one per session.
    flights: flight::Flights,
}

impl TokenKeeper {
    pub fn new(sessions: Sessions, config: &SessionConfig) -> Self {
        let flights = flight::Flights::default();
        Self { sessions, lease: config.refresh_lease, skew: config.refresh_skew, floor: config.refresh_floor, flights }
    }

    /// The skew before expiry at which a token is refreshed proactively: the configured skew, but never more than
    /// half the token's lifetime (else a short-lived token would be refreshed on every call).
    pub fn refresh_skew(&self, session: &Session) -> Duration {
        self.skew.min(Duration::from_secs(session.access_lifetime.as_secs() / 2))
    }
}

impl Keeper<'_> {
    /// The session's tokens, refreshed first when the access token is about to expire.
    pub async fn fresh(&self, secret: &SessionSecret, session: Session) -> Result<Fresh, BffError> {
        if UnixTime::now() >= session.access_expires_at - self.keeper.refresh_skew(&session) {
            return self.refresh(secret, session).await;
        }
        Fresh::stored(session, secret)
    }

    /// Whether the session's access token is younger than the refresh floor: a refusal of it is not worth a refresh.
    pub fn within_floor(&self, session: &Session) -> bool {
        UnixTime::now() < session.access_expires_at - session.access_lifetime + self.keeper.floor
    }

    /// A refresh the client asked for (`POST /auth/refresh`): made unless the access token is younger than the
    /// floor and not due, so a client cannot spend a refresh token on every call.
    pub async fn refresh_forced(&self, secret: &SessionSecret, session: Session) -> Result<Fresh, BffError> {
        let now = UnixTime::now();
        let issued_at = session.access_expires_at - session.access_lifetime;
        let due = now >= session.access_expires_at - self.keeper.refresh_skew(&session);
        if !due && now < issued_at + self.keeper.floor {
            return Fresh::stored(session, secret);
        }
        self.refresh(secret, session).await
    }

    /// Refreshes the session's token set once across all execution environments. See the module docs.
    pub async fn refresh(&self, secret: &SessionSecret, mut session: Session) -> Result<Fresh, BffError> {
        let start_version = session.version;
        let flight = self.keeper.flights.enter(&session.key).await;
        if flight.waited {
            // Another request of this process refreshed (or tried) first: start from what it stored.
            session = self.keeper.sessions.load(&session.key).await?.live().ok_or(BffError::SessionExpired)?;
        }
        let owner = crate::crypto::b64url(&crate::crypto::random_bytes::<12>());
        let deadline = self.wait_deadline();
        let mut backoff = Duration::from_millis(25);
        loop {
            if session.version != start_version {
                // Someone else refreshed while we waited: use their tokens.
                return Fresh::stored(session, secret);
            }
            if session.lease_until <= UnixMillis::now() {
                // Everything the token call needs (discovery, the client secret) is resolved before a lease is
                // taken, so the lease covers only the token call and the commit. (A waiter needs none of it.)
                self.idp.prepare_token_calls().await?;
                if !self.lease_fits_invocation() {
                    // Lambda would cut this invocation off while it held the lease, maybe after the identity
                    // server rotated the refresh token: the one loss nobody can repair. Leave it to the next call.
                    tracing::warn!("too little invocation time left to take a refresh lease");
                    Metric::RefreshFailures.count_because("invocation_ending");
                    return self.unrefreshed(secret, session);
                }
                let now = UnixMillis::now();
                // The lease's end as this caller counts it starts before the write is sent: never later than the
                // store's `until`.
                let lease_end = tokio::time::Instant::now() + self.keeper.lease;
                let until = now + self.keeper.lease;
                match self.keeper.sessions.acquire_lease(&session.key, session.version, &owner, now, until).await? {
                    Lease::Held => {
                        let held = Held { secret, session, owner: &owner, lease_end };
                        return self.refresh_holding_lease(held).await;
                    }
                    // Deleted under us (invalid_grant elsewhere, or logout): the session is over.
                    Lease::Busy(None) => return Err(BffError::SessionExpired),
                    Lease::Busy(Some(current)) => {
                        session = current;
                        if session.version != start_version {
                            continue;
                        }
                    }
                }
            }
            if session.lease_until > UnixMillis::now() && UnixTime::now() < session.access_expires_at {
                // A live lease elsewhere. While our access token is still valid we need not wait for it.
                return Fresh::stored(session, secret);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BffError::IdpTimeout);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
            // Deleted under us (invalid_grant elsewhere, or logout): the session is over.
            session = self.keeper.sessions.load(&session.key).await?.live().ok_or(BffError::SessionExpired)?;
        }
    }

    /// How long a refresh may wait for a lease: one full lease to wait out a holder (who may have died), and one more
    /// to refresh itself; and never past the invocation's own end.
    fn wait_deadline(&self) -> tokio::time::Instant {
        let deadline = tokio::time::Instant::now() + self.keeper.lease * 2 + Duration::from_secs(1);
        match invocation_left() {
            Some(left) => deadline.min(tokio::time::Instant::now() + left.saturating_sub(INVOCATION_MARGIN)),
            None => deadline,
        }
    }

    /// Whether the invocation lasts beyond a whole lease (plus a margin to answer): a refresher that holds a lease
    /// is never cut off by Lambda's timeout. (Unknown end: yes.)
    fn lease_fits_invocation(&self) -> bool {
        invocation_left().is_none_or(|left| left >= self.keeper.lease + INVOCATION_MARGIN)
    }

    /// No refresh this time: the stored tokens while the access token is valid, else a retryable 504.
    fn unrefreshed(&self, secret: &SessionSecret, session: Session) -> Result<Fresh, BffError> {
        if UnixTime::now() >= session.access_expires_at {
            return Err(BffError::IdpTimeout);
        }
        Fresh::stored(session, secret)
    }

    /// The part of a lease kept for the commit after the token call: a quarter of it.
    fn commit_margin(&self) -> Duration {
        self.keeper.lease / 4
    }
}
