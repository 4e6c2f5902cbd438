//! The headers that pass the proxy, both ways: allowlists, the ERP cookies only, `Location` rewritten to `/api/…`
//! (or refused: a redirect off the API base never reaches the browser).

use crate::config::BaseUrl;
use crate::error::BffError;
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};

const FORWARD_REQUEST: &[&str] =
    &["accept", "accept-language", "content-type", "prefer", "transactionid", "if-match", "if-none-match"];
const FORWARD_COOKIES: &[&str] = &["ErpContextParameters", ".AspNetCore.Culture"];
const FORWARD_RESPONSE: &[&str] =
    &["content-type", "etag", "odata-version", "preference-applied", "location", "retry-after"];

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
    let erp: Vec<String> = crate::http::cookies::all(incoming)
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

/// The headers that come back: an allowlist, never `Set-Cookie` or `Cache-Control` (the caller sets its own).
/// `Location` on the API base is rewritten to `/api/…`; one elsewhere is dropped, and on a redirect (3xx) it is
/// `upstream_redirect`: a 307/308 would make `fetch` re-send the body to another site.
pub fn downstream_response_headers(
    status: StatusCode,
    upstream: &HeaderMap,
    api_base: &BaseUrl,
) -> Result<HeaderMap, BffError> {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        if !FORWARD_RESPONSE.contains(&name.as_str()) {
            continue;
        }
        if name != header::LOCATION {
            out.append(name.clone(), value.clone());
            continue;
        }
        match value
            .to_str()
            .ok()
            .and_then(|v| rewrite_location(v, api_base))
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            Some(local) => {
                out.append(header::LOCATION, local);
            }
            None if status.is_redirection() => return Err(BffError::UpstreamRedirect),
            None => {}
        }
    }
    Ok(out)
}

/// `{API_BASE}/rest` (absolute, or the same path without the origin) → `/api/rest`; anything else: `None`.
fn rewrite_location(url: &str, api_base: &BaseUrl) -> Option<String> {
    let same_origin = || url.strip_prefix(api_base.path()).filter(|_| url.starts_with('/'));
    let rest = url.strip_prefix(api_base.as_str()).or_else(same_origin);
    rest.filter(|rest| rest.starts_with('/') && !rest.starts_with("//")).map(|rest| format!("/api{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderName;

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
            ("cookie", "__Host-Http-bff-session=secret; ErpContextParameters=ctx; other=1; .AspNetCore.Culture=c=bg"),
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
        h.append("cache-control", HeaderValue::from_static("public, max-age=86400"));
        let base = BaseUrl::parse("API_BASE", "https://erp.example/api").unwrap();
        let out = downstream_response_headers(StatusCode::CREATED, &h, &base).unwrap();
        assert!(!out.contains_key("set-cookie") && !out.contains_key("server") && !out.contains_key("cache-control"));
        assert_eq!(out["location"], "/api/domain/odata/X(1)");
        assert_eq!(out["etag"], "W/\"1\"");
    }

    #[test]
    fn a_redirect_off_the_api_base_is_refused() {
        let base = BaseUrl::parse("API_BASE", "https://erp.example/api").unwrap();
        let with = |loc: &'static str| {
            let mut h = HeaderMap::new();
            h.append("location", HeaderValue::from_static(loc));
            h
        };
        for off in [
            "http://evil.example/api/x",
            "https://erp.example/apix/y",
            "https://erp.example.evil/api/x",
            "//evil.example/api/x",
            "/id/connect/authorize",
            "/api//evil.example/x",
            "https://erp.example/api",
        ] {
            for status in [StatusCode::FOUND, StatusCode::TEMPORARY_REDIRECT, StatusCode::PERMANENT_REDIRECT] {
                let e = downstream_response_headers(status, &with(off), &base).unwrap_err();
                assert_eq!(e.code(), "upstream_redirect", "{off}");
            }
            let out = downstream_response_headers(StatusCode::CREATED, &with(off), &base).unwrap();
            assert!(!out.contains_key("location"), "{off} is dropped from a non-redirect");
        }
        for (on, local) in
            [("https://erp.example/api/x?a=1", "/api/x?a=1"), ("/api/domain/odata/X", "/api/domain/odata/X")]
        {
            let out = downstream_response_headers(StatusCode::FOUND, &with(on), &base).unwrap();
            assert_eq!(out["location"], local);
        }
    }
}
