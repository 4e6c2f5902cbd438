//! The API proxy's pure parts: which paths may pass ([`ProxyPath`]), which headers go up and come back, and the
//! rewriting of absolute ERP.net links to the BFF's `/api/…`.

use crate::error::BffError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::{self, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use std::time::Duration;

/// The HTTP client for the ERP.net API: hyper, so the request target is sent exactly as given (no URL
/// normalisation); pooled keep-alive connections across invocations; never follows redirects (SSRF).
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

/// What came back from the API, body read in full (bounded by the Lambda response limit).
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl UpstreamClient {
    pub fn new(timeout: Duration, tls: rustls::ClientConfig) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(3)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(https);
        Self { client, timeout }
    }

    /// Sends one request; the whole exchange (connect, headers, body) is bounded by the upstream timeout.
    pub async fn send(
        &self,
        method: &Method,
        uri: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, BffError> {
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(Full::new(body))
            .map_err(|_| BffError::InvalidRequest("the request cannot be forwarded"))?;
        *req.headers_mut() = headers.clone();
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| BffError::UpstreamUnavailable(e.to_string()))?;
            let (parts, body) = resp.into_parts();
            if parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|n| n > LAMBDA_RESPONSE_LIMIT)
            {
                return Err(BffError::UpstreamResponseTooLarge);
            }
            let body = Limited::new(body, LAMBDA_RESPONSE_LIMIT).collect().await.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    BffError::UpstreamResponseTooLarge
                } else {
                    BffError::UpstreamUnavailable(format!("response body: {e}"))
                }
            })?;
            Ok(UpstreamResponse { status: parts.status, headers: parts.headers, body: body.to_bytes() })
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| BffError::UpstreamTimeout)?
    }
}

/// A path under the API base that is safe to append to it and falls under the allowlist. Parsing refuses
/// dot-segments, empty segments, backslashes, `@`, encoded `.` `/` `\` `%` (double encoding) and control
/// characters, and anything outside RFC 3986's path characters: what passes is forwarded byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPath(String);

pub const MAX_PATH_LEN: usize = 2048;

impl ProxyPath {
    /// `raw` is the request path after `/api/`, exactly as it came on the wire (not decoded).
    pub fn parse(raw: &str, allowlist: &[String]) -> Result<Self, BffError> {
        if raw.is_empty() || raw.len() > MAX_PATH_LEN {
            return Err(BffError::PathNotAllowed);
        }
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'%' => {
                    let hex = bytes.get(i + 1..i + 3).ok_or(BffError::PathNotAllowed)?;
                    let h = std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                    match h {
                        None => return Err(BffError::PathNotAllowed),
                        Some(b'.' | b'/' | b'\\' | b'%' | b'@' | b'?' | b'#') => {
                            return Err(BffError::PathNotAllowed);
                        }
                        Some(v) if v < 0x20 || v == 0x7f => return Err(BffError::PathNotAllowed),
                        Some(_) => {}
                    }
                    i += 3;
                    continue;
                }
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => {}
                b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';'
                | b'=' | b':' => {}
                b'/' => {}
                _ => return Err(BffError::PathNotAllowed),
            }
            i += 1;
        }
        let segments: Vec<&str> = raw.split('/').collect();
        let last = segments.len() - 1;
        for (n, seg) in segments.iter().enumerate() {
            // `..;x` is `..` to some servlet containers: a path parameter does not hide a dot-segment.
            let bare = seg.split(';').next().unwrap_or("");
            if (seg.is_empty() && n != last) || bare == "." || bare == ".." {
                return Err(BffError::PathNotAllowed);
            }
        }
        if !allowlist.iter().any(|prefix| raw.starts_with(prefix.as_str())) {
            return Err(BffError::PathNotAllowed);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const ALLOWED_METHODS: &str = "GET, POST, PATCH, PUT, DELETE";

pub fn check_method(m: &Method) -> Result<(), BffError> {
    match *m {
        Method::GET | Method::POST | Method::PATCH | Method::PUT | Method::DELETE => Ok(()),
        _ => Err(BffError::MethodNotAllowed { allow: ALLOWED_METHODS }),
    }
}

const FORWARD_REQUEST: &[&str] =
    &["accept", "accept-language", "content-type", "prefer", "transactionid", "if-match", "if-none-match"];
const FORWARD_COOKIES: &[&str] = &["ErpContextParameters", ".AspNetCore.Culture"];
const FORWARD_RESPONSE: &[&str] =
    &["content-type", "etag", "odata-version", "preference-applied", "location", "retry-after", "cache-control"];

/// The headers that go upstream: an allowlist (plus `OData-*`) and only the ERP cookies, never the browser's
/// others, `Authorization`, `X-CSRF`, `X-Forwarded-*`, `Host` or hop-by-hop headers.
pub fn upstream_request_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in incoming {
        let n = name.as_str();
        if FORWARD_REQUEST.contains(&n) || n.starts_with("odata-") {
            out.append(name.clone(), value.clone());
        }
    }
    let erp: Vec<String> = crate::cookies::all(incoming)
        .into_iter()
        .filter(|(k, _)| FORWARD_COOKIES.contains(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !erp.is_empty()
        && let Ok(v) = HeaderValue::from_str(&erp.join("; "))
    {
        out.insert(header::COOKIE, v);
    }
    out
}

/// The headers that come back: an allowlist, never `Set-Cookie`; `Location` on the API rewritten to `/api/…`.
pub fn downstream_response_headers(upstream: &HeaderMap, api_base: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if !FORWARD_RESPONSE.contains(&n) {
            continue;
        }
        if name == header::LOCATION
            && let Some(rewritten) = value.to_str().ok().and_then(|v| rewrite_url(v, api_base))
        {
            if let Ok(v) = HeaderValue::from_str(&rewritten) {
                out.append(HeaderName::from_static("location"), v);
            }
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

fn rewrite_url(url: &str, api_base: &str) -> Option<String> {
    url.strip_prefix(api_base).filter(|rest| rest.starts_with('/')).map(|rest| format!("/api{rest}"))
}

/// Rewrites absolute links on the ERP.net API (`@odata.nextLink`, `@odata.context`, …) in a JSON body to the BFF's
/// `/api/…`, by string replacement of the quoted prefix: no parse and re-serialisation of large bodies, and a copy
/// only for a spelling that is present (plain, or with JSON-escaped slashes).
pub fn rewrite_links(body: String, api_base: &str) -> String {
    let plain = format!("\"{api_base}/");
    let body = if body.contains(&plain) { body.replace(&plain, "\"/api/") } else { body };
    let escaped = format!("\"{}\\/", api_base.replace('/', "\\/"));
    if body.contains(&escaped) { body.replace(&escaped, "\"\\/api\\/") } else { body }
}

/// Whether a content type is text the BFF may rewrite and return as text (else the body passes as binary).
pub fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|t| t == "application/json" || t.ends_with("+json"))
}

pub fn is_text(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|t| {
            t.starts_with("text/") || t == "application/json" || t.ends_with("+json") || t.ends_with("xml")
        })
}

/// Lambda's synchronous response limit (6 MB) applies to the whole JSON envelope.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
const ENVELOPE_HEADROOM: usize = 16 * 1024;

/// The size a body takes inside the Lambda response envelope: JSON-escaped text, or base64.
pub fn encoded_size(body: &[u8], as_text: bool) -> usize {
    if as_text {
        body.iter()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
                0..=0x1f => 6,
                _ => 1,
            })
            .sum()
    } else {
        body.len().div_ceil(3) * 4
    }
}

pub fn fits_lambda(body: &[u8], as_text: bool) -> bool {
    encoded_size(body, as_text) + ENVELOPE_HEADROOM <= LAMBDA_RESPONSE_LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Vec<String> {
        vec!["domain/odata/".into()]
    }

    #[test]
    fn allows_odata_paths() {
        for ok in [
            "domain/odata/Crm_Sales_Customers",
            "domain/odata/",
            "domain/odata/$metadata",
            "domain/odata/Crm_Sales_Customers(2b8e1f3a-0000-4000-8000-000000000001)",
            "domain/odata/Crm_Sales_Customers('a%20b')",
            "domain/odata/Crm_Sales_SalesOrders(1)/ChangeState",
        ] {
            assert!(ProxyPath::parse(ok, &allow()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_traversal_and_tricks() {
        for bad in [
            "",
            "domain/odata/../../secret",
            "domain/odata/%2e%2e/x",
            "domain/odata/%2E%2E/x",
            "domain/odata/..%2fx",
            "domain/odata/%2fetc",
            "domain/odata/%5cx",
            "domain/odata\\..\\x",
            "domain/odata/%252e%252e/x",
            "domain/odata//x",
            "domain/odata/./x",
            "http://evil/domain/odata/",
            "//evil/domain/odata/",
            "domain/odata/x@evil",
            "domain/odata/%40",
            "domain/other/x",
            "Domain/OData/x",
            "domain/odata/%",
            "domain/odata/%zz",
            "domain/odata/%00",
            "domain/odata/a b",
            "domain/odata/\u{2025}",
            "admin",
            "domain/odata/x%0d%0aHost:evil",
            "domain/odata/..;/x",
            "domain/odata/.;x/y",
            "domain/odata/x\"",
            "domain/odata/x<",
            "domain/odata/%3f",
            "domain/odata/%23",
        ] {
            assert!(ProxyPath::parse(bad, &allow()).is_err(), "accepted {bad:?}");
        }
        assert!(ProxyPath::parse(&format!("domain/odata/{}", "a".repeat(3000)), &allow()).is_err());
    }

    #[test]
    fn request_headers_are_allowlisted() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("accept", "application/json"),
            ("prefer", "return=representation"),
            ("odata-maxversion", "4.0"),
            ("transactionid", "t1"),
            ("authorization", "Bearer stolen"),
            ("x-csrf", "1"),
            ("x-forwarded-for", "1.2.3.4"),
            ("host", "evil"),
            ("connection", "close"),
            ("cookie", "__Host-bff-session=secret; ErpContextParameters=ctx; other=1; .AspNetCore.Culture=c=bg"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = upstream_request_headers(&h);
        assert_eq!(out.len(), 5);
        assert_eq!(out["cookie"], "ErpContextParameters=ctx; .AspNetCore.Culture=c=bg");
        for gone in ["authorization", "x-csrf", "x-forwarded-for", "host", "connection"] {
            assert!(!out.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn response_headers_are_allowlisted_and_location_rewritten() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=b"));
        h.append("etag", HeaderValue::from_static("W/\"1\""));
        h.append("server", HeaderValue::from_static("kestrel"));
        h.append("location", HeaderValue::from_static("https://erp.example/api/domain/odata/X(1)"));
        let out = downstream_response_headers(&h, "https://erp.example/api");
        assert!(!out.contains_key("set-cookie") && !out.contains_key("server"));
        assert_eq!(out["location"], "/api/domain/odata/X(1)");
        assert_eq!(out["etag"], "W/\"1\"");
    }

    #[test]
    fn rewrites_next_links() {
        let body = r#"{"@odata.context":"https://erp.example/api/domain/odata/$metadata#X","value":[],"@odata.nextLink":"https://erp.example/api/domain/odata/X?$top=5&$skip=5","other":"https://erp.example/apix/y"}"#;
        let out = rewrite_links(body.to_string(), "https://erp.example/api");
        assert!(out.contains(r#""@odata.nextLink":"/api/domain/odata/X?$top=5&$skip=5""#));
        assert!(out.contains(r#""https://erp.example/apix/y""#));
        assert_eq!(rewrite_links(r#"{"value":[]}"#.to_string(), "https://erp.example/api"), r#"{"value":[]}"#);
        let escaped = r#"{"@odata.nextLink":"https:\/\/erp.example\/api\/domain\/odata\/X?$skip=5"}"#;
        assert_eq!(
            rewrite_links(escaped.to_string(), "https://erp.example/api"),
            r#"{"@odata.nextLink":"\/api\/domain\/odata\/X?$skip=5"}"#
        );
    }

    #[test]
    fn lambda_size_accounts_for_encoding() {
        let five_mb = vec![b'a'; 5 * 1024 * 1024];
        assert!(fits_lambda(&five_mb, true));
        assert!(!fits_lambda(&five_mb, false));
        assert!(!fits_lambda(&vec![b'"'; 4 * 1024 * 1024], true));
    }
}
