//! `GET /auth/login?returnUrl=/x[&prompt=login]`: starts a sign-in. Fresh state, nonce and PKCE verifier per
//! attempt, stored server-side (sealed, 10 minutes) and bound to this browser by the login cookie; 302 to the
//! identity server's authorize endpoint.

use crate::app::App;
use crate::config::ResponseMode;
use crate::cookies;
use crate::error::BffError;
use crate::pkce::{Nonce, PkceVerifier, State};
use crate::return_url::ReturnUrl;
use crate::session::{BrowserBinding, PendingLogin};
use crate::time::now;
use crate::web::{Params, redirect};
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use std::time::Duration;

/// How long a started sign-in may take.
pub const LOGIN_TTL: Duration = Duration::from_secs(600);

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    super::require_method(&req, &[Method::GET], "GET")?;
    let params = Params::from_query(&req);
    // A duplicated or unsafe returnUrl is not worth failing a sign-in over: it becomes `/`.
    let return_url = ReturnUrl::parse_or_root(params.single("returnUrl").ok().flatten());
    let prompt_login = matches!(params.single("prompt"), Ok(Some("login")));

    // A binding of this attempt's own, in a cookie of its own: logins in several tabs never disturb each other.
    let binding = BrowserBinding::generate();
    let (state, nonce, verifier) = (State::generate(), Nonce::generate(), PkceVerifier::generate());
    let created_at = now();
    let pending = PendingLogin {
        verifier: verifier.expose().to_string(),
        nonce: nonce.expose().to_string(),
        return_url: return_url.as_str().to_string(),
        created_at,
    };
    // Discovery first: with the identity server down nothing is written (no pending login left behind).
    let discovery = app.idp.discovery().await?;
    let key = state.store_key();
    let ttl = created_at + LOGIN_TTL.as_secs() as i64;
    app.store.put_login(&key, &binding.binding_hash(), pending.seal(&binding, &key), created_at, ttl).await?;

    let mut url = url::Url::parse(&discovery.authorization_endpoint)
        .map_err(|_| BffError::Misconfigured("discovery's authorization_endpoint is not a URL".into()))?;
    let form_post = app.config.response_mode == ResponseMode::FormPost;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &app.config.client_id)
            .append_pair("redirect_uri", &app.config.redirect_uri)
            .append_pair("response_type", if form_post { "code id_token" } else { "code" })
            .append_pair("scope", &app.config.scopes)
            .append_pair("state", state.expose())
            .append_pair("nonce", nonce.expose())
            .append_pair("code_challenge", &verifier.challenge())
            .append_pair("code_challenge_method", "S256");
        if form_post {
            q.append_pair("response_mode", "form_post");
        }
        if prompt_login {
            q.append_pair("prompt", "login");
        }
    }
    let mut resp = redirect(url.as_str());
    let cookie = cookies::set_login(&cookies::login_name(state.expose()), binding.cookie_value(), LOGIN_TTL, form_post);
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    tracing::info!("sign-in started");
    Ok(resp)
}
