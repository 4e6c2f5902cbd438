//! `POST /auth/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0), when `BACKCHANNEL_LOGOUT=true`: see
//! `session::backchannel`. 200, or 400 `invalid_logout_token`; never cached. No CSRF header: the token is the proof.

use crate::app::App;
use crate::error::BffError;
use crate::http::gate::require_method;
use crate::http::params::{Params, body_bytes};
use crate::http::respond::empty;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::POST], "POST")?;
    let tenant = app.tenant(&req).await?;
    if !tenant.instance.idp.config().backchannel_logout {
        return Err(BffError::NotFound("Back-channel logout is not enabled (BACKCHANNEL_LOGOUT)."));
    }
    let ct = req.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
    if !ct.starts_with(b"application/x-www-form-urlencoded") || body_bytes(&req).len() > 64 * 1024 {
        return Err(BffError::InvalidRequest("expected a form-encoded logout_token of at most 64 KiB"));
    }
    let params = Params::parse(body_bytes(&req));
    let raw = params.single("logout_token")?.ok_or(BffError::InvalidLogoutToken("no logout_token"))?;
    let ended = crate::session::backchannel::logout(&app.sessions, &app.replays, &tenant.instance, raw).await?;
    tracing::info!(ended, "back-channel logout");
    Ok(empty(StatusCode::OK))
}
