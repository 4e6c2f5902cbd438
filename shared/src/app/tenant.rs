//! [`Tenant`]: the app as one request's ERP.net instance sees it, chosen once per request by `App::tenant`.

use super::App;
use crate::error::BffError;
use crate::instance::Instance;
use crate::session::bound::{self, flow};
use crate::session::current::CurrentSession;
use crate::session::refresh::Keeper;
use crate::session::secrets::SessionSecret;
use crate::session::{Session, SignedIn};
use crate::time::UnixTime;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Response};
use std::sync::Arc;

/// One request's view of the app: its ERP.net instance (identity server, client, API, allowlist, what issues its
/// sessions) beside the deployment's stores and clients. Routes read per-instance settings from here only.
pub struct Tenant<'a> {
    pub app: &'a App,
    pub instance: Arc<Instance>,
}

impl Tenant<'_> {
    /// The session of this instance the request's cookie leads to (see `session::current::load`). A device-bound
    /// session without its live bound cookie is refused here (`bound_cookie_required`): pure computation, no read.
    pub async fn current_session(&self, headers: &HeaderMap) -> Result<CurrentSession, BffError> {
        let current = self.current_session_unbound(headers).await?;
        if let CurrentSession::Active(secret, session) = &current
            && !bound::admits(headers, secret, session, UnixTime::now())
        {
            return Err(BffError::BoundCookieRequired);
        }
        Ok(current)
    }

    /// [`Tenant::current_session`] without the bound cookie: for signing out, and for renewing the bound cookie.
    pub async fn current_session_unbound(&self, headers: &HeaderMap) -> Result<CurrentSession, BffError> {
        crate::session::current::load(&self.app.sessions, &self.instance, &self.app.config.session, headers).await
    }

    /// `POST /auth/dbsc/register` and `/auth/dbsc/refresh` (see `session::bound::flow`).
    pub async fn device_bound(&self, path: &str, headers: &HeaderMap) -> Result<Response<Body>, BffError> {
        let cfg = &self.app.config.session.dbsc;
        let origin = self.instance.origin.to_string();
        let current = match self.current_session_unbound(headers).await? {
            CurrentSession::Active(secret, session) => Some((secret, session)),
            _ => None,
        };
        let current = current.as_ref().map(|(secret, session)| (secret, session));
        match path {
            bound::REGISTER_PATH => {
                let current = current.ok_or(BffError::NotAuthenticated)?;
                flow::register(&self.app.sessions, cfg, &origin, current, headers).await
            }
            bound::REFRESH_PATH => flow::refresh(&self.app.sessions, cfg, &origin, current, headers).await,
            _ => Err(BffError::NotFound("No such device-bound session endpoint.")),
        }
    }

    /// The token keeper for this instance's sessions: refreshes go to its identity server.
    pub fn keeper(&self) -> Keeper<'_> {
        self.app.keeper.with(&self.instance.idp)
    }

    /// Starts a new session of this instance (see `Session::start`).
    pub async fn start_session(
        &self,
        signed_in: SignedIn,
        device: String,
    ) -> Result<(SessionSecret, UnixTime), BffError> {
        Session::start(&self.app.sessions, &self.app.config.session, &self.instance, signed_in, device).await
    }

    /// Ends the sessions this browser had before a sign-in (see `session::end_previous`).
    pub async fn end_previous(
        &self,
        recorded: Option<&SessionSecret>,
        sent: Option<SessionSecret>,
    ) -> Result<(), BffError> {
        crate::session::end_previous(&self.app.sessions, &self.instance, recorded, sent).await
    }
}
