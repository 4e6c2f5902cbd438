//! The session a request belongs to: cookie → secret → one consistent read, with idle and absolute expiry enforced
//! on every read (DynamoDB's TTL deletes lazily) and activity recorded at most once per touch interval.

use super::secrets::SessionSecret;
use super::store::{Loaded, Sessions};
use super::tokens::TokenSet;
use super::{Session, Standing};
use crate::config::SessionConfig;
use crate::error::BffError;
use crate::http::cookies;
use crate::instance::Instance;
use crate::time::UnixTime;
use lambda_http::http::HeaderMap;

/// What the session cookie of a request leads to.
#[allow(clippy::large_enum_variant)] // one per request, moved once: boxing would buy nothing
pub enum CurrentSession {
    /// No session cookie at all.
    Anonymous,
    /// A cookie, but no live session behind it (expired, logged out, or not ours): the cookie should be cleared.
    Gone,
    Active(SessionSecret, Session),
}

impl CurrentSession {
    /// The session, or the 401 an API call gets without one.
    pub fn required(self) -> Result<(SessionSecret, Session), BffError> {
        match self {
            CurrentSession::Anonymous => Err(BffError::NotAuthenticated),
            CurrentSession::Gone => Err(BffError::SessionExpired),
            CurrentSession::Active(secret, session) => Ok((secret, session)),
        }
    }
}

/// The request's session cookie.
pub enum SessionCookie {
    Absent,
    /// Not a secret of ours: no session can be behind it.
    Malformed,
    Valid(SessionSecret),
}

/// Reads the session cookie (refusing one sent twice with different values).
pub fn cookie(headers: &HeaderMap) -> Result<SessionCookie, BffError> {
    let value = cookies::read(headers, cookies::SESSION)
        .map_err(|_| BffError::InvalidRequest("the session cookie was sent more than once"))?;
    Ok(match value.map(SessionSecret::parse) {
        None => SessionCookie::Absent,
        Some(None) => SessionCookie::Malformed,
        Some(Some(secret)) => SessionCookie::Valid(secret),
    })
}

/// Reads the session cookie and loads its session: expired sessions end here; last-seen (and the TTL that follows
/// from it) is written at most once per touch interval, not once per request. A session ended from elsewhere is
/// finished by its own browser here: its refresh token (only this cookie opens it) is revoked, its item deleted.
///
/// A session of another instance (its cookie carried to this host by hand: browsers keep `__Host-` cookies per
/// host) is not this request's: `Gone`, and its item is left alone. A session this instance issued before it was
/// re-pointed (another issuer, client or API) ends here: deleted, and none of its tokens sent anywhere.
pub async fn load(
    sessions: &Sessions,
    instance: &Instance,
    config: &SessionConfig,
    headers: &HeaderMap,
) -> Result<CurrentSession, BffError> {
    let secret = match cookie(headers)? {
        SessionCookie::Absent => return Ok(CurrentSession::Anonymous),
        SessionCookie::Malformed => return Ok(CurrentSession::Gone),
        SessionCookie::Valid(secret) => secret,
    };
    let session = match sessions.load(&secret.key()).await? {
        Loaded::Missing => return Ok(CurrentSession::Gone),
        Loaded::Live(session) => match Standing::of(&session.instance, &session.issued_by, instance) {
            Standing::Ours => session,
            Standing::Foreign => return Ok(CurrentSession::Gone),
            Standing::Repointed => return ended_by_repointing(sessions, &secret).await,
        },
        Loaded::Ended { sealed, instance: key, issued_by } => match Standing::of(&key, &issued_by, instance) {
            Standing::Foreign => return Ok(CurrentSession::Gone),
            Standing::Repointed => return ended_by_repointing(sessions, &secret).await,
            Standing::Ours => {
                if let Some(rt) = TokenSet::open(&sealed, &secret).and_then(|t| t.refresh_token) {
                    instance.idp.revoke(&rt).await;
                }
                sessions.delete(&secret.key()).await?;
                return Ok(CurrentSession::Gone);
            }
        },
    };
    let now = UnixTime::now();
    if session.is_expired(now, config.idle_timeout) {
        session.end(sessions).await?;
        return Ok(CurrentSession::Gone);
    }
    let session = if now.since(session.last_seen) >= config.touch_interval {
        let touched = Session { last_seen: now, ..session };
        sessions.touch(&touched.key, now, touched.expires_at(config.idle_timeout)).await?;
        touched
    } else {
        session
    };
    Ok(CurrentSession::Active(secret, session))
}

/// A session its instance no longer issues (re-pointed): its item goes, and nothing is sent to the new target.
async fn ended_by_repointing(sessions: &Sessions, secret: &SessionSecret) -> Result<CurrentSession, BffError> {
    tracing::info!("session of a re-pointed instance ended; no token sent");
    crate::metrics::Metric::SessionsEnded.count_because("repointed");
    sessions.delete(&secret.key()).await?;
    Ok(CurrentSession::Gone)
}
