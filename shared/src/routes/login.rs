//! `GET /auth/login?returnUrl=/x[&prompt=login]`: starts a sign-in (see `login::pending`) and sends the browser to
//! the identity server's authorize endpoint.
//! Only a top-level navigation starts one (no cookie, no write for an `<img>`); at most `MAX_LOGIN_COOKIES` login
//! cookies. The browser's session (its Strict cookie comes along here) is recorded for the callback to end.

use crate::app::App;
use crate::error::BffError;
use crate::http::cookies;
use crate::http::gate::{is_top_level_navigation, require_method};
use crate::http::params::Params;
use crate::http::respond::{redirect, with_cookies};
use crate::login::pending::{self, LOGIN_TTL};
use crate::login::return_url::ReturnUrl;
use crate::session::current::{self, SessionCookie};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::GET], "GET")?;
    let tenant = app.tenant(&req).await?;
    let idp = &tenant.instance.idp;
    if !is_top_level_navigation(req.headers()) {
        return Err(BffError::InvalidRequest("a sign-in starts with a top-level navigation to /auth/login"));
    }
    let params = Params::from_query(&req);
    // A duplicated or unsafe returnUrl is not worth failing a sign-in over: it becomes `/`.
    let return_url = ReturnUrl::parse_or_root(params.single("returnUrl").ok().flatten());
    let prompt_login = matches!(params.single("prompt"), Ok(Some("login")));

    // Discovery first: with the identity server down nothing is written (no pending login left behind).
    idp.discovery().await?;
    let previous = match current::cookie(req.headers()) {
        Ok(SessionCookie::Valid(secret)) => Some(secret),
        _ => None,
    };
    let attempt = pending::start(&app.logins, &tenant.instance, return_url, previous).await?;
    let location = idp.authorize_url((&attempt.state, &attempt.nonce, &attempt.verifier), prompt_login).await?;
    let form_post = idp.config().form_post();
    let cookie = cookies::set_login(&attempt.cookie_name(), attempt.binding.cookie_value(), LOGIN_TTL, form_post);
    let mut set = cookies::prune_logins(req.headers(), form_post);
    tracing::info!(cleared_login_cookies = set.len(), "sign-in started");
    set.push(cookie);
    Ok(with_cookies(redirect(&location), set))
}
