//! The API's answer on its way back: headers allowlisted (a redirect off the API base refused), `Cache-Control:
//! private, no-store`, the body streamed ([`super::stream`]) with OData link annotations rewritten (JSON only,
//! [`super::links`]).

use super::stream::{Passing, ProxyBody};
use super::upstream::UpstreamResponse;
use crate::config::BaseUrl;
use crate::error::BffError;
use lambda_http::Response;
use lambda_http::http::{HeaderValue, header};

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
