//! In-process single-flight in front of the DynamoDB lease: where one process serves several requests at once
//! (Lambda Managed Instances), the refreshes of one session in this process go one at a time, so the process never
//! races itself for the lease; the ones that waited then read what the first one stored.

use crate::session::secrets::SessionKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct Flights(Mutex<HashMap<String, Weak<AsyncMutex<()>>>>);

/// Being the one refresher of a session in this process; `waited`: another one went first.
pub struct Flight {
    _turn: OwnedMutexGuard<()>,
    pub waited: bool,
}

impl Flights {
    /// Waits for this process's turn to refresh the session at `key`.
    pub async fn enter(&self, key: &SessionKey) -> Flight {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|_, w| w.strong_count() > 0);
            match map.get(key.as_str()).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(AsyncMutex::new(()));
                    map.insert(key.as_str().to_string(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        match lock.clone().try_lock_owned() {
            Ok(turn) => Flight { _turn: turn, waited: false },
            Err(_) => Flight { _turn: lock.lock_owned().await, waited: true },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_session_one_flight_others_go_on() {
        let flights = Flights::default();
        let (a, b) = (SessionKey::from_stored("session#a".into()), SessionKey::from_stored("session#b".into()));
        let first = flights.enter(&a).await;
        assert!(!first.waited);
        // Another session is not held up.
        assert!(!flights.enter(&b).await.waited);
        // The same session waits for the first flight to end.
        let second = flights.enter(&a);
        tokio::pin!(second);
        assert!(futures_poll_once(second.as_mut()).await.is_none());
        drop(first);
        assert!(second.await.waited);
        // Ended flights leave nothing behind.
        let _ = flights.enter(&b).await;
        assert_eq!(flights.0.lock().unwrap().len(), 1);
    }

    /// Polls a future once: `Some` if it is ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::time::timeout(std::time::Duration::from_millis(20), f).await.ok()
    }
}
