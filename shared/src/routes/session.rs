//! `GET /auth/session` (with `X-CSRF: 1`): who is signed in. Anonymous → 200 `{"authenticated":false}`.

use crate::app::App;
use crate::error::BffError;
use crate::http::cookies;
use crate::http::gate::{require_csrf, require_method};
use crate::http::respond::{json, with_cookies};
use crate::session::current::{self, CurrentSession};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::GET], "GET")?;
    require_csrf(req.headers(), &app.config.public_origin)?;
    let anonymous = || json(StatusCode::OK, &json!({"authenticated": false}));
    match current::load(&app.store, &app.config.session, req.headers()).await? {
        CurrentSession::Anonymous => Ok(anonymous()),
        CurrentSession::Gone => Ok(with_cookies(anonymous(), [cookies::clear_session()])),
        CurrentSession::Active(secret, session) => Ok(json(
            StatusCode::OK,
            &json!({
                "authenticated": true,
                "user": session.claims,
                "accessTokenExpiresAt": session.access_expires_at.rfc3339(),
                "sessionExpiresAt": session.expires_at(app.config.session.idle_timeout).rfc3339(),
                "logoutUrl": format!("/auth/logout?sid={}", secret.logout_token()),
            }),
        )),
    }
}
