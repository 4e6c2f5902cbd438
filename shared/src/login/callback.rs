//! Reading the identity server's answer at `/auth/callback`: the parameters (query or form_post), the issuer check
//! (RFC 9207), and turning the code into a validated sign-in ([`sign_in`]: exchange + ID-token validation).

use super::pending::PendingLogin;
use crate::config::ResponseMode;
use crate::error::BffError;
use crate::http::params::{Params, body_bytes};
use crate::idp::IdentityServer;
use crate::idp::token_endpoint::TokenError;
use crate::session::SignedIn;
use crate::session::tokens::TokenSet;
use lambda_http::Request;
use lambda_http::http::{Method, header};
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

/// An IdP's error code, reduced to what can safely travel in a URL and a log line.
pub fn sanitize_code(code: &str) -> String {
    let c: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
    if c.is_empty() { "unknown_error".into() } else { c }
}

/// Whether the request is a browser navigation (it asked for HTML), as opposed to an XHR or an API tool.
pub fn is_navigation(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// The callback's parameters: from the query of a GET (query mode) or the form body of a POST (form_post mode).
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
        TokenError::Rejected(error) => BffError::login_failed(&error, "The identity server refused the sign-in code."),
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
    let user_id = claims
        .get("id")
        .or_else(|| claims.get("sub"))
        .and_then(Value::as_str)
        .ok_or_else(|| BffError::login_failed("invalid_id_token", "The ID token names no user."))?
        .to_string();
    let display: Map<String, Value> =
        claims.into_iter().filter(|(k, _)| DISPLAY_CLAIMS.contains(&k.as_str())).collect();
    let lifetime = tokens.lifetime();
    let tokens =
        TokenSet { access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: Some(id_token) };
    Ok(SignedIn { user_id, claims: display, tokens, access_lifetime: lifetime })
}
