//! The BFF's cookies (the session's, one per sign-in attempt, and the script-readable hint), their flags, and reading
//! them from a request.
//!
//! - `__Host-Http-bff-session`: the session secret. `Secure; HttpOnly; SameSite=Strict; Path=/`, no `Domain`.
//! - `__Host-Http-bff-login-<id>`: one per sign-in attempt, binding it to this browser (the id derives from the
//!   attempt's `state`, so logins started side by side in several tabs never overwrite each other's cookie, even
//!   when they start at the same instant). `SameSite=Lax` (a top-level cross-site GET from the identity server
//!   carries it) or `None` in form_post mode (a cross-site POST carries no Lax cookie). Cleared by the callback that
//!   consumes it; otherwise it expires with the attempt (10 minutes). Set only on a top-level navigation, and a
//!   browser holds at most [`MAX_LOGIN_COOKIES`]: starting one more sign-in clears the oldest (a page on another
//!   site cannot fill the cookie jar beyond what API Gateway accepts in a request).
//!
//! - `__Host-Http-bff-bound`: the bound cookie of a device-bound session (DBSC, `session::bound`): sealed under the
//!   session's secret, valid for `DBSC_COOKIE_SECONDS`, renewed by the browser with its key. `Secure; HttpOnly;
//!   SameSite=Strict; Path=/`, no `Domain`; cleared with the session cookie.
//! - `__Host-bff-hint`: **not** HttpOnly, for the SPA's script: an opaque generation (derived from the session
//!   secret, opening nothing) and the session's absolute expiry, `<generation>.<epoch seconds>`. Set at sign-in,
//!   cleared at sign-out and whenever the session cookie is cleared: every tab of the browser sees it change (Cookie
//!   Store change events) without asking the BFF anything. `Secure; SameSite=Strict; Path=/`, no `Domain`.
//!
//! The `__Host-Http-` prefix (the cookie advice of draft-ietf-oauth-browser-based-apps) makes the browser refuse the
//! cookie unless it is `Secure`, host-only and `Path=/` (the `__Host-` rules: a sibling subdomain cannot plant or
//! shadow it) and `HttpOnly`, and refuse it from script (`document.cookie`) altogether. Browsers that predate the
//! `__Host-Http-` prefix (Chrome before 140, Firefox before 142) still apply the `__Host-` rules to it.

use cookie::{Cookie, SameSite};
use lambda_http::http::{HeaderMap, HeaderValue, header};
use std::time::Duration;

pub const SESSION: &str = "__Host-Http-bff-session";
pub const HINT: &str = "__Host-bff-hint";
/// The bound cookie of a device-bound session (`session::bound`): short-lived, renewed only with the browser's key.
pub const BOUND: &str = "__Host-Http-bff-bound";
/// Its attributes as the DBSC session configuration states them (the browser compares them to the cookie's).
pub const BOUND_ATTRIBUTES: &str = "Path=/; Secure; HttpOnly; SameSite=Strict";
pub const LOGIN_PREFIX: &str = "__Host-Http-bff-login-";
/// At most this many login cookies at once in one browser (sign-ins started side by side in several tabs).
pub const MAX_LOGIN_COOKIES: usize = 3;

/// The login cookie's name for the attempt with this `state`.
pub fn login_name(state: &str) -> String {
    let id = crate::crypto::b64url(&crate::crypto::sha256(format!("bff/login-cookie/{state}").as_bytes()));
    format!("{LOGIN_PREFIX}{}", &id[..12])
}

/// A cookie sent more than once with different values.
#[derive(Debug, PartialEq, Eq)]
pub struct Ambiguous;

/// The one parser of `Cookie` headers: every `(name, value)` pair of the request, in order, trimmed.
fn pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
}

/// The value of cookie `name` from the request's `Cookie` headers.
///
/// `Ok(None)` when absent; `Err(Ambiguous)` when it appears more than once with different values (a browser never sends
/// that for a `__Host-` cookie, so it is hostile or broken input and must not pick a winner silently).
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Ambiguous> {
    let mut found: Option<&str> = None;
    for (_, v) in pairs(headers).filter(|(k, _)| *k == name) {
        let v = v.trim_matches('"');
        match found {
            Some(prev) if prev != v => return Err(Ambiguous),
            _ => found = Some(v),
        }
    }
    Ok(found)
}

/// The names of the login cookies the request carries, oldest first (browsers send cookies of the same path in the
/// order they were created: RFC 6265 5.4, step 2), each once.
pub fn login_names(headers: &HeaderMap) -> Vec<&str> {
    let mut names: Vec<&str> = vec![];
    for (name, _) in pairs(headers).filter(|(k, _)| k.starts_with(LOGIN_PREFIX)) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Clears the oldest login cookies the request carried, so that with one more the browser holds at most
/// [`MAX_LOGIN_COOKIES`].
pub fn prune_logins(headers: &HeaderMap, form_post: bool) -> Vec<HeaderValue> {
    let older = login_names(headers);
    let stale = older.len().saturating_sub(MAX_LOGIN_COOKIES - 1);
    older[..stale].iter().map(|name| clear_login(name, form_post)).collect()
}

/// All cookies of the request as `(name, value)` pairs, in order (for the proxy's ERP cookie allowlist).
pub fn all(headers: &HeaderMap) -> Vec<(&str, &str)> {
    pairs(headers).collect()
}

fn build(name: &str, value: String, same_site: SameSite, max_age: Option<Duration>) -> HeaderValue {
    build_with(name, value, same_site, max_age, true)
}

fn build_with(
    name: &str,
    value: String,
    same_site: SameSite,
    max_age: Option<Duration>,
    http_only: bool,
) -> HeaderValue {
    let mut c =
        Cookie::build((name.to_string(), value)).secure(true).http_only(http_only).same_site(same_site).path("/");
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(age.as_secs() as i64));
    }
    HeaderValue::from_str(&c.build().to_string()).expect("cookie values are base64url")
}

pub fn set_session(value: String, max_age: Duration) -> HeaderValue {
    build(SESSION, value, SameSite::Strict, Some(max_age))
}

pub fn clear_session() -> HeaderValue {
    build(SESSION, String::new(), SameSite::Strict, Some(Duration::ZERO))
}

/// The script-readable hint (see the module docs): `value` is `SessionSecret::hint`.
pub fn set_hint(value: String, max_age: Duration) -> HeaderValue {
    build_with(HINT, value, SameSite::Strict, Some(max_age), false)
}

pub fn clear_hint() -> HeaderValue {
    set_hint(String::new(), Duration::ZERO)
}

pub fn set_bound(value: String, max_age: Duration) -> HeaderValue {
    build(BOUND, value, SameSite::Strict, Some(max_age))
}

pub fn clear_bound() -> HeaderValue {
    set_bound(String::new(), Duration::ZERO)
}

/// The cookies to clear when a session is over: the session cookie and the hint, but only those the request carried
/// (a request without them — a cross-site navigation does not carry Strict cookies — must not clear what the browser
/// holds).
pub fn clear_ended(headers: &HeaderMap) -> Vec<HeaderValue> {
    let sent = |name: &str| pairs(headers).any(|(k, _)| k == name);
    [(SESSION, clear_session as fn() -> HeaderValue), (HINT, clear_hint), (BOUND, clear_bound)]
        .into_iter()
        .filter(|(name, _)| sent(name))
        .map(|(_, clear)| clear())
        .collect()
}

/// A login-binding cookie; `form_post` needs `SameSite=None` so the identity server's cross-site POST carries it.
pub fn set_login(name: &str, value: String, max_age: Duration, form_post: bool) -> HeaderValue {
    build(name, value, if form_post { SameSite::None } else { SameSite::Lax }, Some(max_age))
}

pub fn clear_login(name: &str, form_post: bool) -> HeaderValue {
    set_login(name, String::new(), Duration::ZERO, form_post)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_has_every_flag() {
        let v = set_session("abc".into(), Duration::from_secs(60));
        let s = v.to_str().unwrap();
        assert!(s.starts_with("__Host-Http-bff-session=abc"));
        for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=60"] {
            assert!(s.contains(flag), "{flag} missing in {s}");
        }
        assert!(!s.to_ascii_lowercase().contains("domain"));
    }

    #[test]
    fn hint_cookie_is_readable_by_script_and_strict() {
        let s = set_hint("gen.1800000000".into(), Duration::from_secs(60));
        let s = s.to_str().unwrap();
        assert!(s.starts_with("__Host-bff-hint=gen.1800000000"));
        for flag in ["Secure", "SameSite=Strict", "Path=/", "Max-Age=60"] {
            assert!(s.contains(flag), "{flag} missing in {s}");
        }
        assert!(!s.contains("HttpOnly") && !s.to_ascii_lowercase().contains("domain"), "{s}");
        let mut h = HeaderMap::new();
        assert!(clear_ended(&h).is_empty(), "nothing sent, nothing cleared");
        h.insert(header::COOKIE, HeaderValue::from_static("__Host-bff-hint=x"));
        assert_eq!(clear_ended(&h).len(), 1);
    }

    #[test]
    fn login_cookie_is_lax_or_none() {
        let name = login_name("some-state");
        assert!(name.starts_with("__Host-Http-bff-login-") && name.len() == LOGIN_PREFIX.len() + 12);
        assert_ne!(name, login_name("other-state"));
        assert!(
            set_login(&name, "x".into(), Duration::from_secs(600), false).to_str().unwrap().contains("SameSite=Lax")
        );
        let none = set_login(&name, "x".into(), Duration::from_secs(600), true);
        assert!(none.to_str().unwrap().contains("SameSite=None"));
        assert!(none.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn reads_and_refuses_ambiguous_duplicates() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; __Host-Http-bff-session=xyz; b=2"));
        assert_eq!(read(&h, SESSION), Ok(Some("xyz")));
        assert_eq!(read(&h, &login_name("s")), Ok(None));
        h.append(header::COOKIE, HeaderValue::from_static("__Host-Http-bff-session=other"));
        assert_eq!(read(&h, SESSION), Err(Ambiguous));
        assert_eq!(all(&h).len(), 4);
    }

    #[test]
    fn login_names_in_request_order_once_each() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static(
                "__Host-Http-bff-login-b=1; x=2; __Host-Http-bff-login-a=3; __Host-Http-bff-login-b=1; \
                 __Host-Http-bff-session=s",
            ),
        );
        assert_eq!(login_names(&h), vec!["__Host-Http-bff-login-b", "__Host-Http-bff-login-a"]);
    }
}
