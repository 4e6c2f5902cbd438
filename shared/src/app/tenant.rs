//! [`Tenant`]: the app as one request's ERP.net instance sees it, chosen once per request by `App::tenant`.

use super::App;
use crate::error::BffError;
use crate::instance::Instance;
use crate::session::current::CurrentSession;
use crate::session::refresh::Keeper;
use crate::session::secrets::SessionSecret;
use crate::session::{Session, SignedIn};
use crate::time::UnixTime;
use std::sync::Arc;

/// One request's view of the app: its ERP.net instance (identity server, client, API, allowlist, what issues its
/// sessions) beside the deployment's stores and clients. Routes read per-instance settings from here only.
pub struct Tenant<'a> {
    pub app: &'a App,
    pub instance: Arc<Instance>,
}

impl Tenant<'_> {
    /// The session of this instance the request's cookie leads to (see `session::current::load`).
    pub async fn current_session(&self, headers: &lambda_http::http::HeaderMap) -> Result<CurrentSession, BffError> {
        crate::session::current::load(&self.app.sessions, &self.instance, &self.app.config.session, headers).await
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
