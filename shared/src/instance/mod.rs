//! ERP.net instances: one deployment serves many, each on a host of its own (`<key>.<app host>`), with its own
//! identity server, Domain API and client registration. [`key`] names one, [`registry`] stores them, [`host`] reads
//! the request's host, and [`Instances`] hands a request its [`Instance`]: the environment's own (the default, on
//! the app's host; the only one unless `INSTANCE_REGISTRY=true`) or a registered one, cached for
//! `INSTANCE_CACHE_SECONDS` and built lazily (its discovery, JWKS and secret are fetched on first use).

pub mod host;
pub mod key;
pub mod registry;

pub use key::InstanceKey;

use crate::config::{AbsoluteUrl, BaseUrl, Config, ConfigError, IdpConfig, InstancesConfig, Origin};
use crate::error::BffError;
use crate::idp::IdentityServer;
use crate::idp::client_secret::SecretSource;
use crate::session::store::SessionStore;
use host::Host;
use lambda_http::http::HeaderMap;
use registry::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One ERP.net instance as a request sees it.
pub struct Instance {
    pub key: InstanceKey,
    /// The browser's origin on this instance's host: the only `Origin` its requests may carry.
    pub origin: Origin,
    pub idp: IdentityServer,
    /// Its Domain API: a session of this instance sends its token here and nowhere else.
    pub api_base: BaseUrl,
}

/// Every instance this deployment serves.
pub struct Instances {
    default: Arc<Instance>,
    registry: Option<Registry>,
}

struct Registry {
    /// The public origin's `host[:port]`, lower case: `<key>.` in front of it names an instance.
    app_host: String,
    scheme: String,
    config: InstancesConfig,
    /// The default instance's settings, which a registered instance inherits (timeouts, response mode, …).
    template: IdpConfig,
    http: reqwest::Client,
    store: SessionStore,
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
    pub fn new(config: &Config, http: reqwest::Client, store: SessionStore) -> Self {
        let default = Arc::new(Instance {
            key: InstanceKey::default_instance(),
            origin: config.public_origin.clone(),
            idp: IdentityServer::new(config.idp.clone(), http.clone(), None),
            api_base: config.proxy.api_base.clone(),
        });
        let registry = config.instances.registry.then(|| {
            let origin = config.public_origin.as_str();
            let (scheme, app_host) = origin.split_once("://").unwrap_or(("https", origin));
            Registry {
                app_host: app_host.to_ascii_lowercase(),
                scheme: scheme.to_string(),
                config: config.instances.clone(),
                template: config.idp.clone(),
                http,
                store,
                cache: Mutex::new(HashMap::new()),
            }
        });
        Self { default, registry }
    }

    /// The environment's instance (the only one without a registry).
    pub fn default_instance(&self) -> &Arc<Instance> {
        &self.default
    }

    /// The instance a request is for: by its host when the registry is on. An unknown or disabled one is 404
    /// `unknown_instance`, before anything is stored.
    pub async fn for_request(&self, headers: &HeaderMap) -> Result<Arc<Instance>, BffError> {
        let Some(registry) = &self.registry else { return Ok(self.default.clone()) };
        match Host::of(headers, &registry.app_host) {
            Host::App => Ok(self.default.clone()),
            Host::Instance(key) => registry.get(&key).await?.ok_or(BffError::UnknownInstance),
            Host::Other => Err(BffError::UnknownInstance),
        }
    }
}

impl Registry {
    async fn get(&self, key: &InstanceKey) -> Result<Option<Arc<Instance>>, BffError> {
        // A fresh entry answers with its instance alone (the request's path: no copy of the entry); an expired one
        // is kept to compare with what the registry says now.
        let previous = match self.cache.lock().expect("registry cache").get(key) {
            Some(c) if c.at.elapsed() < self.config.cache_for => return Ok(c.found.as_ref().map(|(_, i)| i.clone())),
            Some(c) => c.found.clone(),
            None => None,
        };
        let entry = self.store.instance(key).await?.filter(|e| e.enabled);
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
        let url = e.url.as_deref().map(|u| BaseUrl::parse(registry::attr::URL, u)).transpose()?;
        let derived = |attr: &'static str, given: &Option<String>, suffix: &str| match (given, &url) {
            (Some(v), _) => BaseUrl::parse(attr, v),
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
        let api_base = derived(registry::attr::API_BASE, &e.api_base, "/api")?;
        let secret_max_age = Some(self.config.cache_for);
        Ok(Instance {
            key: key.clone(),
            origin,
            idp: IdentityServer::new(idp, self.http.clone(), secret_max_age),
            api_base,
        })
    }
}
