//! `GET /auth/login?returnUrl=/x[&prompt=login]`: starts a sign-in (see `login::pending`) and sends the browser to
//! the identity server's authorize endpoint.
//!
//! Only a top-level navigation starts one (`Sec-Fetch-Dest: document`, or no fetch metadata): an `<img>` on another
//! site gets a 400, and neither a cookie nor a write. The browser keeps at most `MAX_LOGIN_COOKIES` login cookies:
//! the oldest ones are cleared. The browser's current session (this is a same-site navigation, so its Strict cookie
//! comes along) is recorded in the pending login, so that the callback — a cross-site navigation, which carries no
//! Strict cookie — can end it.

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
    if !is_top_level_navigation(req.headers()) {
        return Err(BffError::InvalidRequest("a sign-in starts with a top-level navigation to /auth/login"));
    }
    let params = Params::from_query(&req);
    // A duplicated or unsafe returnUrl is not worth failing a sign-in over: it becomes `/`.
    let return_url = ReturnUrl::parse_or_root(params.single("returnUrl").ok().flatten());
    let prompt_login = matches!(params.single("prompt"), Ok(Some("login")));

    // Discovery first: with the identity server down nothing is written (no pending login left behind).
    app.idp.discovery().await?;
    let previous = match current::cookie(req.headers()) {
        Ok(SessionCookie::Valid(secret)) => Some(secret),
        _ => None,
    };
    let attempt = pending::start(&app.store, return_url, previous).await?;
    let location = app.idp.authorize_url(&attempt, prompt_login).await?;
    let cookie = cookies::set_login(
        &attempt.cookie_name(),
        attempt.binding.cookie_value(),
        LOGIN_TTL,
        app.config.idp.form_post(),
    );
    // The oldest login cookies go, so that with this one the browser holds at most MAX_LOGIN_COOKIES.
    let older = cookies::login_names(req.headers());
    let stale = older.len().saturating_sub(cookies::MAX_LOGIN_COOKIES - 1);
    let cleared = older[..stale].iter().map(|name| cookies::clear_login(name, app.config.idp.form_post()));
    tracing::info!(cleared_login_cookies = stale, "sign-in started");
    Ok(with_cookies(redirect(&location), cleared.chain([cookie])))
}
