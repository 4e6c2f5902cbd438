//! The typed values configuration is made of (URLs, origins), the lookup they are read through, and the error that
//! names the variable.

use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

pub(super) fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var, problem: problem.into() }
}

/// The variables, trimmed; an empty one counts as unset.
pub(super) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Env<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(get)
    }

    pub(super) fn opt(&self, k: &'static str) -> Option<String> {
        (self.0)(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    pub(super) fn req(&self, k: &'static str) -> Result<String, ConfigError> {
        self.opt(k).ok_or_else(|| err(k, "is required but not set"))
    }

    fn positive(&self, k: &'static str, unit: &str) -> Result<Option<u64>, ConfigError> {
        match self.opt(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| err(k, format!("must be a positive whole number of {unit}, not `{v}`"))),
        }
    }

    pub(super) fn secs(&self, k: &'static str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.positive(k, "seconds")?.unwrap_or(default)))
    }

    /// Seconds where 0 is meaningful (it switches the feature off).
    pub(super) fn secs_or_zero(&self, k: &'static str, default: u64) -> Result<Duration, ConfigError> {
        match self.opt(k) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => v
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| err(k, format!("must be a whole number of seconds (0 or more), not `{v}`"))),
        }
    }

    /// `true` or `false`.
    pub(super) fn flag(&self, k: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.opt(k).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(err(k, format!("must be `true` or `false`, not `{v}`"))),
        }
    }

    pub(super) fn millis(&self, k: &'static str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.positive(k, "milliseconds")?.unwrap_or(default)))
    }

    /// A byte count in `1..=6291456` (Lambda's 6 MB payload limit).
    pub(super) fn bytes(&self, k: &'static str, default: usize) -> Result<usize, ConfigError> {
        match self.opt(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=6 * 1024 * 1024).contains(n))
                .ok_or_else(|| err(k, format!("must be 1..=6291456, not `{v}`"))),
        }
    }
}

/// An absolute http(s) URL without user info, query or fragment, kept without a trailing slash (paths are appended
/// to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(var: &'static str, v: &str) -> Result<Self, ConfigError> {
        Self::parsed(var, v).map(|(base, _)| base)
    }

    /// A registry entry's URL (`url`, `issuer`, `api_base`), where the functions send tokens and secrets: `https`,
    /// or plain `http` only to a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`: the local stack); never a
    /// user info part (`http://localhost:1@evil.example` is a URL of evil.example), a query or a fragment.
    /// `bff-operator instance put` writes and the functions read registry values through this one rule.
    pub fn parse_instance(var: &'static str, v: &str) -> Result<Self, ConfigError> {
        let (base, url) = Self::parsed(var, v)?;
        if url.scheme() != "https" && !is_loopback(&url) {
            return Err(err(var, "must be https:// (http:// only for localhost, 127.0.0.0/8 or [::1])"));
        }
        Ok(base)
    }

    fn parsed(var: &'static str, v: &str) -> Result<(Self, Url), ConfigError> {
        let url = Url::parse(v).map_err(|e| err(var, format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(err(var, "must be an http(s) URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(var, "must not have a user info part (user@ or user:password@ before the host)"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err(var, "must not have a query or fragment"));
        }
        Ok((Self(url.as_str().trim_end_matches('/').to_string()), url))
    }

    /// This base with `suffix` (which starts with `/`) appended.
    pub fn join(&self, suffix: &str) -> BaseUrl {
        BaseUrl(format!("{}{suffix}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path part (`""` for a base at the origin's root): `https://h/api` → `/api`.
    pub fn path(&self) -> &str {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        self.0[after_scheme..].find('/').map_or("", |i| &self.0[after_scheme + i..])
    }
}

/// A host that is this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An absolute http(s) URL kept exactly as the operator spelled it (registered URIs must match byte for byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsoluteUrl(String);

impl AbsoluteUrl {
    pub fn parse(var: &'static str, v: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(v).map_err(|e| err(var, format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err(var, "must be an http(s) URL"));
        }
        Ok(Self(v.to_string()))
    }

    /// A URL built from an already parsed [`Origin`].
    pub(super) fn derived(v: String) -> Self {
        Self(v)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn parse(var: &'static str, v: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(v).map_err(|e| err(var, format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(err(var, "must be an http(s) origin like https://app.example.com"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(err(var, "must be an origin only (no path, query or fragment)"));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
display_as_str!(BaseUrl, AbsoluteUrl, Origin);

/// The secret value of the header CloudFront adds to what it sends to the HTTP API (`FRONT_DOOR_SECRET`), so the
/// functions can tell the front door from a request to the `execute-api` endpoint. Prints as `FrontDoorSecret(..)`.
#[derive(Clone)]
pub struct FrontDoorSecret(String);
crate::redacted_debug!(FrontDoorSecret);

impl FrontDoorSecret {
    pub fn parse(var: &'static str, v: &str) -> Result<Self, ConfigError> {
        if v.len() < 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(var, "must be at least 32 ASCII letters and digits"));
        }
        Ok(Self(v.to_string()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Scopes the BFF can work with: `openid` and `read` or `update`.
pub fn check_scopes(var: &'static str, scopes: String) -> Result<String, ConfigError> {
    if !scopes.split_whitespace().any(|s| s == "openid") {
        return Err(err(var, "must include `openid` (the ID token is needed at logout)"));
    }
    if !scopes.split_whitespace().any(|s| s == "read" || s == "update") {
        return Err(err(var, "must include `read` or `update` (else the token cannot call the Domain API)"));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_have_no_user_info_query_or_fragment() {
        assert_eq!(BaseUrl::parse("v", "https://x.my.erp.net/api/").unwrap().as_str(), "https://x.my.erp.net/api");
        assert_eq!(BaseUrl::parse("v", "http://erp.internal:8080").unwrap().as_str(), "http://erp.internal:8080");
        for bad in [
            "https://user@x.my.erp.net",
            "https://user:pw@x.my.erp.net",
            "https://:pw@x.my.erp.net",
            "http://localhost:1@evil.example",
            "https://x.my.erp.net/?a=b",
            "https://x.my.erp.net/?",
            "https://x.my.erp.net/#",
            "https://x.my.erp.net/id#frag",
            "ftp://x.my.erp.net",
            "x.my.erp.net",
        ] {
            let e = BaseUrl::parse("v", bad).expect_err(bad);
            assert_eq!(e.var, "v");
            assert!(BaseUrl::parse_instance("v", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instance_urls_are_https_or_loopback_http() {
        for ok in [
            "https://acme.my.erp.net",
            "https://acme.my.erp.net/id",
            "http://127.0.0.1:5006",
            "http://127.1.2.3:80/api",
            "http://localhost:5005/id",
            "http://LOCALHOST:5005",
            "http://[::1]:5005",
        ] {
            assert!(BaseUrl::parse_instance("url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://acme.my.erp.net",
            "http://localhost:1@evil.example",
            "http://localhost@evil.example",
            "http://127.0.0.1@evil.example",
            "http://localhost.evil.example",
            "http://localhost.",
            "http://128.0.0.1",
            "http://10.0.0.1",
            "http://[::2]",
            "http://[::ffff:127.0.0.1]",
            "http://evil.example#@localhost",
            "https://acme.my.erp.net#x",
            "https://u@acme.my.erp.net",
        ] {
            let e = BaseUrl::parse_instance("url", bad).expect_err(bad);
            assert_eq!(e.var, "url", "{bad}");
        }
    }
}
