//! Building the BFF's own responses (the proxy passes the API's through `proxy::body`).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

/// A `302` to `location`, never cached.
pub fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("valid redirect")
}

/// A JSON body, never cached.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(value.to_string()))
        .expect("valid json response")
}

/// An empty answer with `status`, never cached.
pub fn empty(status: StatusCode) -> Response<Body> {
    Response::builder().status(status).header(header::CACHE_CONTROL, "no-store").body(Body::Empty).expect("empty")
}

/// `resp` with `Set-Cookie` headers appended.
pub fn with_cookies(mut resp: Response<Body>, cookies: impl IntoIterator<Item = HeaderValue>) -> Response<Body> {
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
