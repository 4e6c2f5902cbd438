//! `POST /auth/refresh` (with `X-CSRF: 1`): refreshes the token set now, single-flight across instances.

use crate::app::App;
use crate::error::BffError;
use crate::time::rfc3339;
use crate::web::{json, require_csrf};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    super::require_method(&req, &[Method::POST], "POST")?;
    require_csrf(req.headers(), &app.config)?;
    let (secret, session) = super::current_session(app, &req).await?.required()?;
    let (session, _) = app.refresh_single_flight(&secret, session).await?;
    let idle = app.config.session_idle_timeout.as_secs() as i64;
    Ok(json(
        StatusCode::OK,
        &json!({
            "accessTokenExpiresAt": rfc3339(session.access_expires_at),
            "sessionExpiresAt": rfc3339(session.expires_at(idle)),
        }),
    ))
}
