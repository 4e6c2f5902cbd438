//! Request and response helpers shared by the handlers: query parameters, the CSRF/Origin gate, redirects, JSON.

use crate::config::Config;
use crate::error::BffError;
use lambda_http::http::{HeaderMap, StatusCode, header};
use lambda_http::{Body, Request, Response};

/// Parsed `application/x-www-form-urlencoded` pairs (a query string or a form body).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub fn from_query(req: &Request) -> Self {
        Self::parse(req.uri().query().unwrap_or("").as_bytes())
    }

    /// The single value of `name`. Given twice it is ambiguous, so it is refused rather than guessed.
    pub fn single(&self, name: &str) -> Result<Option<&str>, BffError> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(BffError::InvalidRequest("a parameter was given more than once"));
        }
        Ok(first)
    }
}

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// The gate in front of every non-navigation route: `Origin`, when present, must be the app's own; the request
/// must carry `X-CSRF: 1` (a header a cross-site form or image cannot send, and that forces a CORS preflight,
/// which the BFF never grants).
pub fn require_csrf(headers: &HeaderMap, config: &Config) -> Result<(), BffError> {
    let origins: Vec<_> = headers.get_all(header::ORIGIN).iter().collect();
    match origins.as_slice() {
        [] => {}
        [one] if one.as_bytes() == config.public_origin.as_bytes() => {}
        _ => return Err(BffError::OriginNotAllowed),
    }
    if headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return Err(BffError::OriginNotAllowed);
    }
    let csrf: Vec<_> = headers.get_all("x-csrf").iter().collect();
    match csrf.as_slice() {
        [one] if one.as_bytes() == b"1" => Ok(()),
        _ => Err(BffError::CsrfRequired),
    }
}

pub fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("valid redirect")
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(value.to_string()))
        .expect("valid json response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn config() -> Config {
        Config::from_lookup(|k| {
            Some(
                match k {
                    "ERPNET_URL" => "https://erp.example",
                    "CLIENT_ID" => "c",
                    "CLIENT_SECRET" => "s",
                    "PUBLIC_ORIGIN" => "https://app.example",
                    "SESSION_TABLE" => "t",
                    _ => return None,
                }
                .to_string(),
            )
        })
        .unwrap()
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
    fn duplicate_params_are_refused() {
        let p = Params::parse(b"a=1&b=2&a=3");
        assert!(p.single("a").is_err());
        assert_eq!(p.single("b").unwrap(), Some("2"));
        assert_eq!(p.single("c").unwrap(), None);
    }
}
