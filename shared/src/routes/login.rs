//! `GET /auth/login?returnUrl=/x[&prompt=login]`: starts a sign-in (see `login::pending`) and sends the browser to
//! the identity server's authorize endpoint.

use crate::app::App;
use crate::error::BffError;
use crate::http::cookies;
use crate::http::gate::require_method;
use crate::http::params::Params;
use crate::http::respond::{redirect, with_cookies};
use crate::login::pending::{self, LOGIN_TTL};
use crate::login::return_url::ReturnUrl;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::GET], "GET")?;
    let params = Params::from_query(&req);
    // A duplicated or unsafe returnUrl is not worth failing a sign-in over: it becomes `/`.
    let return_url = ReturnUrl::parse_or_root(params.single("returnUrl").ok().flatten());
    let prompt_login = matches!(params.single("prompt"), Ok(Some("login")));

    // Discovery first: with the identity server down nothing is written (no pending login left behind).
    app.idp.discovery().await?;
    let attempt = pending::start(&app.store, return_url).await?;
    let location = app.idp.authorize_url(&attempt, prompt_login).await?;
    let cookie = cookies::set_login(
        &attempt.cookie_name(),
        attempt.binding.cookie_value(),
        LOGIN_TTL,
        app.config.idp.form_post(),
    );
    tracing::info!("sign-in started");
    Ok(with_cookies(redirect(&location), [cookie]))
}
