//! `GET /auth/callback?code&state[&iss]` (query mode) or `POST /auth/callback` (form_post hybrid mode): finishes a
//! sign-in. Consume the pending login (once, only by the browser that started it) → exchange the code and validate
//! the ID token → end the browser's previous session → start a **new** session → back to the returnUrl.
//!
//! A browser navigating here (it asked for HTML) that fails is sent back to the app with `login_error=<code>` (to
//! the returnUrl when the attempt is known, else to `/`) instead of a JSON page; anything else gets problem+json.

use super::Answer;
use crate::app::{App, Tenant};
use crate::error::BffError;
use crate::http::cookies;
use crate::http::params::Params;
use crate::http::respond::{redirect, with_cookies};
use crate::login::callback::{failed, sign_in, standard_error, take};
use crate::login::pending::Consumed;
use crate::metrics::Metric;
use crate::session::current::{self, SessionCookie};
use crate::session::device;
use lambda_http::http::header::USER_AGENT;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    let tenant = app.tenant(&req).await?;
    let (params, login) = match take(&app.logins, &tenant.instance, &req).await {
        Ok(consumed) => consumed,
        Err(e) => return failed(&req, e, None),
    };
    match finish(&tenant, &req, &params, &login).await {
        Ok(resp) => Ok(resp),
        Err(e) => failed(&req, e, Some(login.pending.return_url)),
    }
}

async fn finish(tenant: &Tenant<'_>, req: &Request, p: &Params, login: &Consumed) -> Answer {
    let (idp, return_url) = (&tenant.instance.idp, &login.pending.return_url);
    // The attempt is consumed: its cookie goes, whatever happens next.
    let clear_login = cookies::clear_login(&login.cookie_name, idp.config().form_post());
    if let Some(error) = p.single("error")? {
        let code = standard_error(error);
        tracing::info!(error = code, "identity server returned an error");
        Metric::SignInFailures.count_because(code);
        return Ok(with_cookies(redirect(&return_url.with_param("login_error", code)), [clear_login]));
    }

    let signed_in = sign_in(idp, p, &login.pending).await?;
    let sent = match current::cookie(req.headers()) {
        Ok(SessionCookie::Valid(secret)) => Some(secret),
        _ => None,
    };
    tenant.end_previous(login.pending.previous.as_ref(), sent).await?;
    let device = device::label(req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok()));
    let (secret, expires) = tenant.start_session(signed_in, device).await?;

    let lifetime = tenant.app.config.session.absolute_lifetime;
    let session_cookie = cookies::set_session(secret.cookie_value(), lifetime);
    let hint = cookies::set_hint(secret.hint(expires), lifetime);
    tracing::info!("signed in");
    Metric::SignIns.count();
    Ok(with_cookies(redirect(return_url.as_str()), [session_cookie, hint, clear_login]))
}
