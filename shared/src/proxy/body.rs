//! The API's answer on its way back: headers allowlisted (a redirect off the API base refused), `Cache-Control:
//! private, no-store`, the body streamed ([`super::stream`]) with OData link annotations rewritten (JSON only,
//! [`super::links`]).

use super::stream::{Passing, ProxyBody};
use super::upstream::UpstreamResponse;
use crate::config::BaseUrl;
use crate::error::BffError;
use http_body_util::BodyExt;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Response};

/// Every proxied answer's `Cache-Control`, whatever the API said: the answer is one user's data.
pub const PROXIED_CACHE_CONTROL: &str = "private, no-store";

/// The response to the browser for what the API answered: allowlisted headers, `Cache-Control: private, no-store`,
/// and the body streamed as it arrives (JSON through the link rewriter, anything else untouched).
pub fn respond(up: UpstreamResponse, api_base: &BaseUrl) -> Result<Response<ProxyBody>, BffError> {
    let mut headers = super::headers::downstream_response_headers(up.status, &up.headers, api_base)?;
    let json = is_json(up.headers.get(header::CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PROXIED_CACHE_CONTROL));
    let body = Passing::body(up.body, json.then_some(api_base.as_str()), up.idle);
    let mut resp = Response::builder().status(up.status).body(body).expect("valid response");
    *resp.headers_mut() = headers;
    Ok(resp)
}

/// Whether a content type is JSON, whose link annotations the proxy rewrites (anything else passes untouched).
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

/// Whether `body` fits a Lambda response envelope of `limit` bytes.
pub fn fits_lambda(body: &[u8], as_text: bool, limit: usize) -> bool {
    encoded_size(body, as_text) + ENVELOPE_HEADROOM <= limit
}

/// A streamed answer read whole, for a buffered Lambda response (`PROXY_STREAMING` off): Lambda's 6 MB limit on the
/// JSON envelope applies (`limit`, `PROXY_BUFFERED_LIMIT_BYTES`; else `upstream_response_too_large`), text stays
/// text, anything else is base64.
pub async fn buffered(resp: Response<ProxyBody>, limit: usize) -> Result<Response<Body>, BffError> {
    let (parts, mut body) = resp.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BffError::UpstreamUnavailable(format!("response body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(BffError::UpstreamResponseTooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes) {
            Ok(text) if is_text(parts.headers.get(header::CONTENT_TYPE)) => {
                fits_lambda(text.as_bytes(), true, limit).then_some(Body::Text(text))
            }
            Ok(text) => Some(text.into_bytes()).filter(|b| fits_lambda(b, false, limit)).map(Body::Binary),
            Err(e) => Some(e.into_bytes()).filter(|b| fits_lambda(b, false, limit)).map(Body::Binary),
        }
        .ok_or(BffError::UpstreamResponseTooLarge)?
    };
    Ok(Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_size_accounts_for_encoding() {
        let five_mb = vec![b'a'; 5 * 1024 * 1024];
        assert!(fits_lambda(&five_mb, true, LAMBDA_RESPONSE_LIMIT));
        assert!(!fits_lambda(&five_mb, false, LAMBDA_RESPONSE_LIMIT));
        assert!(!fits_lambda(&vec![b'"'; 4 * 1024 * 1024], true, LAMBDA_RESPONSE_LIMIT));
        assert!(!fits_lambda(&five_mb, true, 5 * 1024 * 1024));
    }
}
