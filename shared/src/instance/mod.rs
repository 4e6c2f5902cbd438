//! ERP.net instances: one deployment serves many, each on a host of its own (`<key>.<app host>`), with its own
//! identity server, Domain API and client registration. [`key`] names one, [`registry`] stores them, [`host`] reads
//! the request's host, and [`Instances`] hands a request its [`Instance`]: the environment's own (the default, on
//! the app's host; the only one unless `INSTANCE_REGISTRY=true`) or a registered one, cached for
//! `INSTANCE_CACHE_SECONDS` and built lazily (its discovery, JWKS and secret are fetched on first use).

pub mod host;
pub mod key;
pub mod registry;

pub use key::InstanceKey;

use crate::config::{AbsoluteUrl, BaseUrl, Config, ConfigError, IdpConfig, InstancesConfig, Origin, SecretSource};
use crate::error::BffError;
use crate::idp::IdentityServer;
use host::Host;
use lambda_http::http::HeaderMap;
use registry::{Entry, Registry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One ERP.net instance as a request sees it: everything that differs from one instance to another. Chosen once
/// per request (`App::tenant`); nothing per instance is read anywhere else.
pub struct Instance {
    pub key: InstanceKey,
    /// The browser's origin on this instance's host: the only `Origin` its requests may carry.
    pub origin: Origin,
    /// Its identity server, with this instance's client registration (issuer, client id and secret, scopes,
    /// redirect URIs, response mode).
    pub idp: IdentityServer,
    /// Its Domain API and what the proxy forwards there.
    pub api: Api,
    /// What issues this instance's sessions: a session whose tokens another issuer, client or API stands behind is
    /// never used here.
    pub issued_by: IssuedBy,
}

/// An instance's Domain API: a session of this instance sends its token here and nowhere else, and only for paths
/// under the allowlist (also every inner request of a `$batch`).
#[derive(Clone, Debug)]
pub struct Api {
    /// E.g. `https://acme.my.erp.net/api`.
    pub base: BaseUrl,
    /// Path prefixes (relative to the base) the proxy forwards, e.g. `domain/odata/`.
    pub allowlist: Vec<String>,
}

/// What issued a session's tokens: the instance's key, issuer, client id and API base, hashed. Stored with every
/// session and pending login; when an operator re-points an instance (another URL or client), its value changes,
/// and the sessions it issued before end on their next request without a token sent anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedBy(String);

impl IssuedBy {
    pub fn of(key: &InstanceKey, idp: &IdpConfig, api: &BaseUrl) -> Self {
        let joined = [key.as_str(), idp.issuer.as_str(), &idp.client_id, api.as_str()].join("\u{0}");
        Self(crate::crypto::b64url(&crate::crypto::sha256(joined.as_bytes())[..16]))
    }

    /// A value as stored.
    pub fn from_stored(v: String) -> Self {
        Self(v)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Instance {
    fn new(key: InstanceKey, origin: Origin, idp: IdentityServer, api: Api) -> Self {
        let issued_by = IssuedBy::of(&key, idp.config(), &api.base);
        Self { key, origin, idp, api, issued_by }
    }
}

/// Every instance this deployment serves.
pub struct Instances {
    default: Arc<Instance>,
    registered: Option<Registered>,
}

/// The registered instances: read from the [`Registry`] by key, cached.
struct Registered {
    /// The public origin's `host[:port]`, lower case: `<key>.` in front of it names an instance.
    app_host: String,
    scheme: String,
    config: InstancesConfig,
    /// The default instance's settings, which a registered instance inherits (timeouts, response mode, …).
    template: IdpConfig,
    /// The default instance's allowlist, which a registered instance inherits.
    allowlist: Vec<String>,
    http: reqwest::Client,
    registry: Registry,
    cache: Mutex<HashMap<InstanceKey, Cached>>,
}

/// At most this many keys are cached (every host under the wildcard reaches the functions, registered or not).
const MAX_CACHED: usize = 1024;

/// A registry read: the entry and the instance built from it, or `None` (unknown, disabled or unusable).
struct Cached {
    at: Instant,
    found: Option<(Entry, Arc<Instance>)>,
}

impl Instances {
    pub fn new(config: &Config, http: reqwest::Client, registry: Registry) -> Self {
        let api = Api { base: config.proxy.api_base.clone(), allowlist: config.proxy.allowlist.clone() };
        let idp = IdentityServer::new(config.idp.clone(), http.clone(), None);
        let default = Arc::new(Instance::new(InstanceKey::default_instance(), config.public_origin.clone(), idp, api));
        let registered = config.instances.registry.then(|| {
            let origin = config.public_origin.as_str();
            let (scheme, app_host) = origin.split_once("://").unwrap_or(("https", origin));
            Registered {
                app_host: app_host.to_ascii_lowercase(),
                scheme: scheme.to_string(),
                config: config.instances.clone(),
                template: config.idp.clone(),
                allowlist: config.proxy.allowlist.clone(),
                http,
                registry,
                cache: Mutex::new(HashMap::new()),
            }
        });
        Self { default, registered }
    }

    /// The instance a request is for: by its host when the registry is on. An unknown or disabled one is 404
    /// `unknown_instance`, before anything is stored.
    pub async fn for_request(&self, headers: &HeaderMap) -> Result<Arc<Instance>, BffError> {
        let Some(registry) = &self.registered else { return Ok(self.default.clone()) };
        match Host::of(headers, &registry.app_host) {
            Host::App => Ok(self.default.clone()),
            Host::Instance(key) => registry.get(&key).await?.ok_or(BffError::UnknownInstance),
            Host::Other => Err(BffError::UnknownInstance),
        }
    }
}

impl Registered {
    async fn get(&self, key: &InstanceKey) -> Result<Option<Arc<Instance>>, BffError> {
        // A fresh entry answers with its instance alone (the request's path: no copy of the entry); an expired one
        // is kept to compare with what the registry says now.
        let previous = match self.cache.lock().expect("registry cache").get(key) {
            Some(c) if c.at.elapsed() < self.config.cache_for => return Ok(c.found.as_ref().map(|(_, i)| i.clone())),
            Some(c) => c.found.clone(),
            None => None,
        };
        let entry = self.registry.get(key).await?.filter(|e| e.enabled);
        let found = match entry {
            None => None,
            // Unchanged: the same instance, with its discovery and keys already fetched.
            Some(e) => match previous.filter(|(old, _)| *old == e) {
                Some(same) => Some(same),
                None => self.build(key, &e).map(|i| (e, Arc::new(i))),
            },
        };
        let instance = found.as_ref().map(|(_, i)| i.clone());
        let mut cache = self.cache.lock().expect("registry cache");
        if cache.len() >= MAX_CACHED && !cache.contains_key(key) {
            // Bounded, whatever hosts are asked for: expired entries and unknown keys go first, and an unknown key
            // is not remembered while the cache is full of instances.
            cache.retain(|_, c| c.found.is_some() && c.at.elapsed() < self.config.cache_for);
        }
        if cache.len() < MAX_CACHED || found.is_some() {
            cache.insert(key.clone(), Cached { at: Instant::now(), found });
        }
        Ok(instance)
    }

    /// An instance from its entry; an unusable entry is logged (an operator's mistake) and treated as unknown.
    fn build(&self, key: &InstanceKey, e: &Entry) -> Option<Instance> {
        let built = self.try_build(key, e);
        if let Err(problem) = &built {
            tracing::error!(instance = %key, %problem, "unusable instance registry entry");
        }
        built.ok()
    }

    fn try_build(&self, key: &InstanceKey, e: &Entry) -> Result<Instance, ConfigError> {
        let origin = Origin::parse("origin", &format!("{}://{key}.{}", self.scheme, self.app_host))?;
        // The operator's rule again (https, or http to loopback; no user info, query or fragment): the table may
        // have been written by something else than `bff-operator`.
        let url = e.url.as_deref().map(|u| BaseUrl::parse_instance(registry::attr::URL, u)).transpose()?;
        let derived = |attr: &'static str, given: &Option<String>, suffix: &str| match (given, &url) {
            (Some(v), _) => BaseUrl::parse_instance(attr, v),
            (None, Some(u)) => Ok(u.join(suffix)),
            (None, None) => Err(crate::config::ConfigError { var: registry::attr::URL, problem: "is missing".into() }),
        };
        let client_secret = SecretSource::from_ref(&e.secret_ref).ok_or_else(|| ConfigError {
            var: registry::attr::SECRET_REF,
            problem: "must be a Secrets Manager ARN or env:BFF_SECRET_<NAME>".into(),
        })?;
        let scopes = match &e.scopes {
            Some(s) => crate::config::check_scopes(registry::attr::SCOPES, s.clone())?,
            None => self.template.scopes.clone(),
        };
        let idp = IdpConfig {
            issuer: derived(registry::attr::ISSUER, &e.issuer, "/id")?,
            client_id: e.client_id.clone(),
            client_secret,
            redirect_uri: AbsoluteUrl::parse("redirect_uri", &format!("{origin}/auth/callback"))?,
            post_logout_redirect_uri: AbsoluteUrl::parse("post_logout_redirect_uri", &format!("{origin}/"))?,
            scopes,
            ..self.template.clone()
        };
        let api =
            Api { base: derived(registry::attr::API_BASE, &e.api_base, "/api")?, allowlist: self.allowlist.clone() };
        let secret_max_age = Some(self.config.cache_for);
        Ok(Instance::new(key.clone(), origin, IdentityServer::new(idp, self.http.clone(), secret_max_age), api))
    }
}
