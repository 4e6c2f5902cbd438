//! The identity server's signing keys: the JWKS, fetched on first use, refetched once it is older than
//! `JWKS_MAX_AGE` (`IdpConfig::jwks_max_age`: a key the IdP withdrew from its JWKS is trusted at most that long
//! after; a stale set is never used, even when the IdP cannot be reached), and refetched for an unknown `kid` (key
//! rotation) at most once per `JWKS_REFETCH_SECONDS` (`IdpConfig::jwks_refetch_interval`).
//!
//! A forged token costs the identity server nothing more: whatever `kid`s it makes up, an execution environment
//! asks for the JWKS because of an unknown `kid` at most once per interval, and one fetch is in flight at a time
//! (concurrent requests wait for it and take its answer). The callers refuse a token that cannot be the identity
//! server's (`alg`, `typ`, `iss`, `aud`) before they ask for a key (`super::unverified`).

use super::{IdentityServer, transport_error};
use crate::error::BffError;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The cached key set (with when it was fetched), and the single flight of fetches.
#[derive(Default)]
pub(super) struct JwksCache {
    set: RwLock<Option<(JwkSet, Instant)>>,
    /// Held for the whole of a fetch: one at a time, the others wait for it.
    fetches: tokio::sync::Mutex<Fetches>,
}

/// When the JWKS was last asked for, and when a fetch last left the `kid` it was made for unknown.
#[derive(Default)]
struct Fetches {
    attempted: Option<Instant>,
    missed: Option<Instant>,
}

/// What the cached set says about a `kid`.
enum Lookup {
    Found(Box<Jwk>),
    /// The set is fresh and has no such key.
    Unknown,
    /// No set yet, or it is older than `JWKS_MAX_AGE`.
    Stale,
}

fn unknown_key() -> BffError {
    super::id_token::invalid_id_token("the ID token's signing key is unknown")
}

fn find(set: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(k) => set.find(k).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

/// Whether a fetch may be made now, given what the fetches so far did. `asked`: when the caller first looked.
/// `None`: the fetch is made; `Some(error)`: the caller is answered without one.
fn gate(lookup_stale: bool, fetches: &Fetches, asked: Instant, interval: Duration) -> Option<BffError> {
    // A fetch made while this caller waited has answered for it too.
    let waited_for_one = fetches.attempted.is_some_and(|t| t >= asked);
    if lookup_stale {
        // No usable set: that fetch failed (else the set would be fresh).
        return waited_for_one.then(|| BffError::IdpUnavailable("the JWKS could not be fetched".into()));
    }
    let missed_lately = fetches.missed.is_some_and(|t| t.elapsed() < interval);
    (waited_for_one || missed_lately).then(unknown_key)
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

    fn lookup(&self, kid: Option<&str>) -> Lookup {
        let cached = self.jwks.set.read().expect("jwks lock");
        match cached.as_ref() {
            Some((set, fetched)) if fetched.elapsed() < self.config.jwks_max_age => {
                find(set, kid).map_or(Lookup::Unknown, |k| Lookup::Found(Box::new(k)))
            }
            _ => Lookup::Stale,
        }
    }

    /// The key for `kid`: from the cached set while it is fresh; else (no set, a stale one, or an unknown `kid`
    /// and no refetch for one within the interval) from a fetch, one at a time.
    pub(super) async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, BffError> {
        let asked = Instant::now();
        if let Lookup::Found(k) = self.lookup(kid) {
            return Ok(*k);
        }
        let mut fetches = self.jwks.fetches.lock().await;
        // Looked at again under the lock: the fetch this caller waited for may have brought the key.
        let stale = match self.lookup(kid) {
            Lookup::Found(k) => return Ok(*k),
            Lookup::Unknown => false,
            Lookup::Stale => true,
        };
        if let Some(refused) = gate(stale, &fetches, asked, self.config.jwks_refetch_interval) {
            return Err(refused);
        }
        fetches.attempted = Some(Instant::now());
        let set = self.fetch_jwks().await?;
        let found = find(&set, kid);
        *self.jwks.set.write().expect("jwks lock") = Some((set, Instant::now()));
        found.ok_or_else(|| {
            // Whatever made this fetch (a stale set, or this very `kid` unknown), it found no such key: the next
            // unknown `kid` waits for the interval.
            fetches.missed = Some(Instant::now());
            unknown_key()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn an_unknown_kid_refetches_once_per_interval() {
        let asked = Instant::now();
        let never = Fetches::default();
        assert!(gate(false, &never, asked, MINUTE).is_none(), "the first unknown kid refetches");
        assert!(gate(true, &never, asked, MINUTE).is_none(), "no set yet: fetched");
        let earlier = asked.checked_sub(Duration::from_secs(5)).unwrap();
        let missed = Fetches { attempted: Some(earlier), missed: Some(earlier) };
        assert!(matches!(gate(false, &missed, asked, MINUTE), Some(BffError::LoginFailed { .. })), "within it");
        assert!(gate(false, &missed, asked, Duration::from_secs(1)).is_none(), "after it");
        assert!(gate(true, &missed, asked, MINUTE).is_none(), "a stale set is refetched whatever missed");
    }

    #[test]
    fn a_caller_that_waited_for_a_fetch_takes_its_answer() {
        let asked = Instant::now();
        let later = Fetches { attempted: Some(Instant::now()), missed: None };
        assert!(matches!(gate(false, &later, asked, MINUTE), Some(BffError::LoginFailed { .. })), "still unknown");
        assert!(matches!(gate(true, &later, asked, MINUTE), Some(BffError::IdpUnavailable(_))), "it failed");
    }
}
