//! `POST /auth/refresh` (with `X-CSRF: 1`): refreshes the token set now, single-flight across execution environments; an access
//! token younger than `REFRESH_FLOOR_SECONDS` (and not due) is answered as it is, without a token call.

use crate::app::App;
use crate::error::BffError;
use crate::http::gate::require_method;
use crate::http::respond::json;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::POST], "POST")?;
    let tenant = app.tenant_for_spa(&req).await?;
    let (secret, session) = tenant.current_session(req.headers()).await?.required()?;
    let session = tenant.keeper().refresh_forced(&secret, session).await?.session;
    Ok(json(
        StatusCode::OK,
        &json!({
            "accessTokenExpiresAt": session.access_expires_at.rfc3339(),
            "sessionExpiresAt": session.expires_at(app.config.session.idle_timeout).rfc3339(),
        }),
    ))
}
