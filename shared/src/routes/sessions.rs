//! `GET|DELETE /auth/sessions`, `DELETE /auth/sessions/{id}` (`X-CSRF: 1`): the caller's own sessions (see
//! `session::mine`). Ending the current one by id signs out here only (refresh token revoked, cookies cleared).

use crate::app::App;
use crate::error::BffError;
use crate::http::cookies;
use crate::http::respond::{empty, json, with_cookies};
use crate::session::{self, mine};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    let id = req.uri().path().strip_prefix("/auth/sessions").unwrap_or("").trim_start_matches('/').to_string();
    match (req.method(), id.is_empty()) {
        (&Method::GET, true) | (&Method::DELETE, _) => {}
        (_, true) => return Err(BffError::MethodNotAllowed { allow: "GET, DELETE" }),
        (_, false) => return Err(BffError::MethodNotAllowed { allow: "DELETE" }),
    }
    let tenant = app.tenant_for_spa(&req).await?;
    let (secret, current) = tenant.current_session(req.headers()).await?.required()?;
    if req.method() == Method::GET {
        return Ok(json(StatusCode::OK, &mine::list(&app.sessions, &current, app.config.session.idle_timeout).await?));
    }
    if id.is_empty() {
        let ended = mine::end_others(&app.sessions, &current).await?;
        return Ok(json(StatusCode::OK, &json!({ "ended": ended })));
    }
    if id == current.id {
        session::end_with_secret(&app.sessions, &tenant.instance, &secret).await?;
        return Ok(with_cookies(empty(StatusCode::NO_CONTENT), cookies::clear_ended(req.headers())));
    }
    mine::end_one(&app.sessions, &current, &id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
