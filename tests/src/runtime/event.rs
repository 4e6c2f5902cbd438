//! The API Gateway v2 (HTTP API) event a function is invoked with.

use serde_json::{Value, json};

/// An API Gateway v2 (HTTP API) event, as the function receives it from API Gateway: `target` is the path and
/// query, `cookie` a `name=value` pair, `csrf` adds `X-CSRF: 1`.
pub fn event(host: &str, method: &str, target: &str, cookie: Option<&str>, csrf: bool) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = json!({
        "host": host,
        "user-agent": "bench",
        "accept": "application/json",
        "x-forwarded-proto": "https",
        "x-forwarded-for": "127.0.0.1",
    });
    if csrf {
        headers["x-csrf"] = json!("1");
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": host,
            "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    if let Some(c) = cookie {
        ev["cookies"] = json!([c]);
    }
    ev
}
