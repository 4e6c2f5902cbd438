//! `ANY /api/{path+}` (with `X-CSRF: 1`): forwards to `{API_BASE}/{path}` with the user's bearer token.
//! The path must fall under the allowlist; the query passes byte-exact; headers pass through allowlists both ways;
//! the access token is refreshed before it expires, and once more (with one retry of the same request) on an
//! upstream 401.

use crate::app::App;
use crate::error::BffError;
use crate::proxy::{
    ProxyPath, check_method, downstream_response_headers, fits_lambda, is_json, is_text, rewrite_links,
    upstream_request_headers,
};
use crate::web::{body_bytes, require_csrf};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    require_csrf(req.headers(), &app.config)?;
    check_method(req.method())?;
    let raw_path = req.raw_http_path();
    let rest = raw_path.strip_prefix("/api/").ok_or(BffError::PathNotAllowed)?;
    let path = ProxyPath::parse(rest, &app.config.proxy_allowlist)?;
    let body = body_bytes(&req);
    if body.len() > app.config.proxy_max_request_bytes {
        return Err(BffError::PayloadTooLarge);
    }

    let (secret, session) = super::current_session(app, &req).await?.required()?;
    let (session, tokens) = app.fresh_tokens(&secret, session, false).await?;

    let url = match req.uri().query() {
        Some(q) if !q.is_empty() => format!("{}/{}?{}", app.config.api_base, path.as_str(), q),
        _ => format!("{}/{}", app.config.api_base, path.as_str()),
    };
    let headers = upstream_request_headers(req.headers());
    let method = req.method();
    let body = bytes::Bytes::copy_from_slice(body);
    let send = |token: &str| {
        let mut headers = headers.clone();
        let bearer = header::HeaderValue::from_str(&format!("Bearer {token}"));
        if let Ok(v) = bearer {
            headers.insert(header::AUTHORIZATION, v);
        }
        let body = body.clone();
        let url = url.clone();
        async move { app.upstream.send(method, &url, &headers, body).await }
    };
    let started = std::time::Instant::now();
    let mut up = send(&tokens.access_token).await?;
    if up.status == StatusCode::UNAUTHORIZED {
        // The token was refused before its time (revoked, rotated keys …): refresh once, retry once.
        let (session, tokens) = app.refresh_single_flight(&secret, session).await?;
        up = send(&tokens.access_token).await?;
        if up.status == StatusCode::UNAUTHORIZED {
            // Even a fresh token is refused: the session is of no use any more.
            app.store.delete_session(&session.key).await?;
            return Err(BffError::SessionExpired);
        }
    }

    crate::metrics::proxied(started.elapsed().as_secs_f64() * 1000.0, up.status.as_u16());
    let ct = up.headers.get(header::CONTENT_TYPE).cloned();
    let mut out_headers = downstream_response_headers(&up.headers, &app.config.api_base);
    let body = if is_text(ct.as_ref()) {
        // `Vec::from(Bytes)` takes the buffer without copying when it is the only owner.
        match String::from_utf8(Vec::from(up.body)) {
            Ok(text) => {
                let text = if is_json(ct.as_ref()) { rewrite_links(text, &app.config.api_base) } else { text };
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
    out_headers.entry(header::CACHE_CONTROL).or_insert(header::HeaderValue::from_static("no-store"));
    let mut resp = Response::builder().status(up.status).body(body).expect("valid response");
    *resp.headers_mut() = out_headers;
    Ok(resp)
}

fn binary(bytes: Vec<u8>) -> Result<Body, BffError> {
    if !fits_lambda(&bytes, false) {
        return Err(BffError::UpstreamResponseTooLarge);
    }
    Ok(Body::Binary(bytes))
}
