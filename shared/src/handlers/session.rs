//! `GET /auth/session` (with `X-CSRF: 1`): who is signed in. Anonymous → 200 `{"authenticated":false}`.

use crate::app::App;
use crate::cookies;
use crate::error::BffError;
use crate::time::rfc3339;
use crate::web::{json, require_csrf};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    super::require_method(&req, &[Method::GET], "GET")?;
    require_csrf(req.headers(), &app.config)?;
    match super::current_session(app, &req).await? {
        super::CurrentSession::Anonymous => Ok(json(StatusCode::OK, &json!({"authenticated": false}))),
        super::CurrentSession::Gone => {
            let mut resp = json(StatusCode::OK, &json!({"authenticated": false}));
            resp.headers_mut().append(header::SET_COOKIE, cookies::clear_session());
            Ok(resp)
        }
        super::CurrentSession::Active(secret, session) => {
            let idle = app.config.session_idle_timeout.as_secs() as i64;
            Ok(json(
                StatusCode::OK,
                &json!({
                    "authenticated": true,
                    "user": session.claims,
                    "accessTokenExpiresAt": rfc3339(session.access_expires_at),
                    "sessionExpiresAt": rfc3339(session.expires_at(idle)),
                    "logoutUrl": format!("/auth/logout?sid={}", secret.logout_token()),
                }),
            ))
        }
    }
}
