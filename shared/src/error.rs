//! Every failure the BFF can answer with, and the one place that turns it into `application/problem+json`
//! (RFC 9457) with a stable `code`. Bodies never carry tokens, secrets or internal error text.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;

/// Every problem code the BFF can answer with, and its HTTP status: the one table the status mapping, the docs and
/// the drift test against `openapi.yaml` (in `xtask/`) read.
pub const CODES: &[(&str, u16)] = &[
    ("not_authenticated", 401),
    ("session_expired", 401),
    ("bound_cookie_required", 401),
    ("invalid_session_proof", 403),
    ("csrf_required", 403),
    ("origin_not_allowed", 403),
    ("path_not_allowed", 403),
    ("method_not_allowed", 405),
    ("invalid_request", 400),
    ("invalid_batch", 400),
    ("invalid_logout_token", 400),
    ("not_found", 404),
    ("unknown_instance", 404),
    ("payload_too_large", 413),
    ("login_failed", 400),
    ("idp_unavailable", 502),
    ("idp_timeout", 504),
    ("upstream_unavailable", 502),
    ("upstream_timeout", 504),
    ("upstream_response_too_large", 502),
    ("upstream_redirect", 502),
    ("upstream_unauthorized", 401),
    ("store_unavailable", 503),
    ("misconfigured", 500),
];

#[derive(Debug, thiserror::Error)]
pub enum BffError {
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("session expired")]
    SessionExpired,
    /// A device-bound session (DBSC) without its live bound cookie: a browser with the key renews it; a copied
    /// cookie jar cannot.
    #[error("bound cookie required")]
    BoundCookieRequired,
    /// A DBSC registration or refresh whose proof is refused (signature, key, challenge, or a session already bound).
    #[error("invalid session proof: {0}")]
    InvalidSessionProof(&'static str),
    #[error("X-CSRF header required")]
    CsrfRequired,
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("path not allowed")]
    PathNotAllowed,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A `$batch` body whose inner requests cannot all be read (so not all their URLs can be checked).
    #[error("invalid batch: {0}")]
    InvalidBatch(&'static str),
    /// A back-channel logout token that does not validate (OpenID Connect Back-Channel Logout 1.0, 2.6).
    #[error("invalid logout token: {0}")]
    InvalidLogoutToken(&'static str),
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The request's host names no enabled instance of the registry.
    #[error("unknown instance")]
    UnknownInstance,
    #[error("payload too large")]
    PayloadTooLarge,
    /// The sign-in could not be completed; `error` is one of the codes OAuth 2.0 / OpenID Connect define (see
    /// `login::callback::standard_error`: the identity server's answer, `other` for anything else) or our own.
    #[error("login failed: {error}")]
    LoginFailed { error: &'static str, detail: &'static str },
    #[error("identity server unavailable: {0}")]
    IdpUnavailable(String),
    #[error("identity server timed out")]
    IdpTimeout,
    #[error("upstream unavailable: {0}")]
    UpstreamUnavailable(String),
    #[error("upstream timed out")]
    UpstreamTimeout,
    #[error("upstream response too large")]
    UpstreamResponseTooLarge,
    /// The API redirected somewhere off the API base: never passed to the browser.
    #[error("upstream redirected off the API")]
    UpstreamRedirect,
    /// The API refused a token that was just refreshed: the session stays (only the identity server ends it).
    #[error("upstream refused a fresh token")]
    UpstreamUnauthorized,
    #[error("session store unavailable: {0}")]
    StoreUnavailable(String),
    #[error("misconfigured: {0}")]
    Misconfigured(String),
}

impl BffError {
    /// A sign-in that could not be completed: `error` is a standard code or our own machine code (a closed set:
    /// it becomes a metric dimension and a URL parameter).
    pub fn login_failed(error: &'static str, detail: &'static str) -> Self {
        BffError::LoginFailed { error, detail }
    }

    pub fn status(&self) -> StatusCode {
        let code = self.code();
        let status = CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s).expect("every code is in CODES");
        StatusCode::from_u16(status).expect("CODES holds valid statuses")
    }

    /// The stable machine code clients branch on.
    pub fn code(&self) -> &'static str {
        use BffError::*;
        match self {
            NotAuthenticated => "not_authenticated",
            SessionExpired => "session_expired",
            BoundCookieRequired => "bound_cookie_required",
            InvalidSessionProof(_) => "invalid_session_proof",
            CsrfRequired => "csrf_required",
            OriginNotAllowed => "origin_not_allowed",
            PathNotAllowed => "path_not_allowed",
            MethodNotAllowed { .. } => "method_not_allowed",
            InvalidRequest(_) => "invalid_request",
            InvalidBatch(_) => "invalid_batch",
            InvalidLogoutToken(_) => "invalid_logout_token",
            NotFound(_) => "not_found",
            UnknownInstance => "unknown_instance",
            PayloadTooLarge => "payload_too_large",
            LoginFailed { .. } => "login_failed",
            IdpUnavailable(_) => "idp_unavailable",
            IdpTimeout => "idp_timeout",
            UpstreamUnavailable(_) => "upstream_unavailable",
            UpstreamTimeout => "upstream_timeout",
            UpstreamResponseTooLarge => "upstream_response_too_large",
            UpstreamRedirect => "upstream_redirect",
            UpstreamUnauthorized => "upstream_unauthorized",
            StoreUnavailable(_) => "store_unavailable",
            Misconfigured(_) => "misconfigured",
        }
    }

    fn title(&self) -> &'static str {
        use BffError::*;
        match self {
            NotAuthenticated => "You are not signed in.",
            SessionExpired => "Your session has expired. Sign in again.",
            BoundCookieRequired => "This session is bound to a device and the request lacks its bound cookie.",
            InvalidSessionProof(_) => "The device-bound session proof is not valid.",
            CsrfRequired => "This request needs the header `X-CSRF: 1`.",
            OriginNotAllowed => "Requests from this origin are not allowed.",
            PathNotAllowed => "This API path is not allowed through the BFF.",
            MethodNotAllowed { .. } => "This method is not allowed here.",
            InvalidRequest(_) => "The request is not valid.",
            InvalidBatch(_) => "The $batch body cannot be read, so its requests cannot be checked.",
            InvalidLogoutToken(_) => "The logout token is not valid.",
            NotFound(_) => "Not found.",
            UnknownInstance => "No ERP.net instance is served on this host.",
            PayloadTooLarge => "The request body is too large.",
            LoginFailed { .. } => "Sign-in could not be completed.",
            IdpUnavailable(_) => "The identity server is unavailable.",
            IdpTimeout => "The identity server did not answer in time.",
            UpstreamUnavailable(_) => "The ERP.net API is unavailable.",
            UpstreamTimeout => "The ERP.net API did not answer in time.",
            UpstreamResponseTooLarge => "The ERP.net API response is too large to pass through.",
            UpstreamRedirect => "The ERP.net API redirected outside the API.",
            UpstreamUnauthorized => "The ERP.net API refused the request's credentials. You are still signed in.",
            StoreUnavailable(_) => "The session store is unavailable. Try again shortly.",
            Misconfigured(_) => "The BFF is misconfigured.",
        }
    }

    /// Client-safe detail. Internal causes (`IdpUnavailable(cause)` …) are logged, never sent.
    fn detail(&self) -> Option<&'static str> {
        use BffError::*;
        match self {
            InvalidRequest(d) | InvalidBatch(d) | InvalidLogoutToken(d) | NotFound(d) | InvalidSessionProof(d) => {
                Some(d)
            }
            LoginFailed { detail, .. } => Some(detail),
            UpstreamResponseTooLarge => Some("Page the request with $top (and follow @odata.nextLink)."),
            MethodNotAllowed { .. } => None,
            _ => None,
        }
    }

    /// True where the failure is ours or a dependency's, not the client's: logged at error level.
    pub fn is_server_side(&self) -> bool {
        self.status().is_server_error()
    }

    /// The problem+json response (`app::serve` adds the cookies a `session_expired` clears).
    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let mut body = json!({
            "type": format!("urn:erpnet-bff:problem:{}", self.code()),
            "title": self.title(),
            "status": status.as_u16(),
            "code": self.code(),
        });
        if let Some(d) = self.detail() {
            body["detail"] = json!(d);
        }
        match self {
            BffError::LoginFailed { error, .. } => body["error"] = json!(error),
            // Back-Channel Logout 1.0, 2.8: an OAuth 2.0 error member (RFC 6749 5.2) in the 400.
            BffError::InvalidLogoutToken(_) => body["error"] = json!("invalid_request"),
            _ => {}
        }
        let mut resp = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::Text(body.to_string()))
            .expect("static response parts");
        if let BffError::MethodNotAllowed { allow } = self {
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_has_stable_shape() {
        let r = BffError::CsrfRequired.to_response();
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
        let Body::Text(t) = r.body() else { panic!() };
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        assert_eq!(v["code"], "csrf_required");
        assert_eq!(v["status"], 403);
    }

    #[test]
    fn internal_causes_are_not_sent() {
        // Every variant that carries a cause: the cause is logged, never answered.
        let cause = || "connect to secret-host:443 refused (table bff-secret)".to_string();
        for e in [
            BffError::IdpUnavailable(cause()),
            BffError::UpstreamUnavailable(cause()),
            BffError::StoreUnavailable(cause()),
            BffError::Misconfigured(cause()),
        ] {
            let r = e.to_response();
            let Body::Text(t) = r.body() else { panic!() };
            assert!(!t.contains("secret-host") && !t.contains("bff-secret"), "{}: {t}", e.code());
            assert!(!t.contains("refused"), "{}: {t}", e.code());
        }
    }

    #[test]
    fn every_variant_has_a_code_in_the_table() {
        let all = [
            BffError::NotAuthenticated,
            BffError::SessionExpired,
            BffError::BoundCookieRequired,
            BffError::InvalidSessionProof("x"),
            BffError::CsrfRequired,
            BffError::OriginNotAllowed,
            BffError::PathNotAllowed,
            BffError::MethodNotAllowed { allow: "GET" },
            BffError::InvalidRequest("x"),
            BffError::InvalidBatch("x"),
            BffError::InvalidLogoutToken("x"),
            BffError::NotFound("x"),
            BffError::UnknownInstance,
            BffError::PayloadTooLarge,
            BffError::LoginFailed { error: "e", detail: "d" },
            BffError::IdpUnavailable("x".into()),
            BffError::IdpTimeout,
            BffError::UpstreamUnavailable("x".into()),
            BffError::UpstreamTimeout,
            BffError::UpstreamResponseTooLarge,
            BffError::UpstreamRedirect,
            BffError::UpstreamUnauthorized,
            BffError::StoreUnavailable("x".into()),
            BffError::Misconfigured("x".into()),
        ];
        assert_eq!(all.len(), CODES.len());
        for (e, (code, status)) in all.iter().zip(CODES) {
            assert_eq!((e.code(), e.status().as_u16()), (*code, *status));
        }
    }
}
