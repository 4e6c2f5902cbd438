//! The headers that pass the proxy, both ways: allowlists, the ERP cookies only, `Location` rewritten to `/api/…`.

use crate::config::BaseUrl;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, header};

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

/// The headers that come back: an allowlist, never `Set-Cookie`; `Location` on the API rewritten to `/api/…`.
pub fn downstream_response_headers(upstream: &HeaderMap, api_base: &BaseUrl) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if !FORWARD_RESPONSE.contains(&n) {
            continue;
        }
        if name == header::LOCATION
            && let Some(rewritten) = value.to_str().ok().and_then(|v| rewrite_url(v, api_base.as_str()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let out = downstream_response_headers(&h, &BaseUrl::parse("API_BASE", "https://erp.example/api").unwrap());
        assert!(!out.contains_key("set-cookie") && !out.contains_key("server"));
        assert_eq!(out["location"], "/api/domain/odata/X(1)");
        assert_eq!(out["etag"], "W/\"1\"");
    }
}
