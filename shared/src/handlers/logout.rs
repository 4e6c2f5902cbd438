//! `GET /auth/logout?sid=…&returnUrl=/`: ends the session here and at ERP.net. `sid` (from `/auth/session`'s
//! `logoutUrl`) is required whenever a session exists, so a cross-site link cannot log a user out. The refresh token
//! is revoked when discovery lists a revocation endpoint; the browser goes to ERP.net's end-session endpoint with
//! `id_token_hint` (which frees the ERP licence at once), or to returnUrl when there is none. Logging out twice, or
//! with an expired session, is harmless.

use crate::app::App;
use crate::cookies;
use crate::crypto::ct_eq;
use crate::error::BffError;
use crate::return_url::ReturnUrl;
use crate::tokens::open_tokens;
use crate::web::{Params, redirect};
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    super::require_method(&req, &[Method::GET], "GET")?;
    let params = Params::from_query(&req);
    let sid = params.single("sid")?;
    let return_url = ReturnUrl::parse_or_root(params.single("returnUrl").ok().flatten());

    let (secret, session) = match super::current_session(app, &req).await? {
        super::CurrentSession::Active(secret, session) => (secret, session),
        _ => {
            let mut resp = redirect(return_url.as_str());
            resp.headers_mut().append(header::SET_COOKIE, cookies::clear_session());
            return Ok(resp);
        }
    };
    let Some(sid) = sid else {
        return Err(BffError::InvalidRequest("logout needs the sid from /auth/session's logoutUrl"));
    };
    if !ct_eq(sid.as_bytes(), secret.logout_token().as_bytes()) {
        return Err(BffError::InvalidRequest("the sid does not match this session"));
    }

    let tokens = open_tokens(&session, &secret).ok();
    app.store.delete_session(&session.key).await?;
    if let Some(rt) = tokens.as_ref().and_then(|t| t.refresh_token.as_deref()) {
        app.revoke(rt).await;
    }

    let end_session = app.idp.discovery().await.ok().and_then(|d| d.end_session_endpoint.clone());
    let location = match (end_session, tokens.and_then(|t| t.id_token)) {
        (Some(endpoint), Some(id_token)) => match url::Url::parse(&endpoint) {
            Ok(mut url) => {
                url.query_pairs_mut()
                    .append_pair("id_token_hint", &id_token)
                    .append_pair("post_logout_redirect_uri", &app.config.post_logout_redirect_uri);
                url.to_string()
            }
            Err(_) => return_url.as_str().to_string(),
        },
        _ => return_url.as_str().to_string(),
    };
    let mut resp = redirect(&location);
    resp.headers_mut().append(header::SET_COOKIE, cookies::clear_session());
    tracing::info!("signed out");
    crate::metrics::count("SignOuts");
    Ok(resp)
}
