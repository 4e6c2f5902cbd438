//! The API's response body on its way back: links rewritten to `/api/…` (JSON only, by string replacement), text
//! or binary, and bounded by Lambda's response limit.

use super::upstream::UpstreamResponse;
use crate::config::BaseUrl;
use crate::error::BffError;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Response};

/// The response to the browser for what the API answered: allowlisted headers, the body rewritten and sized.
pub fn respond(up: UpstreamResponse, api_base: &BaseUrl) -> Result<Response<Body>, BffError> {
    let ct = up.headers.get(header::CONTENT_TYPE).cloned();
    let mut headers = super::headers::downstream_response_headers(&up.headers, api_base);
    let body = if is_text(ct.as_ref()) {
        // `Vec::from(Bytes)` takes the buffer without copying when it is the only owner.
        match String::from_utf8(Vec::from(up.body)) {
            Ok(text) => {
                let text = if is_json(ct.as_ref()) { rewrite_links(text, api_base.as_str()) } else { text };
                if !fits_lambda(text.as_bytes(), true) {
                    return Err(BffError::UpstreamResponseTooLarge);
                }
                Body::Text(text)
            }
            Err(e) => binary(e.into_bytes())?,
        }
    } else if up.body.is_empty() {
        Body::Empty
    } else {
        binary(Vec::from(up.body))?
    };
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    let mut resp = Response::builder().status(up.status).body(body).expect("valid response");
    *resp.headers_mut() = headers;
    Ok(resp)
}

fn binary(bytes: Vec<u8>) -> Result<Body, BffError> {
    if !fits_lambda(&bytes, false) {
        return Err(BffError::UpstreamResponseTooLarge);
    }
    Ok(Body::Binary(bytes))
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
