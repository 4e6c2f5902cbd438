//! `GET /auth/session` (with `X-CSRF: 1`): who is signed in. Anonymous → 200 `{"authenticated":false}`. The hint
//! cookie is set again whenever the browser's differs from its session's; a new session is offered DBSC here.

use crate::app::App;
use crate::error::BffError;
use crate::http::cookies::{self, HINT};
use crate::http::gate::require_method;
use crate::http::respond::{json, with_cookies};
use crate::session::bound::{REGISTRATION_HEADER, flow};
use crate::session::current::CurrentSession;
use crate::time::UnixTime;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::GET], "GET")?;
    let tenant = app.tenant_for_spa(&req).await?;
    let CurrentSession::Active(secret, session) = tenant.current_session(req.headers()).await? else {
        let anonymous = json(StatusCode::OK, &json!({"authenticated": false}));
        return Ok(with_cookies(anonymous, cookies::clear_ended(req.headers())));
    };
    let mut resp = json(
        StatusCode::OK,
        &json!({
            "authenticated": true,
            "user": session.claims,
            "accessTokenExpiresAt": session.access_expires_at.rfc3339(),
            "sessionExpiresAt": session.expires_at(app.config.session.idle_timeout).rfc3339(),
            "logoutUrl": format!("/auth/logout?sid={}", secret.logout_token()),
        }),
    );
    if let Some(offer) = flow::offer(&app.config.session.dbsc, &secret, &session, UnixTime::now()) {
        resp.headers_mut().insert(REGISTRATION_HEADER, offer);
    }
    let hint = secret.hint(session.absolute_expires_at);
    if !matches!(cookies::read(req.headers(), HINT), Ok(Some(sent)) if sent == hint) {
        resp = with_cookies(resp, [cookies::set_hint(hint, session.absolute_expires_at.since(UnixTime::now()))]);
    }
    Ok(resp)
}
