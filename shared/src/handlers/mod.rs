//! One module per route. Each exposes `handle(&App, Request)`; `shared::serve` turns its errors into problem+json.

pub mod callback;
pub mod login;
pub mod logout;
pub mod proxy;
pub mod refresh;
pub mod session;

use crate::app::App;
use crate::cookies;
use crate::error::BffError;
use crate::session::{Session, SessionSecret};
use crate::time::now;
use lambda_http::Request;
use lambda_http::http::Method;

/// What the session cookie of a request leads to.
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

/// Reads the session cookie and loads its session, enforcing idle and absolute expiry on every read (TTL deletion
/// is lazy), and recording activity at most once per touch interval (not a write per request).
pub async fn current_session(app: &App, req: &Request) -> Result<CurrentSession, BffError> {
    let value = cookies::read(req.headers(), cookies::SESSION)
        .map_err(|_| BffError::InvalidRequest("the session cookie was sent more than once"))?;
    let Some(value) = value else {
        return Ok(CurrentSession::Anonymous);
    };
    let Some(secret) = SessionSecret::parse(value) else {
        return Ok(CurrentSession::Gone);
    };
    let Some(session) = app.store.load_session(&secret.key()).await? else {
        return Ok(CurrentSession::Gone);
    };
    let idle = app.config.session_idle_timeout.as_secs() as i64;
    let now = now();
    if session.is_expired(now, idle) {
        app.store.delete_session(&session.key).await?;
        return Ok(CurrentSession::Gone);
    }
    let session = if now - session.last_seen >= app.config.touch_interval.as_secs() as i64 {
        let touched = Session { last_seen: now, ..session };
        app.store.touch(&touched.key, now, touched.expires_at(idle)).await?;
        touched
    } else {
        session
    };
    Ok(CurrentSession::Active(secret, session))
}

pub fn require_method(req: &Request, allowed: &[Method], allow: &'static str) -> Result<(), BffError> {
    if allowed.contains(req.method()) { Ok(()) } else { Err(BffError::MethodNotAllowed { allow }) }
}
