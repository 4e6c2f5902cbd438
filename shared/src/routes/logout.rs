//! `GET /auth/logout?sid=…&returnUrl=/`: ends the session here and at ERP.net. `sid` (from `/auth/session`'s
//! `logoutUrl`) is required whenever a session exists. The refresh token is revoked when discovery lists a
//! revocation endpoint; the browser goes to ERP.net's end-session endpoint with `id_token_hint`, or to returnUrl when
//! there is none. Logging out twice, or with an expired session, is harmless.
//! A link on another site changes nothing (it carries no Strict cookie): `Sec-Fetch-Site: cross-site` is sent to
//! returnUrl untouched, and only cookies the request carried are ever cleared (browsers without fetch metadata).

use crate::app::App;
use crate::crypto::ct_eq;
use crate::error::BffError;
use crate::http::cookies;
use crate::http::gate::{is_cross_site, require_method};
use crate::http::params::Params;
use crate::http::respond::{redirect, with_cookies};
use crate::login::return_url::ReturnUrl;
use crate::metrics::Metric;
use crate::session::current::CurrentSession;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_method(&req, &[Method::GET], "GET")?;
    let params = Params::from_query(&req);
    let sid = params.single("sid")?;
    let return_url = ReturnUrl::parse_or_root(params.single("returnUrl").ok().flatten());
    if is_cross_site(req.headers()) {
        tracing::info!("cross-site logout navigation: nothing changes");
        return Ok(redirect(return_url.as_str()));
    }
    let tenant = app.tenant(&req).await?;
    let idp = &tenant.instance.idp;
    let (secret, session) = match tenant.current_session_unbound(req.headers()).await? {
        CurrentSession::Active(secret, session) => (secret, session),
        _ => return Ok(with_cookies(redirect(return_url.as_str()), cookies::clear_ended(req.headers()))),
    };
    let sid = sid.ok_or(BffError::InvalidRequest("logout needs the sid from /auth/session's logoutUrl"))?;
    if !ct_eq(sid.as_bytes(), secret.logout_token().as_bytes()) {
        return Err(BffError::InvalidRequest("the sid does not match this session"));
    }

    let tokens = session.tokens(&secret).ok();
    session.end(&app.sessions).await?;
    if let Some(rt) = tokens.as_ref().and_then(|t| t.refresh_token.as_ref()) {
        idp.revoke(rt).await;
    }
    let end_session = match tokens.and_then(|t| t.id_token) {
        Some(id_token) => idp.end_session_url(&id_token).await,
        None => None,
    };
    let location = end_session.unwrap_or_else(|| return_url.as_str().to_string());
    tracing::info!("signed out");
    Metric::SignOuts.count();
    Ok(with_cookies(redirect(&location), cookies::clear_ended(req.headers())))
}
