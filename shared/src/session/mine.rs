//! A user's own sessions: listing them (`GET /auth/sessions`), ending one or all the others (`DELETE
//! /auth/sessions[/{id}]`), and ending sessions on the identity server's word (back-channel logout).
//! Only opaque ids leave: never a cookie, a store key or anything that opens a session.

use super::Session;
use super::store::{Listed, SessionStore, index_key};
use crate::error::BffError;
use crate::instance::InstanceKey;
use crate::metrics::Metric;
use crate::time::UnixTime;
use serde_json::{Value, json};

/// Why sessions were ended from elsewhere (a metric dimension: a closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    /// The user, from another of their sessions.
    User,
    /// The identity server, by back-channel logout.
    Backchannel,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::User => "user",
            EndedBy::Backchannel => "backchannel",
        }
    }
}

/// `{"sessions": [...]}`: the user of `current`'s sessions, newest first, exactly one of them `current: true`.
pub async fn list(store: &SessionStore, current: &Session, idle: std::time::Duration) -> Result<Value, BffError> {
    let now = UnixTime::now();
    let id = ensure_listed(store, current).await?;
    let mut listed = store.user_sessions(&current.user_key(), now).await?;
    listed.retain(|l| l.id != id);
    let mine = json!({
        "id": id,
        "createdAt": current.created_at.rfc3339(),
        "lastSeenAt": current.last_seen.rfc3339(),
        "expiresAt": current.expires_at(idle).rfc3339(),
        "device": current.device,
        "current": true,
    });
    let others = listed.iter().map(|l| {
        json!({
            "id": l.id,
            "createdAt": l.created.rfc3339(),
            "lastSeenAt": l.last_seen.rfc3339(),
            "expiresAt": l.expires.rfc3339(),
            "device": l.device,
            "current": false,
        })
    });
    let mut sessions: Vec<Value> = std::iter::once(mine).chain(others).collect();
    sessions.sort_by(|a, b| b["createdAt"].as_str().cmp(&a["createdAt"].as_str()));
    Ok(json!({ "sessions": sessions }))
}

/// The current session's public id (a session stored before ids existed gets one now, so it is listed).
async fn ensure_listed(store: &SessionStore, current: &Session) -> Result<String, BffError> {
    if !current.id.is_empty() {
        return Ok(current.id.clone());
    }
    let id = crate::crypto::b64url(&crate::crypto::random_bytes::<16>());
    store.give_id(&current.key, &id, &current.user_key()).await?;
    Ok(id)
}

/// Ends the session `id` of the same user as `current` (not `current` itself): `not_found` when the user has no
/// such session (someone else's id included), and then nothing happens to it.
pub async fn end_one(store: &SessionStore, current: &Session, id: &str) -> Result<(), BffError> {
    let now = UnixTime::now();
    let target = store.user_sessions(&current.user_key(), now).await?.into_iter().find(|l| l.id == id);
    match target {
        Some(l) if end(store, &l, EndedBy::User, now).await? => Ok(()),
        _ => Err(BffError::NotFound("You have no session with this id.")),
    }
}

/// Ends every other session of `current`'s user; returns how many ended.
pub async fn end_others(store: &SessionStore, current: &Session) -> Result<usize, BffError> {
    let now = UnixTime::now();
    let others = store.user_sessions(&current.user_key(), now).await?.into_iter().filter(|l| l.key != current.key);
    let mut ended = 0;
    for l in others {
        ended += usize::from(end(store, &l, EndedBy::User, now).await?);
    }
    Ok(ended)
}

/// Ends one listed session (a tombstone until its browser comes back); whether it was still live.
pub async fn end(store: &SessionStore, l: &Listed, by: EndedBy, now: UnixTime) -> Result<bool, BffError> {
    let ended = store.end_elsewhere(&l.key, &l.sub, now).await?;
    if ended {
        tracing::info!(ended_by = by.as_str(), "session ended from elsewhere");
        Metric::SessionsEnded.count_because(by.as_str());
    }
    Ok(ended)
}

/// Ends the sessions a back-channel logout token names: those of the ERP.net session `sid` (of `sub`, when both are
/// given), or every session of `sub`. Returns how many ended.
pub async fn end_by_idp(
    store: &SessionStore,
    instance: &InstanceKey,
    sub: Option<&str>,
    sid: Option<&str>,
) -> Result<usize, BffError> {
    let now = UnixTime::now();
    let sub = sub.map(|s| index_key(instance, s));
    let sid = sid.map(|s| index_key(instance, s));
    let (sub, sid) = (sub.as_deref(), sid.as_deref());
    let targets: Vec<(crate::session::secrets::SessionKey, String)> = match (sid, sub) {
        (Some(sid), _) => {
            store.idp_sessions(sid).await?.into_iter().filter(|(_, s)| sub.is_none_or(|u| u == s)).collect()
        }
        (None, Some(sub)) => store.user_sessions(sub, now).await?.into_iter().map(|l| (l.key, l.sub)).collect(),
        (None, None) => vec![],
    };
    let mut ended = 0;
    for (key, sub) in targets {
        if store.end_elsewhere(&key, &sub, now).await? {
            Metric::SessionsEnded.count_because(EndedBy::Backchannel.as_str());
            ended += 1;
        }
    }
    Ok(ended)
}
