//! `GET /auth/callback?code&state[&iss]` (query mode) or `POST /auth/callback` (form_post hybrid mode):
//! finishes a sign-in. The pending login is consumed exactly once, only by the browser that started it; the code is
//! exchanged with the secret, the PKCE verifier and the exact redirect URI; the ID token is validated; a **new**
//! session is created (never one named by the request) and the browser goes back to its returnUrl.

use super::login::LOGIN_TTL;
use crate::app::App;
use crate::config::ResponseMode;
use crate::cookies;
use crate::error::BffError;
use crate::pkce::state_store_key;
use crate::session::{BrowserBinding, PendingLogin, Session, SessionSecret, TokenSet};
use crate::time::now;
use crate::tokens::TokenError;
use crate::web::{Params, body_bytes, redirect};
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};

/// ID-token claims shown to the SPA by `/auth/session`. Protocol claims (nonce, hashes, sid, …) stay out.
const DISPLAY_CLAIMS: &[&str] = &[
    "sub",
    "id",
    "name",
    "email",
    "locale",
    "user_type",
    "is_admin",
    "db",
    "given_name",
    "family_name",
    "preferred_username",
];

fn failed(error: &str, detail: &'static str) -> BffError {
    BffError::LoginFailed { error: error.to_string(), detail }
}

/// An IdP's error code, reduced to what can safely travel in a URL and a log line.
fn sanitize_code(code: &str) -> String {
    let c: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
    if c.is_empty() { "unknown_error".into() } else { c }
}

/// A browser navigating here (it asked for HTML) is sent back to the app with `login_error=<code>` — to the
/// returnUrl when the attempt is known, else to `/` — instead of being shown a JSON page; anything else (an XHR, a
/// test client, an API tool) gets the problem+json.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    let navigation = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/html")));
    let mut known_return: Option<crate::return_url::ReturnUrl> = None;
    match finish(app, &req, &mut known_return).await {
        Err(e) if navigation => {
            if e.is_server_side() {
                tracing::error!(code = e.code(), error = %e, "sign-in failed");
            }
            let code = match &e {
                BffError::LoginFailed { error, .. } => sanitize_code(error),
                other => other.code().to_string(),
            };
            tracing::info!(code = %code, "sign-in failed; browser sent back to the app");
            crate::metrics::count_with("SignInFailures", "Reason", &code);
            Ok(redirect(
                &known_return.unwrap_or_else(crate::return_url::ReturnUrl::root).with_param("login_error", &code),
            ))
        }
        other => other,
    }
}

async fn finish(
    app: &App,
    req: &Request,
    known_return: &mut Option<crate::return_url::ReturnUrl>,
) -> Result<Response<Body>, BffError> {
    let form_post = app.config.response_mode == ResponseMode::FormPost;
    let params = match (req.method(), form_post) {
        (&Method::GET, false) => Params::from_query(req),
        (&Method::POST, true) => {
            let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
                return Err(BffError::InvalidRequest("the callback expects an application/x-www-form-urlencoded body"));
            }
            if body_bytes(req).len() > 64 * 1024 {
                return Err(BffError::PayloadTooLarge);
            }
            Params::parse(body_bytes(req))
        }
        _ => {
            return Err(BffError::MethodNotAllowed { allow: if form_post { "POST" } else { "GET" } });
        }
    };

    let state = params.single("state")?.ok_or(BffError::InvalidRequest("the callback has no state"))?;
    if state.is_empty() || state.len() > 512 {
        return Err(failed(
            "invalid_state",
            "This sign-in is unknown, already completed, or was started in another browser.",
        ));
    }
    let cookie_name = cookies::login_name(state);
    let binding = cookies::read(req.headers(), &cookie_name)
        .map_err(|_| BffError::InvalidRequest("the login cookie was sent more than once"))?
        .and_then(BrowserBinding::parse)
        .ok_or_else(|| {
            failed("login_not_bound", "This browser has no sign-in in progress (it may have taken over 10 minutes).")
        })?;

    let key = state_store_key(state);
    let pending = app
        .store
        .take_login(&key, &binding.binding_hash())
        .await?
        .and_then(|stored| PendingLogin::open(&stored.sealed, &binding, &key))
        .ok_or_else(|| {
            failed("invalid_state", "This sign-in is unknown, already completed, or was started in another browser.")
        })?;
    if now() > pending.created_at + LOGIN_TTL.as_secs() as i64 {
        return Err(failed("login_expired", "The sign-in took too long. Start again."));
    }
    let return_url = pending.return_url();
    *known_return = Some(return_url.clone());
    // The attempt is consumed: its cookie goes, whatever happens next.
    let clear_cookie = cookies::clear_login(&cookie_name, form_post);

    if let Some(error) = params.single("error")? {
        let code = sanitize_code(error);
        tracing::info!(error = %code, "identity server returned an error");
        crate::metrics::count_with("SignInFailures", "Reason", &code);
        let mut resp = redirect(&return_url.with_param("login_error", &code));
        resp.headers_mut().append(header::SET_COOKIE, clear_cookie);
        return Ok(resp);
    }

    // RFC 9207: the response must come from our issuer (mix-up defence). A response carrying an ID token names its
    // issuer in the token (validated below), so `iss` may be absent there (RFC 9207 §2.4).
    let discovery = app.idp.discovery().await?;
    let has_id_token = params.single("id_token")?.is_some();
    match params.single("iss")? {
        Some(iss) if iss != app.idp.issuer() => {
            return Err(failed("issuer_mismatch", "The sign-in response came from an unexpected issuer."));
        }
        None if discovery.authorization_response_iss_parameter_supported && !has_id_token => {
            return Err(failed("issuer_missing", "The sign-in response did not name its issuer."));
        }
        _ => {}
    }

    let code = params.single("code")?.filter(|c| !c.is_empty() && c.len() <= 4096);
    let code = code.ok_or(BffError::InvalidRequest("the callback has no code"))?;

    // Hybrid flow: the front-channel ID token must be ours and bound to this code and state.
    let front_sub = if form_post {
        let id_token = params
            .single("id_token")?
            .ok_or_else(|| failed("invalid_id_token", "The sign-in response has no ID token."))?;
        let claims = app.idp.validate_id_token(id_token, &pending.nonce, Some(code), Some(state)).await?;
        claims.get("sub").cloned()
    } else {
        None
    };

    let tokens = app.exchange_code(code, &pending.verifier).await.map_err(|e| match e {
        TokenError::Rejected(error) => failed(&error, "The identity server refused the sign-in code."),
        TokenError::Misconfigured(error) => {
            BffError::Misconfigured(format!("token endpoint refused the client: {error}"))
        }
        TokenError::Unavailable(e) => e,
    })?;
    let id_token =
        tokens.id_token.clone().ok_or_else(|| failed("invalid_id_token", "The token response has no ID token."))?;
    let claims = app.idp.validate_id_token(&id_token, &pending.nonce, None, None).await?;
    if front_sub.is_some() && front_sub.as_ref() != claims.get("sub") {
        return Err(failed("invalid_id_token", "The two ID tokens name different users."));
    }

    let user_id = claims
        .get("id")
        .or_else(|| claims.get("sub"))
        .and_then(Value::as_str)
        .ok_or_else(|| failed("invalid_id_token", "The ID token names no user."))?
        .to_string();
    let display: Map<String, Value> = claims
        .iter()
        .filter(|(k, _)| DISPLAY_CLAIMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    // No fixation: the previous session of this browser (if any) ends, and a fresh secret names the new one.
    if let Ok(Some(old)) = cookies::read(req.headers(), cookies::SESSION)
        && let Some(old) = SessionSecret::parse(old)
    {
        app.store.delete_session(&old.key()).await?;
    }
    let secret = SessionSecret::generate();
    let now = now();
    let lifetime = tokens.lifetime();
    let token_set =
        TokenSet { access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: Some(id_token) };
    let absolute = app.config.session_absolute_lifetime.as_secs() as i64;
    let session = Session {
        key: secret.key(),
        user_id,
        claims: display,
        sealed_tokens: token_set.seal(&secret),
        access_expires_at: now + lifetime,
        access_lifetime: lifetime,
        created_at: now,
        last_seen: now,
        absolute_expires_at: now + absolute,
        version: 1,
        lease_until_ms: 0,
    };
    let ttl = session.expires_at(app.config.session_idle_timeout.as_secs() as i64);
    app.store.create_session(&session, ttl).await?;

    let mut resp = redirect(return_url.as_str());
    resp.headers_mut()
        .append(header::SET_COOKIE, cookies::set_session(secret.cookie_value(), app.config.session_absolute_lifetime));
    resp.headers_mut().append(header::SET_COOKIE, clear_cookie);
    tracing::info!("signed in");
    crate::metrics::count("SignIns");
    Ok(resp)
}
