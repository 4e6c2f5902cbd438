//! Typed configuration, parsed once at cold start from environment variables.
//!
//! A missing or malformed setting is an [`ConfigError`] that names the variable, so the function fails at init
//! with a message an operator can act on.

use std::time::Duration;
use url::Url;

/// How the identity server returns the authorization response to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// `response_type=code`, parameters in the query of a GET (the default, the seed's flow).
    Query,
    /// `response_type=code id_token`, `response_mode=form_post`: a cross-site POST (ERP.net's confidential samples).
    FormPost,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var, problem: problem.into() }
}

#[derive(Clone)]
pub struct Config {
    /// The identity server's issuer, e.g. `https://x.my.erp.net/id` (no trailing slash).
    pub issuer: String,
    /// The Domain API base, e.g. `https://x.my.erp.net/api` (no trailing slash). Proxied paths are appended to it.
    pub api_base: String,
    pub client_id: String,
    /// Where the client secret comes from: the environment (locally) or Secrets Manager (in AWS).
    pub client_secret: SecretSource,
    /// The app's origin, e.g. `https://app.example.com`. The redirect URI and the allowed `Origin` derive from it.
    pub public_origin: String,
    /// The exact redirect URI registered in ERP.net (`{PUBLIC_ORIGIN}/auth/callback` unless overridden).
    pub redirect_uri: String,
    /// Where ERP.net sends the browser after end-session (`{PUBLIC_ORIGIN}/` unless overridden).
    pub post_logout_redirect_uri: String,
    pub scopes: String,
    pub session_table: String,
    pub response_mode: ResponseMode,
    pub session_idle_timeout: Duration,
    pub session_absolute_lifetime: Duration,
    /// Refresh proactively when the access token expires within this skew (capped at half the token's lifetime).
    pub refresh_skew: Duration,
    /// Path prefixes (relative to the API base) the proxy forwards, e.g. `domain/odata/`.
    pub proxy_allowlist: Vec<String>,
    pub proxy_max_request_bytes: usize,
    pub idp_timeout: Duration,
    pub upstream_timeout: Duration,
    /// How long a refresh lease is held: longer than the token call's timeout, so a live refresher never loses it.
    pub refresh_lease: Duration,
    /// Last-seen is written at most once per this interval.
    pub touch_interval: Duration,
}

/// The client secret's source. In AWS the secret never sits in the environment: `CLIENT_SECRET_ARN` names a Secrets
/// Manager secret, read once per execution environment through the AWS Parameters and Secrets Lambda Extension.
#[derive(Clone, Debug)]
pub enum SecretSource {
    Value(ClientSecret),
    SecretsManager { arn: String },
}

/// The client secret. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("public_origin", &self.public_origin)
            .field("redirect_uri", &self.redirect_uri)
            .field("session_table", &self.session_table)
            .field("response_mode", &self.response_mode)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Parses configuration from any key lookup (the environment in production, a map in unit tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let opt = |k: &'static str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let req = |k: &'static str| opt(k).ok_or_else(|| err(k, "is required but not set"));

        let erpnet_url = opt("ERPNET_URL").map(|v| parse_base_url("ERPNET_URL", &v)).transpose()?;
        let derived = |suffix: &str| erpnet_url.as_ref().map(|u| format!("{u}{suffix}"));
        let issuer = match opt("ISSUER") {
            Some(v) => parse_base_url("ISSUER", &v)?,
            None => derived("/id").ok_or_else(|| err("ERPNET_URL", "is required (or set ISSUER and API_BASE)"))?,
        };
        let api_base = match opt("API_BASE") {
            Some(v) => parse_base_url("API_BASE", &v)?,
            None => derived("/api").ok_or_else(|| err("ERPNET_URL", "is required (or set ISSUER and API_BASE)"))?,
        };

        let public_origin = parse_origin("PUBLIC_ORIGIN", &req("PUBLIC_ORIGIN")?)?;
        let redirect_uri = match opt("REDIRECT_URI") {
            Some(v) => parse_absolute("REDIRECT_URI", &v)?,
            None => format!("{public_origin}/auth/callback"),
        };
        let post_logout_redirect_uri = match opt("POST_LOGOUT_REDIRECT_URI") {
            Some(v) => parse_absolute("POST_LOGOUT_REDIRECT_URI", &v)?,
            None => format!("{public_origin}/"),
        };

        let client_secret = match (opt("CLIENT_SECRET"), opt("CLIENT_SECRET_ARN")) {
            (Some(v), _) => SecretSource::Value(ClientSecret::new(v)),
            (None, Some(arn)) if arn.starts_with("arn:") => SecretSource::SecretsManager { arn },
            (None, Some(_)) => {
                return Err(err("CLIENT_SECRET_ARN", "must be a Secrets Manager ARN (arn:aws:secretsmanager:…)"));
            }
            (None, None) => return Err(err("CLIENT_SECRET", "is required (or CLIENT_SECRET_ARN in AWS)")),
        };
        let scopes = opt("SCOPES").unwrap_or_else(|| "openid profile offline_access read update".into());
        if !scopes.split_whitespace().any(|s| s == "openid") {
            return Err(err("SCOPES", "must include `openid` (the ID token is needed at logout)"));
        }
        if !scopes.split_whitespace().any(|s| s == "read" || s == "update") {
            return Err(err("SCOPES", "must include `read` or `update` (else the token cannot call the Domain API)"));
        }

        let response_mode = match opt("RESPONSE_MODE").as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(other) => {
                return Err(err("RESPONSE_MODE", format!("must be `query` or `form_post`, not `{other}`")));
            }
        };

        let secs = |k: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match opt(k) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| err(k, format!("must be a positive whole number of seconds, not `{v}`"))),
            }
        };
        let millis = |k: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match opt(k) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_millis)
                    .ok_or_else(|| err(k, format!("must be a positive whole number of milliseconds, not `{v}`"))),
            }
        };

        let proxy_allowlist: Vec<String> = opt("PROXY_ALLOWLIST")
            .unwrap_or_else(|| "domain/odata/".into())
            .split(',')
            .map(|p| p.trim().trim_start_matches('/').to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if proxy_allowlist.is_empty() || proxy_allowlist.iter().any(|p| p.contains("..") || p.contains('\\')) {
            return Err(err("PROXY_ALLOWLIST", "must be a comma-separated list of path prefixes like `domain/odata/`"));
        }

        let idp_timeout = millis("IDP_TIMEOUT_MS", 5_000)?;
        let refresh_lease = match opt("REFRESH_LEASE_MS") {
            Some(_) => millis("REFRESH_LEASE_MS", 0)?,
            None => idp_timeout * 2,
        };
        if refresh_lease <= idp_timeout {
            return Err(err("REFRESH_LEASE_MS", "must be longer than IDP_TIMEOUT_MS"));
        }

        Ok(Config {
            issuer,
            api_base,
            client_id: req("CLIENT_ID")?,
            client_secret,
            public_origin,
            redirect_uri,
            post_logout_redirect_uri,
            scopes,
            session_table: req("SESSION_TABLE")?,
            response_mode,
            session_idle_timeout: secs("SESSION_IDLE_TIMEOUT", 8 * 3600)?,
            session_absolute_lifetime: secs("SESSION_ABSOLUTE_LIFETIME", 30 * 24 * 3600)?,
            refresh_skew: secs("REFRESH_SKEW", 60)?,
            proxy_allowlist,
            proxy_max_request_bytes: match opt("PROXY_MAX_REQUEST_BYTES") {
                None => 1024 * 1024,
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=6 * 1024 * 1024).contains(n))
                    .ok_or_else(|| err("PROXY_MAX_REQUEST_BYTES", format!("must be 1..=6291456, not `{v}`")))?,
            },
            idp_timeout,
            upstream_timeout: millis("UPSTREAM_TIMEOUT_MS", 25_000)?,
            refresh_lease,
            touch_interval: secs("SESSION_TOUCH_INTERVAL", 300)?,
        })
    }
}

/// An absolute http(s) URL without query or fragment, returned without a trailing slash.
fn parse_base_url(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let url = Url::parse(v).map_err(|e| err(var, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(err(var, "must be an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(var, "must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn parse_absolute(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let url = Url::parse(v).map_err(|e| err(var, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(var, "must be an http(s) URL"));
    }
    // Registered URIs match exactly, so keep the operator's spelling.
    Ok(v.to_string())
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`.
fn parse_origin(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let url = Url::parse(v).map_err(|e| err(var, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(err(var, "must be an http(s) origin like https://app.example.com"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(err(var, "must be an origin only (no path, query or fragment)"));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("ERPNET_URL", "https://testdb.my.erp.net/"),
            ("CLIENT_ID", "my.trusted.app/first"),
            ("CLIENT_SECRET", "s3cret"),
            ("PUBLIC_ORIGIN", "https://app.example.com"),
            ("SESSION_TABLE", "sessions"),
        ])
    }

    fn parse(map: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn derives_issuer_api_and_redirect_uri() {
        let c = parse(&base()).unwrap();
        assert_eq!(c.issuer, "https://testdb.my.erp.net/id");
        assert_eq!(c.api_base, "https://testdb.my.erp.net/api");
        assert_eq!(c.redirect_uri, "https://app.example.com/auth/callback");
        assert_eq!(c.post_logout_redirect_uri, "https://app.example.com/");
        assert_eq!(c.proxy_allowlist, vec!["domain/odata/".to_string()]);
        assert_eq!(c.response_mode, ResponseMode::Query);
        assert!(c.refresh_lease > c.idp_timeout);
    }

    #[test]
    fn missing_variable_is_named() {
        for var in ["CLIENT_ID", "CLIENT_SECRET", "PUBLIC_ORIGIN", "SESSION_TABLE", "ERPNET_URL"] {
            let mut m = base();
            m.remove(var);
            let e = parse(&m).expect_err(var);
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn malformed_values_are_named() {
        for (var, bad) in [
            ("PUBLIC_ORIGIN", "https://app.example.com/path"),
            ("PUBLIC_ORIGIN", "not a url"),
            ("ERPNET_URL", "ftp://x"),
            ("RESPONSE_MODE", "fragment"),
            ("SESSION_IDLE_TIMEOUT", "-5"),
            ("SCOPES", "profile read"),
            ("SCOPES", "openid profile"),
        ] {
            let mut m = base();
            m.insert(var, bad);
            let e = parse(&m).err().unwrap_or_else(|| panic!("{var}={bad} accepted"));
            assert_eq!(e.var, var, "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = parse(&base()).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{:?}", c.client_secret).contains("s3cret"));
    }

    #[test]
    fn secret_from_secrets_manager() {
        let mut m = base();
        m.remove("CLIENT_SECRET");
        m.insert("CLIENT_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123:secret:bff-x");
        assert!(matches!(parse(&m).unwrap().client_secret, SecretSource::SecretsManager { .. }));
        m.insert("CLIENT_SECRET_ARN", "bff-x");
        assert_eq!(parse(&m).expect_err("not an ARN").var, "CLIENT_SECRET_ARN");
    }
}
