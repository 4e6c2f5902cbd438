//! The gate in front of the routes: the front door's secret header (every route), the method, and for every
//! non-navigation route the `Origin` and CSRF checks.

use crate::config::{FrontDoorSecret, Origin};
use crate::error::BffError;
use lambda_http::Request;
use lambda_http::http::{HeaderMap, Method, header};

/// Refuses any method but `allowed` (answering `405` with `Allow: allow`).
pub fn require_method(req: &Request, allowed: &[Method], allow: &'static str) -> Result<(), BffError> {
    if allowed.contains(req.method()) { Ok(()) } else { Err(BffError::MethodNotAllowed { allow }) }
}

/// The gate in front of every non-navigation route: `Origin`, when present, must be the app's own; the request
/// must carry `X-CSRF: 1` (a header a cross-site form or image cannot send, and that forces a CORS preflight,
/// which the BFF never grants).
pub fn require_csrf(headers: &HeaderMap, origin: &Origin) -> Result<(), BffError> {
    let origins: Vec<_> = headers.get_all(header::ORIGIN).iter().collect();
    match origins.as_slice() {
        [] => {}
        [one] if one.as_bytes() == origin.as_str().as_bytes() => {}
        _ => return Err(BffError::OriginNotAllowed),
    }
    if is_cross_site(headers) {
        return Err(BffError::OriginNotAllowed);
    }
    let csrf: Vec<_> = headers.get_all("x-csrf").iter().collect();
    match csrf.as_slice() {
        [one] if one.as_bytes() == b"1" => Ok(()),
        _ => Err(BffError::CsrfRequired),
    }
}

/// Whether a browser marked the request `Sec-Fetch-Site: cross-site`: it was started by a page on another site (a
/// link, a form, an image). Such a request carries no `SameSite=Strict` cookie, so it must not be read as "no
/// session here".
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site")
}

/// Whether the request is a top-level navigation as far as fetch metadata tells: `Sec-Fetch-Dest: document`, or no
/// `Sec-Fetch-Dest` at all (a browser that predates fetch metadata, or a tool). An `<img>`, `<iframe>`, `<script>` or
/// `fetch()` says otherwise.
pub fn is_top_level_navigation(headers: &HeaderMap) -> bool {
    let dests: Vec<_> = headers.get_all("sec-fetch-dest").iter().collect();
    match dests.as_slice() {
        [] => true,
        [one] => one.as_bytes() == b"document",
        _ => false,
    }
}

/// The header CloudFront adds to every request it sends to the HTTP API (an origin custom header): a request
/// without it came around the front door (the `execute-api` endpoint), past its TLS policy, headers and WAF.
pub const FRONT_DOOR_HEADER: &str = "x-bff-front-door";

/// Refuses a request that did not come through the front door: exactly one [`FRONT_DOOR_HEADER`] with the secret
/// (compared in constant time). `403 origin_not_allowed`, as for a foreign `Origin`.
pub fn require_front_door(headers: &HeaderMap, secret: Option<&FrontDoorSecret>) -> Result<(), BffError> {
    let Some(secret) = secret else { return Ok(()) };
    let given: Vec<_> = headers.get_all(FRONT_DOOR_HEADER).iter().collect();
    match given.as_slice() {
        [one] if crate::crypto::ct_eq(one.as_bytes(), secret.as_bytes()) => Ok(()),
        _ => Err(BffError::OriginNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn config() -> Origin {
        Origin::parse("PUBLIC_ORIGIN", "https://app.example").unwrap()
    }

    #[test]
    fn csrf_gate() {
        let c = config();
        let mut h = HeaderMap::new();
        assert!(matches!(require_csrf(&h, &c), Err(BffError::CsrfRequired)));
        h.insert("x-csrf", HeaderValue::from_static("1"));
        assert!(require_csrf(&h, &c).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://app.example"));
        assert!(require_csrf(&h, &c).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(matches!(require_csrf(&h, &c), Err(BffError::OriginNotAllowed)));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(matches!(require_csrf(&h, &c), Err(BffError::OriginNotAllowed)));
        h.remove(header::ORIGIN);
        h.insert("x-csrf", HeaderValue::from_static("0"));
        assert!(matches!(require_csrf(&h, &c), Err(BffError::CsrfRequired)));
    }

    #[test]
    fn fetch_metadata_navigation_and_site() {
        let mut h = HeaderMap::new();
        assert!(is_top_level_navigation(&h) && !is_cross_site(&h), "no fetch metadata: judged by the rest");
        h.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(is_top_level_navigation(&h) && !is_cross_site(&h));
        for dest in ["image", "iframe", "empty", "script", "frame", "Document"] {
            h.insert("sec-fetch-dest", HeaderValue::from_str(dest).unwrap());
            assert!(!is_top_level_navigation(&h), "{dest}");
        }
        h.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        h.append("sec-fetch-dest", HeaderValue::from_static("document"));
        assert!(!is_top_level_navigation(&h), "sent twice");
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(is_cross_site(&h));
    }

    #[test]
    fn front_door_gate() {
        let secret = crate::config::FrontDoorSecret::parse("FRONT_DOOR_SECRET", &"s".repeat(40)).unwrap();
        assert!(crate::config::FrontDoorSecret::parse("FRONT_DOOR_SECRET", "short").is_err());
        assert_eq!(format!("{secret:?}"), "FrontDoorSecret(..)");
        let mut h = HeaderMap::new();
        assert!(require_front_door(&h, None).is_ok(), "no secret configured: no check");
        assert!(matches!(require_front_door(&h, Some(&secret)), Err(BffError::OriginNotAllowed)));
        h.insert(FRONT_DOOR_HEADER, HeaderValue::from_str(&"s".repeat(39)).unwrap());
        assert!(require_front_door(&h, Some(&secret)).is_err());
        h.insert(FRONT_DOOR_HEADER, HeaderValue::from_str(&"s".repeat(40)).unwrap());
        assert!(require_front_door(&h, Some(&secret)).is_ok());
        h.append(FRONT_DOOR_HEADER, HeaderValue::from_str(&"s".repeat(40)).unwrap());
        assert!(require_front_door(&h, Some(&secret)).is_err(), "exactly one");
    }
}
