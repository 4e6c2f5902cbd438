//! The API's answer on its way back: headers allowlisted (a redirect off the API base refused), `Cache-Control:
//! private, no-store`, OData link annotations rewritten (JSON only, [`super::links`]), text or binary, and bounded
//! by Lambda's response limit.

use super::links::rewrite_links;
use super::upstream::UpstreamResponse;
use crate::config::BaseUrl;
use crate::error::BffError;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Response};

/// Every proxied answer's `Cache-Control`, whatever the API said: the answer is one user's data.
pub const PROXIED_CACHE_CONTROL: &str = "private, no-store";

/// The response to the browser for what the API answered: allowlisted headers, the body rewritten and sized.
pub fn respond(up: UpstreamResponse, api_base: &BaseUrl) -> Result<Response<Body>, BffError> {
    let ct = up.headers.get(header::CONTENT_TYPE).cloned();
    let mut headers = super::headers::downstream_response_headers(up.status, &up.headers, api_base)?;
    let body = if is_text(ct.as_ref()) {
        // `Vec::from(Bytes)` takes the buffer without copying when it is the only owner.
        let bytes = Vec::from(up.body);
        let bytes = if is_json(ct.as_ref()) { rewrite_links(&bytes, api_base.as_str()) } else { bytes };
        match String::from_utf8(bytes) {
            Ok(text) => {
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PROXIED_CACHE_CONTROL));
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
    fn lambda_size_accounts_for_encoding() {
        let five_mb = vec![b'a'; 5 * 1024 * 1024];
        assert!(fits_lambda(&five_mb, true));
        assert!(!fits_lambda(&five_mb, false));
        assert!(!fits_lambda(&vec![b'"'; 4 * 1024 * 1024], true));
    }
}
