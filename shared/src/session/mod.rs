//! A session: one item in the store, named by a keyed hash of the browser's cookie secret ([`secrets`]), holding the
//! sealed token set ([`tokens`]). Its whole life is here: [`Session::start`] at the callback, [`current`] on every
//! request (load, expire, touch), [`refresh::TokenKeeper`] keeping the access token fresh, [`Session::end`] on
//! logout, expiry or a dead refresh token. [`store`] owns the session items; [`user`] says whose a session is.

pub mod backchannel;
pub mod bound;
pub mod current;
pub mod device;
pub mod mine;
pub mod refresh;
pub mod replays;
pub mod secrets;
pub mod store;
pub mod tokens;
pub mod user;

use crate::config::SessionConfig;
use crate::error::BffError;
use crate::instance::{Instance, InstanceKey, IssuedBy};
use crate::time::{UnixMillis, UnixTime};
use secrets::{SessionKey, SessionSecret};
use std::time::Duration;
use store::{Loaded, Sessions};
use tokens::TokenSet;
use user::{UserId, UserKey};

/// A session as the routes see it (tokens still sealed: only opened where they are used).
#[derive(Clone, Debug)]
pub struct Session {
    pub key: SessionKey,
    /// The opaque public id (`/auth/sessions`).
    pub id: String,
    /// Whose session it is: the instance and ERP.net's stable user id.
    pub user: UserKey,
    /// The ID token's `sub` (the login name) at sign-in: only for back-channel logout by `sub`.
    pub sub: String,
    /// ERP.net's `sid` claim, when the ID token had one.
    pub idp_sid: Option<String>,
    /// The ERP.net instance it was signed in to.
    pub instance: InstanceKey,
    /// What issued its tokens: they go to that issuer, client and API only.
    pub issued_by: IssuedBy,
    /// A coarse device label ("Chrome on Windows").
    pub device: String,
    /// Display claims for `/auth/session` (never tokens).
    pub claims: serde_json::Map<String, serde_json::Value>,
    pub sealed_tokens: Vec<u8>,
    pub access_expires_at: UnixTime,
    /// The access token's lifetime when issued (caps the proactive-refresh skew at half of it).
    pub access_lifetime: Duration,
    pub created_at: UnixTime,
    pub last_seen: UnixTime,
    pub absolute_expires_at: UnixTime,
    /// Bumped by every write of a new token set; refresh coordination conditions on it.
    pub version: i64,
    /// Until when a refresher holds the lease ([`UnixMillis::NEVER`]: none).
    pub lease_until: UnixMillis,
    /// The key its browser registered (DBSC, [`bound`]): then every request needs the live bound cookie.
    pub binding: Option<bound::Binding>,
}

/// A completed sign-in: who, what to show, and the tokens (from `login::callback::sign_in`).
pub struct SignedIn {
    pub sub: String,
    pub idp_sid: Option<String>,
    pub user_id: UserId,
    pub claims: serde_json::Map<String, serde_json::Value>,
    pub tokens: TokenSet,
    pub access_lifetime: Duration,
}

impl Session {
    pub fn idle_expires_at(&self, idle_timeout: Duration) -> UnixTime {
        self.last_seen + idle_timeout
    }

    /// When the session ends if nothing happens: the earlier of idle and absolute expiry. Also the item's TTL.
    pub fn expires_at(&self, idle_timeout: Duration) -> UnixTime {
        self.idle_expires_at(idle_timeout).min(self.absolute_expires_at)
    }

    pub fn is_expired(&self, now: UnixTime, idle_timeout: Duration) -> bool {
        now >= self.expires_at(idle_timeout)
    }

    /// The token set, opened with the browser's secret. A session whose tokens do not open under this cookie is
    /// not this cookie's session.
    pub fn tokens(&self, secret: &SessionSecret) -> Result<TokenSet, BffError> {
        TokenSet::open(&self.sealed_tokens, secret).ok_or(BffError::SessionExpired)
    }

    /// Starts a **new** session for `signed_in` under a fresh secret (never one named by the request: no
    /// fixation), and returns the secret with the session's absolute expiry. The browser's previous session is
    /// ended first by the caller ([`end_with_secret`]).
    pub async fn start(
        sessions: &Sessions,
        config: &SessionConfig,
        instance: &Instance,
        signed_in: SignedIn,
        device: String,
    ) -> Result<(SessionSecret, UnixTime), BffError> {
        let secret = SessionSecret::generate();
        let now = UnixTime::now();
        let session = Session {
            key: secret.key(),
            id: crate::crypto::b64url(&crate::crypto::random_bytes::<16>()),
            user: UserKey::new(&instance.key, &signed_in.user_id),
            sub: signed_in.sub,
            idp_sid: signed_in.idp_sid,
            instance: instance.key.clone(),
            issued_by: instance.issued_by.clone(),
            device,
            claims: signed_in.claims,
            sealed_tokens: signed_in.tokens.seal(&secret),
            access_expires_at: now + signed_in.access_lifetime,
            access_lifetime: signed_in.access_lifetime,
            created_at: now,
            last_seen: now,
            absolute_expires_at: now + config.absolute_lifetime,
            version: 1,
            lease_until: UnixMillis::NEVER,
            binding: None,
        };
        sessions.create(&session, session.expires_at(config.idle_timeout)).await?;
        Ok((secret, session.absolute_expires_at))
    }

    /// Ends the session: its item is deleted (whatever its version).
    pub async fn end(&self, sessions: &Sessions) -> Result<(), BffError> {
        Ok(sessions.delete(&self.key).await?)
    }
}

/// How a stored session stands to the request's instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Issued by this instance as it is now.
    Ours,
    /// Of this instance's key, but issued before it was re-pointed (another issuer, client or API): it ends, and
    /// none of its tokens goes anywhere.
    Repointed,
    /// Another instance's (its cookie carried to this host by hand): not this request's, left alone.
    Foreign,
}

impl Standing {
    pub fn of(key: &InstanceKey, issued_by: &IssuedBy, instance: &Instance) -> Self {
        match (key == &instance.key, issued_by == &instance.issued_by) {
            (false, _) => Standing::Foreign,
            (true, false) => Standing::Repointed,
            (true, true) => Standing::Ours,
        }
    }
}

/// Ends the browser's previous sessions at a sign-in: the one recorded when the sign-in started (a browser does not
/// send its Strict cookie on the callback's cross-site navigation) and the one whose cookie came along anyway.
pub async fn end_previous(
    sessions: &Sessions,
    instance: &Instance,
    recorded: Option<&SessionSecret>,
    sent: Option<SessionSecret>,
) -> Result<(), BffError> {
    let mut previous: Vec<SessionSecret> = recorded.into_iter().cloned().collect();
    previous.extend(sent.filter(|s| previous.iter().all(|p| p.key() != s.key())));
    for old in &previous {
        end_with_secret(sessions, instance, old).await?;
    }
    Ok(())
}

/// Ends the session of `instance` that `secret` (a cookie this browser holds or held) opens, as only its own
/// browser can: its refresh token is revoked at the instance's identity server (when discovery lists a revocation
/// endpoint; best effort), then its item is deleted. A session ended from elsewhere (a tombstone) is finished the
/// same way; one issued before the instance was re-pointed is deleted with nothing sent; another instance's is left
/// alone. Nothing happens when there is no such session.
pub async fn end_with_secret(sessions: &Sessions, instance: &Instance, secret: &SessionSecret) -> Result<(), BffError> {
    let key = secret.key();
    let (sealed, standing) = match sessions.load(&key).await? {
        Loaded::Live(s) => (s.sealed_tokens, Standing::of(&s.instance, &s.issued_by, instance)),
        Loaded::Ended { sealed, instance: k, issued_by } => (sealed, Standing::of(&k, &issued_by, instance)),
        Loaded::Missing => return Ok(()),
    };
    match standing {
        Standing::Foreign => return Ok(()),
        Standing::Repointed => {}
        Standing::Ours => {
            if let Some(rt) = TokenSet::open(&sealed, secret).and_then(|t| t.refresh_token) {
                instance.idp.revoke(&rt).await;
            }
        }
    }
    Ok(sessions.delete(&key).await?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn t(secs: i64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// A session for unit tests.
    pub(crate) fn sample() -> Session {
        Session {
            key: SessionKey::from_stored("k".into()),
            id: "i".into(),
            user: UserKey::from_stored("default|u".into()),
            sub: "s".into(),
            idp_sid: None,
            instance: InstanceKey::default_instance(),
            issued_by: IssuedBy::from_stored("i".into()),
            device: "d".into(),
            claims: Default::default(),
            sealed_tokens: vec![],
            access_expires_at: t(0),
            access_lifetime: Duration::from_secs(3600),
            created_at: t(0),
            last_seen: t(100),
            absolute_expires_at: t(1000),
            version: 1,
            lease_until: UnixMillis::NEVER,
            binding: None,
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_idle_and_absolute() {
        let mut s = sample();
        let idle = Duration::from_secs(50);
        assert_eq!(s.expires_at(idle), t(150));
        assert!(s.is_expired(t(150), idle) && !s.is_expired(t(149), idle));
        s.last_seen = t(990);
        assert_eq!(s.expires_at(idle), t(1000));
    }
}
