//! The identity server's signing keys: the JWKS, fetched on first use, refetched for an unknown `kid` (key
//! rotation), with a short memory of `kid`s that stayed unknown (a forged token must not make us hammer the IdP), and
//! refetched once it is older than `JWKS_MAX_AGE` (`IdpConfig::jwks_max_age`): a key the IdP withdrew from its JWKS
//! is trusted at most that long after (a stale set is never used, even when the IdP cannot be reached).

use super::{IdentityServer, transport_error};
use crate::error::BffError;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// A `kid` still unknown after a refetch is not looked up again for this long (a freshly rotated key is found at
/// once, since it was never missed).
const JWKS_MISS_TTL: Duration = Duration::from_secs(10);

/// The cached key set (with when it was fetched) and the recently missed `kid`s.
#[derive(Default)]
pub(super) struct JwksCache {
    jwks: RwLock<Option<(JwkSet, Instant)>>,
    misses: std::sync::Mutex<HashMap<String, Instant>>,
}

impl IdentityServer {
    async fn fetch_jwks(&self) -> Result<JwkSet, BffError> {
        let uri = self.discovery().await?.jwks_uri.clone();
        let resp = self.http.get(&uri).send().await.map_err(transport_error)?;
        if !resp.status().is_success() {
            return Err(BffError::IdpUnavailable(format!("JWKS answered {}", resp.status())));
        }
        resp.json().await.map_err(|e| BffError::IdpUnavailable(format!("JWKS is not valid JSON: {}", e.without_url())))
    }

    /// The key for `kid`, refetching the JWKS once if it is unknown (the IdP may have rotated its keys).
    pub(super) async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, BffError> {
        let find = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(k) => set.find(k).cloned(),
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        let max_age = self.config.jwks_max_age;
        let stale = {
            let cached = self.jwks.jwks.read().await;
            match cached.as_ref() {
                Some((set, fetched)) if fetched.elapsed() < max_age => match find(set) {
                    Some(k) => return Ok(k),
                    None => false,
                },
                _ => true,
            }
        };
        let miss_key = kid.unwrap_or("").to_string();
        let recently_missed = {
            let mut misses = self.jwks.misses.lock().expect("misses lock");
            misses.retain(|_, at| at.elapsed() < JWKS_MISS_TTL);
            misses.contains_key(&miss_key)
        };
        if stale || !recently_missed {
            let set = self.fetch_jwks().await?;
            let found = find(&set);
            *self.jwks.jwks.write().await = Some((set, Instant::now()));
            if let Some(k) = found {
                return Ok(k);
            }
            self.jwks.misses.lock().expect("misses lock").insert(miss_key, Instant::now());
        }
        Err(super::id_token::invalid_id_token("the ID token's signing key is unknown"))
    }
}
