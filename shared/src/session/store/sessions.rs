//! Session items: create, read, delete, touch; and the mapping between an item and a [`Session`].

use super::Sessions;
use super::attr::*;
use crate::instance::{InstanceKey, IssuedBy};
use crate::session::Session;
use crate::session::bound::Binding;
use crate::session::secrets::SessionKey;
use crate::session::user::{UserKey, qualified};
use crate::store::{Item, StoreError, b, conditional, get_b, get_n, get_s, n, s};
use crate::time::{UnixMillis, UnixTime};
use std::collections::HashMap;
use std::time::Duration;

/// A session item as its own browser finds it.
#[allow(clippy::large_enum_variant)] // one per request, moved once: boxing would buy nothing
pub enum Loaded {
    Live(Session),
    /// Ended from elsewhere: only the sealed token set (for its browser to revoke the refresh token), its
    /// instance and what issued it are left.
    Ended {
        sealed: Vec<u8>,
        instance: InstanceKey,
        issued_by: IssuedBy,
    },
    Missing,
}

impl Loaded {
    /// The live session, if that is what was found.
    pub fn live(self) -> Option<Session> {
        match self {
            Loaded::Live(s) => Some(s),
            _ => None,
        }
    }
}

/// What a refresh writes back.
#[derive(Clone)]
pub struct RefreshedTokens {
    pub sealed_tokens: Vec<u8>,
    pub access_expires_at: UnixTime,
    pub access_lifetime: Duration,
}

impl Sessions {
    /// Stores a new session; its key is fresh, so it never overwrites. A failed condition whose item holds this
    /// very token set is the SDK's retry of a write whose answer was lost: stored.
    pub async fn create(&self, session: &Session, ttl: UnixTime) -> Result<(), StoreError> {
        let ours = |i: &Item| get_b(i, TOK).is_some_and(|tok| tok == session.sealed_tokens);
        match self.table.put_new(session_item(session, ttl), ours).await? {
            true => Ok(()),
            false => Err(StoreError::new("a session with this key already exists")),
        }
    }

    /// The session under `key`, live or ended elsewhere (one consistent read: the hot path's only one).
    pub async fn load(&self, key: &SessionKey) -> Result<Loaded, StoreError> {
        let Some(item) = self.table.read_item(key.as_str()).await? else { return Ok(Loaded::Missing) };
        if item.contains_key(ENDED) {
            let ended = || {
                Some(Loaded::Ended {
                    sealed: get_b(&item, TOK)?,
                    instance: InstanceKey::parse(&get_s(&item, INST)?)?,
                    issued_by: IssuedBy::from_stored(get_s(&item, ISSUED_BY)?),
                })
            };
            return Ok(ended().unwrap_or(Loaded::Missing));
        }
        Ok(parse_session(&item).map(Loaded::Live).unwrap_or(Loaded::Missing))
    }

    pub async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.table.delete_item(key.as_str()).await
    }

    /// Deletes the session only if no one has written a newer token set (a stale `invalid_grant` must not end a
    /// session another instance just refreshed). Returns whether it was deleted.
    pub async fn delete_at_version(&self, key: &SessionKey, version: i64) -> Result<bool, StoreError> {
        let out = self
            .delete_if(key)
            .condition_expression(format!("{VER} = :v"))
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        Ok(conditional(out)?.is_some())
    }

    /// Records activity: last-seen and the TTL that follows from it. Never resurrects a deleted session.
    pub async fn touch(&self, key: &SessionKey, last_seen: UnixTime, ttl: UnixTime) -> Result<(), StoreError> {
        let out = self
            .update(key)
            .update_expression(format!("SET {SEEN} = :s, #t = :t"))
            .condition_expression(format!("attribute_exists({PK})"))
            .expression_attribute_names("#t", TTL)
            .expression_attribute_values(":s", n(last_seen.secs()))
            .expression_attribute_values(":t", n(ttl.secs()))
            .send()
            .await;
        conditional(out)?;
        Ok(())
    }
}

fn session_item(sn: &Session, ttl: UnixTime) -> Item {
    let mut item = HashMap::from([
        (PK.to_string(), s(sn.key.as_str())),
        (ID.to_string(), s(&sn.id)),
        (USER.to_string(), s(sn.user.as_str())),
        (UID.to_string(), s(sn.user.id())),
        (SUB.to_string(), s(qualified(&sn.instance, &sn.sub))),
        (INST.to_string(), s(sn.instance.as_str())),
        (ISSUED_BY.to_string(), s(sn.issued_by.as_str())),
        (DEVICE.to_string(), s(&sn.device)),
        (CLAIMS.to_string(), s(serde_json::Value::Object(sn.claims.clone()).to_string())),
        (TOK.to_string(), b(sn.sealed_tokens.clone())),
        (AT_EXP.to_string(), n(sn.access_expires_at.secs())),
        (AT_LIFE.to_string(), n(sn.access_lifetime.as_secs() as i64)),
        (CREATED.to_string(), n(sn.created_at.secs())),
        (SEEN.to_string(), n(sn.last_seen.secs())),
        (ABS_EXP.to_string(), n(sn.absolute_expires_at.secs())),
        (VER.to_string(), n(sn.version)),
        (LEASE.to_string(), n(sn.lease_until.millis())),
        (TTL.to_string(), n(ttl.secs())),
    ]);
    if let Some(sid) = &sn.idp_sid {
        item.insert(IDP_SID.to_string(), s(qualified(&sn.instance, sid)));
    }
    if let Some(bound) = &sn.binding {
        item.insert(DBSC_KEY.to_string(), b(bound.public_key.clone()));
        item.insert(DBSC_SPENT.to_string(), n(bound.spent.millis()));
    }
    item
}

/// `<instance>|<value>` back to the value.
fn unqualified(instance: &InstanceKey, v: &str) -> Option<String> {
    v.strip_prefix(instance.as_str())?.strip_prefix('|').map(String::from)
}

/// A live session item as a [`Session`]; `None` for anything else (a tombstone included).
pub(super) fn parse_session(item: &Item) -> Option<Session> {
    if item.contains_key(ENDED) {
        return None;
    }
    let claims: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&get_s(item, CLAIMS)?).ok()? {
        serde_json::Value::Object(m) => m,
        _ => return None,
    };
    let secs = |k: &str| get_n(item, k).map(UnixTime::from_secs);
    let instance = InstanceKey::parse(&get_s(item, INST)?)?;
    Some(Session {
        key: SessionKey::from_stored(get_s(item, PK)?),
        id: get_s(item, ID)?,
        sub: unqualified(&instance, &get_s(item, SUB)?)?,
        idp_sid: get_s(item, IDP_SID).and_then(|v| unqualified(&instance, &v)),
        user: UserKey::from_stored(get_s(item, USER)?),
        issued_by: IssuedBy::from_stored(get_s(item, ISSUED_BY)?),
        instance,
        device: get_s(item, DEVICE).unwrap_or_default(),
        claims,
        sealed_tokens: get_b(item, TOK)?,
        access_expires_at: secs(AT_EXP)?,
        access_lifetime: Duration::from_secs(get_n(item, AT_LIFE).unwrap_or(3600).max(0) as u64),
        created_at: secs(CREATED)?,
        last_seen: secs(SEEN)?,
        absolute_expires_at: secs(ABS_EXP)?,
        version: get_n(item, VER)?,
        lease_until: UnixMillis::from_millis(get_n(item, LEASE).unwrap_or(0)),
        binding: get_b(item, DBSC_KEY).map(|public_key| Binding {
            public_key,
            spent: UnixMillis::from_millis(get_n(item, DBSC_SPENT).unwrap_or(0)),
        }),
    })
}
