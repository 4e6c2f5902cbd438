//! `cookies::read` / `cookies::all` on arbitrary `Cookie` headers (one per input line), then
//! `SessionSecret::parse` on what came back. The two readers must agree, and a parsed secret round-trips.
#![no_main]

use lambda_http::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use shared::http::cookies::{self, SESSION};
use shared::session::secrets::SessionSecret;

fn check_secret(v: &str) {
    if let Some(s) = SessionSecret::parse(v) {
        assert_eq!(s.cookie_value(), v, "a parsed secret must round-trip");
        assert_eq!(v.len(), 43);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, v);
        }
    }
    let all = cookies::all(&headers);
    let sessions: Vec<&str> = all.iter().filter(|(k, _)| *k == SESSION).map(|(_, v)| v.trim_matches('"')).collect();
    match cookies::read(&headers, SESSION) {
        Ok(Some(v)) => {
            assert!(!sessions.is_empty() && sessions.iter().all(|s| *s == v), "read {v:?}, all {sessions:?}");
            check_secret(v);
        }
        Ok(None) => assert!(sessions.is_empty(), "read nothing, all {sessions:?}"),
        Err(cookies::Ambiguous) => {
            assert!(sessions.windows(2).any(|w| w[0] != w[1]), "ambiguous, all {sessions:?}")
        }
    }
    for (_, v) in &all {
        check_secret(v);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        check_secret(s);
    }
});
