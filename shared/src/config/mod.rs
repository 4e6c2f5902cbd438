//! Typed configuration, parsed once at cold start from environment variables, grouped by who uses it: the
//! identity server ([`IdpConfig`]), sessions ([`SessionConfig`]) and the API proxy ([`ProxyConfig`]).
//!
//! A missing or malformed setting is a [`ConfigError`] that names the variable, so the function fails at init
//! with a message an operator can act on.

mod dbsc;
mod secret;
mod values;

pub use dbsc::DbscConfig;
pub use secret::{ClientSecret, SecretSource};
pub use values::{AbsoluteUrl, BaseUrl, ConfigError, FrontDoorSecret, Origin, check_scopes};

use std::time::Duration;
use values::{Env, err};

/// How the identity server returns the authorization response to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// `response_type=code`, parameters in the query of a GET (the default, the seed's flow).
    Query,
    /// `response_type=code id_token`, `response_mode=form_post`: a cross-site POST (ERP.net's confidential samples).
    FormPost,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The app's origin, e.g. `https://app.example.com`: the only `Origin` the gate lets through.
    pub public_origin: Origin,
    /// The secret header value that proves a request came through CloudFront (unset: not checked, locally).
    pub front_door: Option<FrontDoorSecret>,
    pub idp: IdpConfig,
    pub session: SessionConfig,
    pub proxy: ProxyConfig,
    pub instances: InstancesConfig,
}

/// Many ERP.net instances (`instance::Instances`): off, the environment's one instance serves every host.
#[derive(Clone, Debug)]
pub struct InstancesConfig {
    /// `INSTANCE_REGISTRY=true`: `<key>.<public origin's host>` serves registry instance `key`; the public origin's
    /// own host serves the environment's instance.
    pub registry: bool,
    /// `INSTANCE_CACHE_SECONDS` (60): how long a registry entry (or its absence) and its client secret are kept.
    pub cache_for: Duration,
}

/// The client registration at one ERP.net identity server.
#[derive(Clone, Debug)]
pub struct IdpConfig {
    /// The identity server's issuer, e.g. `https://x.my.erp.net/id`.
    pub issuer: BaseUrl,
    pub client_id: String,
    /// Where the client secret comes from: the environment (locally) or Secrets Manager (in AWS).
    pub client_secret: SecretSource,
    /// The exact redirect URI registered in ERP.net (`{PUBLIC_ORIGIN}/auth/callback` unless overridden).
    pub redirect_uri: AbsoluteUrl,
    /// Where ERP.net sends the browser after end-session (`{PUBLIC_ORIGIN}/` unless overridden).
    pub post_logout_redirect_uri: AbsoluteUrl,
    pub scopes: String,
    pub response_mode: ResponseMode,
    /// The timeout of every call to the identity server.
    pub timeout: Duration,
    /// How long a fetched JWKS is trusted: after this the next ID-token validation fetches it again, so a key the
    /// identity server withdrew stops being accepted (an unknown `kid` refetches at once regardless).
    pub jwks_max_age: Duration,
    /// `JWKS_REFETCH_SECONDS` (60): an unknown `kid` refetches the JWKS at most once per this interval (per
    /// execution environment and instance), so forged tokens with made-up `kid`s cannot pump the identity server.
    pub jwks_refetch_interval: Duration,
    /// Accept OpenID Connect Back-Channel Logout at `/auth/backchannel-logout` (`BACKCHANNEL_LOGOUT`, off by default).
    pub backchannel_logout: bool,
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The DynamoDB table of sessions and pending logins.
    pub table: String,
    pub idle_timeout: Duration,
    pub absolute_lifetime: Duration,
    /// Last-seen is written at most once per this interval.
    pub touch_interval: Duration,
    /// Refresh proactively when the access token expires within this skew (capped at half the token's lifetime).
    pub refresh_skew: Duration,
    /// How long a refresh lease is held: longer than the token call's timeout, so a live refresher never loses it.
    pub refresh_lease: Duration,
    /// `POST /auth/refresh` on an access token younger than this (and not due) answers without a token call.
    pub refresh_floor: Duration,
    /// Device-bound sessions (`session::bound`).
    pub dbsc: DbscConfig,
}

#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// The Domain API base, e.g. `https://x.my.erp.net/api`. Proxied paths are appended to it.
    pub api_base: BaseUrl,
    /// Path prefixes (relative to the API base) the proxy forwards, e.g. `domain/odata/`.
    pub allowlist: Vec<String>,
    pub max_request_bytes: usize,
    pub timeout: Duration,
    /// `PROXY_STREAMING=true`: the proxy answers as a stream (a function URL in `RESPONSE_STREAM` mode); else
    /// buffered, within Lambda's 6 MB.
    pub streaming: bool,
    /// `PROXY_BUFFERED_LIMIT_BYTES` (6 MiB): a buffered answer's Lambda envelope must fit in this many bytes.
    pub buffered_limit: usize,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Parses configuration from any key lookup (the environment in production, a map in unit tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&get);
        let erpnet_url = env.opt("ERPNET_URL").map(|v| BaseUrl::parse("ERPNET_URL", &v)).transpose()?;
        let public_origin = Origin::parse("PUBLIC_ORIGIN", &env.req("PUBLIC_ORIGIN")?)?;
        let idp = IdpConfig::read(&env, erpnet_url.as_ref(), &public_origin)?;
        let proxy = ProxyConfig::read(&env, erpnet_url.as_ref())?;
        let session = SessionConfig::read(&env, idp.timeout)?;
        let front_door =
            env.opt("FRONT_DOOR_SECRET").map(|v| FrontDoorSecret::parse("FRONT_DOOR_SECRET", &v)).transpose()?;
        let instances = InstancesConfig {
            registry: env.flag("INSTANCE_REGISTRY", false)?,
            cache_for: env.secs("INSTANCE_CACHE_SECONDS", 60)?,
        };
        Ok(Config { public_origin, front_door, idp, session, proxy, instances })
    }
}

/// `ISSUER` / `API_BASE` when set, else derived from `ERPNET_URL`.
fn base_url(
    env: &Env<'_>,
    var: &'static str,
    erpnet_url: Option<&BaseUrl>,
    suffix: &str,
) -> Result<BaseUrl, ConfigError> {
    match env.opt(var) {
        Some(v) => BaseUrl::parse(var, &v),
        None => erpnet_url
            .map(|u| u.join(suffix))
            .ok_or_else(|| err("ERPNET_URL", "is required (or set ISSUER and API_BASE)")),
    }
}

impl IdpConfig {
    /// The hybrid flow with `response_mode=form_post` (else the code flow with the answer in the query).
    pub fn form_post(&self) -> bool {
        self.response_mode == ResponseMode::FormPost
    }

    fn read(env: &Env<'_>, erpnet_url: Option<&BaseUrl>, origin: &Origin) -> Result<Self, ConfigError> {
        let issuer = base_url(env, "ISSUER", erpnet_url, "/id")?;
        let uri = |var: &'static str, default: String| match env.opt(var) {
            Some(v) => AbsoluteUrl::parse(var, &v),
            None => Ok(AbsoluteUrl::derived(default)),
        };
        let redirect_uri = uri("REDIRECT_URI", format!("{origin}/auth/callback"))?;
        let post_logout_redirect_uri = uri("POST_LOGOUT_REDIRECT_URI", format!("{origin}/"))?;
        let client_secret = match (env.opt("CLIENT_SECRET"), env.opt("CLIENT_SECRET_ARN")) {
            (Some(v), _) => SecretSource::Value(ClientSecret::new(v)),
            (None, Some(arn)) if arn.starts_with("arn:") => SecretSource::SecretsManager { arn },
            (None, Some(_)) => {
                return Err(err("CLIENT_SECRET_ARN", "must be a Secrets Manager ARN (arn:aws:secretsmanager:…)"));
            }
            (None, None) => return Err(err("CLIENT_SECRET", "is required (or CLIENT_SECRET_ARN in AWS)")),
        };
        let response_mode = match env.opt("RESPONSE_MODE").as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(other) => {
                return Err(err("RESPONSE_MODE", format!("must be `query` or `form_post`, not `{other}`")));
            }
        };
        Ok(IdpConfig {
            issuer,
            client_id: env.req("CLIENT_ID")?,
            client_secret,
            redirect_uri,
            post_logout_redirect_uri,
            scopes: scopes(env)?,
            response_mode,
            timeout: env.millis("IDP_TIMEOUT_MS", 5_000)?,
            jwks_max_age: env.secs("JWKS_MAX_AGE", 3600)?,
            jwks_refetch_interval: env.secs("JWKS_REFETCH_SECONDS", 60)?,
            backchannel_logout: env.flag("BACKCHANNEL_LOGOUT", false)?,
        })
    }
}

fn scopes(env: &Env<'_>) -> Result<String, ConfigError> {
    check_scopes("SCOPES", env.opt("SCOPES").unwrap_or_else(|| "openid profile offline_access read update".into()))
}

impl SessionConfig {
    fn read(env: &Env<'_>, idp_timeout: Duration) -> Result<Self, ConfigError> {
        let refresh_lease = match env.opt("REFRESH_LEASE_MS") {
            Some(_) => env.millis("REFRESH_LEASE_MS", 0)?,
            None => idp_timeout * 2,
        };
        if refresh_lease <= idp_timeout {
            return Err(err("REFRESH_LEASE_MS", "must be longer than IDP_TIMEOUT_MS"));
        }
        Ok(SessionConfig {
            table: env.req("SESSION_TABLE")?,
            idle_timeout: env.secs("SESSION_IDLE_TIMEOUT", 8 * 3600)?,
            absolute_lifetime: env.secs("SESSION_ABSOLUTE_LIFETIME", 30 * 24 * 3600)?,
            touch_interval: env.secs("SESSION_TOUCH_INTERVAL", 300)?,
            refresh_skew: env.secs("REFRESH_SKEW", 60)?,
            refresh_lease,
            refresh_floor: env.secs_or_zero("REFRESH_FLOOR_SECONDS", 30)?,
            dbsc: DbscConfig {
                enabled: env.flag("DBSC", true)?,
                cookie_lifetime: env.secs("DBSC_COOKIE_SECONDS", 600)?,
            },
        })
    }
}

impl ProxyConfig {
    fn read(env: &Env<'_>, erpnet_url: Option<&BaseUrl>) -> Result<Self, ConfigError> {
        let api_base = base_url(env, "API_BASE", erpnet_url, "/api")?;
        let allowlist: Vec<String> = env
            .opt("PROXY_ALLOWLIST")
            .unwrap_or_else(|| "domain/odata/".into())
            .split(',')
            .map(|p| p.trim().trim_start_matches('/').to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if allowlist.is_empty() || allowlist.iter().any(|p| p.contains("..") || p.contains('\\')) {
            return Err(err("PROXY_ALLOWLIST", "must be a comma-separated list of path prefixes like `domain/odata/`"));
        }
        let max_request_bytes = env.bytes("PROXY_MAX_REQUEST_BYTES", 1024 * 1024)?;
        let buffered_limit = env.bytes("PROXY_BUFFERED_LIMIT_BYTES", 6 * 1024 * 1024)?;
        let streaming = match env.opt("PROXY_STREAMING").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(err("PROXY_STREAMING", "must be `true` or `false`")),
        };
        let timeout = env.millis("UPSTREAM_TIMEOUT_MS", 25_000)?;
        Ok(ProxyConfig { api_base, allowlist, max_request_bytes, buffered_limit, timeout, streaming })
    }
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
        assert_eq!(c.idp.issuer.as_str(), "https://testdb.my.erp.net/id");
        assert_eq!(c.proxy.api_base.as_str(), "https://testdb.my.erp.net/api");
        assert_eq!(c.idp.redirect_uri.as_str(), "https://app.example.com/auth/callback");
        assert_eq!(c.idp.post_logout_redirect_uri.as_str(), "https://app.example.com/");
        assert_eq!(c.proxy.allowlist, vec!["domain/odata/".to_string()]);
        assert_eq!(c.idp.response_mode, ResponseMode::Query);
        assert!(c.session.refresh_lease > c.idp.timeout);
        assert_eq!(c.idp.jwks_max_age, Duration::from_secs(3600));
        assert!(!c.idp.backchannel_logout, "off unless configured");
        assert!(c.session.dbsc.enabled, "DBSC on unless configured");
        assert_eq!(c.session.dbsc.cookie_lifetime, Duration::from_secs(600));
        let mut m = base();
        m.insert("JWKS_MAX_AGE", "90");
        assert_eq!(parse(&m).unwrap().idp.jwks_max_age, Duration::from_secs(90));
    }

    #[test]
    fn jwks_refetch_interval_defaults_to_60_s() {
        assert_eq!(parse(&base()).unwrap().idp.jwks_refetch_interval, Duration::from_secs(60));
        let mut m = base();
        m.insert("JWKS_REFETCH_SECONDS", "5");
        assert_eq!(parse(&m).unwrap().idp.jwks_refetch_interval, Duration::from_secs(5));
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
            ("JWKS_MAX_AGE", "0"),
            ("JWKS_REFETCH_SECONDS", "0"),
            ("REFRESH_FLOOR_SECONDS", "-1"),
            ("BACKCHANNEL_LOGOUT", "yes"),
            ("DBSC", "1"),
            ("DBSC_COOKIE_SECONDS", "0"),
            ("INSTANCE_REGISTRY", "on"),
            ("INSTANCE_CACHE_SECONDS", "0"),
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
    fn refresh_floor_defaults_to_30_s_and_may_be_0() {
        assert_eq!(parse(&base()).unwrap().session.refresh_floor, Duration::from_secs(30));
        let mut m = base();
        m.insert("REFRESH_FLOOR_SECONDS", "0");
        assert_eq!(parse(&m).unwrap().session.refresh_floor, Duration::ZERO);
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = parse(&base()).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{:?}", c.idp.client_secret).contains("s3cret"));
    }

    #[test]
    fn secret_from_secrets_manager() {
        let mut m = base();
        m.remove("CLIENT_SECRET");
        m.insert("CLIENT_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123:secret:bff-x");
        assert!(matches!(parse(&m).unwrap().idp.client_secret, SecretSource::SecretsManager { .. }));
        m.insert("CLIENT_SECRET_ARN", "bff-x");
        assert_eq!(parse(&m).expect_err("not an ARN").var, "CLIENT_SECRET_ARN");
    }
}
