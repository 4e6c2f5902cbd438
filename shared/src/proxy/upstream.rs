//! The transport to the ERP.net API: one request, sent byte-exact with the user's bearer token. It knows nothing of
//! sessions; the 401 rule is `proxy::call`.

use super::headers::upstream_request_headers;
use super::path::ProxyPath;
use super::stream::STREAM_LIMIT;
use crate::config::BaseUrl;
use crate::error::BffError;
use crate::idp::tokens::AccessToken;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::Request;
use lambda_http::http::HeaderValue;
use lambda_http::http::{self, HeaderMap, Method, StatusCode, header};
use std::time::Duration;

/// The HTTP client for the ERP.net API: hyper, so the request target is sent exactly as given (no URL
/// normalisation); pooled keep-alive connections across invocations; never follows redirects (SSRF).
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

/// What came back from the API: status and headers, the body still to be read (streamed to the browser).
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Incoming,
    /// How long the body may stall between two chunks (the upstream timeout).
    pub idle: Duration,
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

    /// Sends one request; connecting and the answer's headers are bounded by the upstream timeout, and so is every
    /// pause in its body (read later, as it streams to the browser); never past the invocation's end.
    async fn exchange(
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
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .is_some_and(|n| n > STREAM_LIMIT)
            {
                return Err(BffError::UpstreamResponseTooLarge);
            }
            Ok(UpstreamResponse { status: parts.status, headers: parts.headers, body, idle: self.timeout })
        };
        // Never past the invocation's end either: a clean 504 rather than Lambda's timeout.
        let timeout = crate::time::invocation_left()
            .map_or(self.timeout, |left| self.timeout.min(left.saturating_sub(Duration::from_millis(500))));
        tokio::time::timeout(timeout, exchange).await.map_err(|_| BffError::UpstreamTimeout)?
    }
}

/// One request to forward: the method, the target (API base + path + the query, byte-exact), the allowlisted
/// headers and the body.
pub struct Outgoing {
    method: Method,
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Outgoing {
    pub fn new(req: &Request, api_base: &BaseUrl, path: &ProxyPath, body: Bytes) -> Self {
        let target = match req.uri().query() {
            Some(q) if !q.is_empty() => format!("{api_base}/{}?{q}", path.as_str()),
            _ => format!("{api_base}/{}", path.as_str()),
        };
        let headers = upstream_request_headers(req.headers());
        Self { method: req.method().clone(), target, headers, body }
    }

    /// The same request with this `Content-Type` (a rebuilt `$batch` body's, with its own boundary).
    pub fn with_content_type(mut self, content_type: &str) -> Result<Self, BffError> {
        let value = HeaderValue::from_str(content_type)
            .map_err(|_| BffError::InvalidBatch("The $batch Content-Type cannot be forwarded."))?;
        self.headers.insert(header::CONTENT_TYPE, value);
        Ok(self)
    }
}

impl UpstreamClient {
    /// Sends `out` with `token` as its bearer.
    pub async fn send(&self, out: &Outgoing, token: &AccessToken) -> Result<UpstreamResponse, BffError> {
        let mut headers = out.headers.clone();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
            headers.insert(header::AUTHORIZATION, v);
        }
        self.exchange(&out.method, &out.target, &headers, out.body.clone()).await
    }
}
