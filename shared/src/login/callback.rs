//! Reading the identity server's answer at `/auth/callback`: the parameters (query or form_post), the issuer check
//! (RFC 9207), and turning the code into a validated sign-in ([`sign_in`]: exchange + ID-token validation).

use super::pending::{self, Consumed, PendingLogin};
use super::return_url::ReturnUrl;
use crate::config::ResponseMode;
use crate::error::BffError;
use crate::http::params::{Params, body_bytes};
use crate::http::respond::redirect;
use crate::idp::IdentityServer;
use crate::idp::token_endpoint::TokenError;
use crate::instance::Instance;
use crate::login::store::PendingLogins;
use crate::metrics::Metric;
use crate::session::SignedIn;
use crate::session::tokens::TokenSet;
use crate::session::user::UserId;
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

/// Every error code OAuth 2.0 and OpenID Connect define for the answers the BFF reads: the authorization response
/// (RFC 6749 4.1.2.1; OpenID Connect Core 3.1.2.6), the token endpoint (RFC 6749 5.2) and resource indicators
/// (RFC 8707 2, `invalid_target`).
pub const STANDARD_ERRORS: &[&str] = &[
    // RFC 6749 4.1.2.1 and 5.2
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "invalid_client",
    "invalid_grant",
    "unsupported_grant_type",
    // OpenID Connect Core 1.0 3.1.2.6
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
    // RFC 8707 2
    "invalid_target",
];

/// An error code the identity server (or whoever sent the browser to the callback) answered, as one of the
/// [`STANDARD_ERRORS`], exactly as spelled there; anything else is `other`. It becomes a metric dimension, a log
/// field and the `login_error` parameter, so the set of values must be closed: a caller cannot mint new ones.
pub fn standard_error(code: &str) -> &'static str {
    STANDARD_ERRORS.iter().find(|c| **c == code).copied().unwrap_or("other")
}

/// Whether the request is a browser navigation (it asked for HTML), as opposed to an XHR or an API tool.
pub fn is_navigation(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// The callback's parameters: from the query of a GET (query mode) or the form body of a POST (form_post mode).
/// The callback's parameters, and the pending login their `state` names, consumed (see `pending::consume`).
pub async fn take(logins: &PendingLogins, instance: &Instance, req: &Request) -> Result<(Params, Consumed), BffError> {
    let params = read_params(req, instance.idp.config().response_mode)?;
    let state = params.single("state")?.ok_or(BffError::InvalidRequest("the callback has no state"))?;
    let login = pending::consume(logins, instance, req.headers(), state).await?;
    Ok((params, login))
}

pub fn read_params(req: &Request, mode: ResponseMode) -> Result<Params, BffError> {
    match (req.method(), mode) {
        (&Method::GET, ResponseMode::Query) => Ok(Params::from_query(req)),
        (&Method::POST, ResponseMode::FormPost) => {
            let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
                return Err(BffError::InvalidRequest("the callback expects an application/x-www-form-urlencoded body"));
            }
            if body_bytes(req).len() > 64 * 1024 {
                return Err(BffError::PayloadTooLarge);
            }
            Ok(Params::parse(body_bytes(req)))
        }
        (_, ResponseMode::Query) => Err(BffError::MethodNotAllowed { allow: "GET" }),
        (_, ResponseMode::FormPost) => Err(BffError::MethodNotAllowed { allow: "POST" }),
    }
}

/// RFC 9207: the response must come from our issuer (mix-up defence). Only an ID token that is validated (its
/// `iss` included) may stand in for a missing `iss` (RFC 9207 §2.4): in form_post (hybrid) mode [`sign_in`] requires
/// and validates the front-channel ID token. In query mode an `id_token` parameter is never read, so it changes
/// nothing here: a missing `iss` is `issuer_missing` whatever else the response carries.
async fn check_issuer(idp: &IdentityServer, params: &Params) -> Result<(), BffError> {
    let discovery = idp.discovery().await?;
    let validated_id_token = idp.config().form_post() && params.single("id_token")?.is_some();
    match params.single("iss")? {
        Some(iss) if iss != idp.issuer() => {
            Err(BffError::login_failed("issuer_mismatch", "The sign-in response came from an unexpected issuer."))
        }
        None if discovery.authorization_response_iss_parameter_supported && !validated_id_token => {
            Err(BffError::login_failed("issuer_missing", "The sign-in response did not name its issuer."))
        }
        _ => Ok(()),
    }
}

/// Finishes a successful authorization response: checks the issuer, validates the front-channel ID token (hybrid
/// flow, bound to this code and state), exchanges the code and validates the token response's ID token.
pub async fn sign_in(idp: &IdentityServer, params: &Params, pending: &PendingLogin) -> Result<SignedIn, BffError> {
    check_issuer(idp, params).await?;
    let code = params.single("code")?.filter(|c| !c.is_empty() && c.len() <= 4096);
    let code = code.ok_or(BffError::InvalidRequest("the callback has no code"))?;
    let front_sub = if idp.config().form_post() {
        let id_token = params
            .single("id_token")?
            .ok_or_else(|| BffError::login_failed("invalid_id_token", "The sign-in response has no ID token."))?;
        let claims = idp.validate_id_token(id_token, &pending.nonce, Some(code), params.single("state")?).await?;
        claims.get("sub").cloned()
    } else {
        None
    };

    let tokens = idp.exchange_code(code, &pending.verifier).await.map_err(|e| match e {
        TokenError::Rejected(error) => {
            BffError::login_failed(standard_error(&error), "The identity server refused the sign-in code.")
        }
        TokenError::Misconfigured(error) => {
            BffError::Misconfigured(format!("token endpoint refused the client: {error}"))
        }
        TokenError::Unavailable(e) => e,
        TokenError::NotBearer => BffError::login_failed(
            "invalid_token_response",
            "The identity server's token response is not a Bearer token response.",
        ),
    })?;
    let id_token = tokens
        .id_token
        .clone()
        .ok_or_else(|| BffError::login_failed("invalid_id_token", "The token response has no ID token."))?;
    let claims = idp.validate_id_token(id_token.expose(), &pending.nonce, None, None).await?;
    if front_sub.is_some() && front_sub.as_ref() != claims.get("sub") {
        return Err(BffError::login_failed("invalid_id_token", "The two ID tokens name different users."));
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
    // The user's key is ERP.net's stable `id` (a GUID), never the login: a login changes on rename.
    let user_id = UserId::from_claims(claims.get("id").and_then(Value::as_str), &sub)
        .ok_or_else(|| BffError::login_failed("invalid_id_token", "The ID token names no user."))?;
    let idp_sid = claims.get("sid").and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    let display: Map<String, Value> =
        claims.into_iter().filter(|(k, _)| DISPLAY_CLAIMS.contains(&k.as_str())).collect();
    let lifetime = tokens.lifetime();
    let tokens =
        TokenSet { access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: Some(id_token) };
    Ok(SignedIn { sub, idp_sid, user_id, claims: display, tokens, access_lifetime: lifetime })
}

/// A sign-in that failed (`routes::callback`): a navigating browser goes back to the app with `login_error`; anything else gets the problem+json.
pub fn failed(req: &Request, e: BffError, return_url: Option<ReturnUrl>) -> Result<Response<Body>, BffError> {
    if is_navigation(req) { Ok(back_to_app(e, return_url)) } else { Err(e) }
}

fn back_to_app(e: BffError, return_url: Option<ReturnUrl>) -> Response<Body> {
    if e.is_server_side() {
        tracing::error!(code = e.code(), error = %e, "sign-in failed");
    }
    let code = match &e {
        BffError::LoginFailed { error, .. } => error,
        other => other.code(),
    };
    tracing::info!(code, "sign-in failed; browser sent back to the app");
    Metric::SignInFailures.count_because(code);
    redirect(&return_url.unwrap_or_else(ReturnUrl::root).with_param("login_error", code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_the_standard_ones_or_other() {
        for code in STANDARD_ERRORS {
            assert_eq!(standard_error(code), *code);
        }
        assert_eq!(STANDARD_ERRORS.len(), 20);
        for made_up in
            ["", "other_thing", "ACCESS_DENIED", "access_denied ", "access_denied2", "<script>", &"a".repeat(5000)]
        {
            assert_eq!(standard_error(made_up), "other", "{made_up:?}");
        }
    }
}
