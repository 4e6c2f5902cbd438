//! A user's own sessions: listing them (`GET /auth/sessions`), ending one or all the others (`DELETE
//! /auth/sessions[/{id}]`), and ending sessions on the identity server's word (back-channel logout).
//! Only opaque ids leave: never a cookie, a store key or anything that opens a session.

use super::Session;
use super::store::{IdpKey, Listed, Sessions};
use super::user::qualified;
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
pub async fn list(sessions: &Sessions, current: &Session, idle: std::time::Duration) -> Result<Value, BffError> {
    let now = UnixTime::now();
    let mut listed = sessions.of_user(&current.user, now).await?;
    listed.retain(|l| l.id != current.id);
    let mine = json!({
        "id": current.id,
        "createdAt": current.created_at.rfc3339(),
        "lastSeenAt": current.last_seen.rfc3339(),
        "expiresAt": current.expires_at(idle).rfc3339(),
        "device": current.device,
        "deviceBound": current.binding.is_some(),
        "current": true,
    });
    let others = listed.iter().map(|l| {
        json!({
            "id": l.id,
            "createdAt": l.created.rfc3339(),
            "lastSeenAt": l.last_seen.rfc3339(),
            "expiresAt": l.expires.rfc3339(),
            "device": l.device,
            "deviceBound": l.device_bound,
            "current": false,
        })
    });
    let mut sessions: Vec<Value> = std::iter::once(mine).chain(others).collect();
    sessions.sort_by(|a, b| b["createdAt"].as_str().cmp(&a["createdAt"].as_str()));
    Ok(json!({ "sessions": sessions }))
}

/// Ends the session `id` of the same user as `current` (not `current` itself): `not_found` when the user has no
/// such session (someone else's id included), and then nothing happens to it.
pub async fn end_one(sessions: &Sessions, current: &Session, id: &str) -> Result<(), BffError> {
    let now = UnixTime::now();
    let target = sessions.of_user(&current.user, now).await?.into_iter().find(|l| l.id == id);
    match target {
        Some(l) if end(sessions, &l, EndedBy::User, now).await? => Ok(()),
        _ => Err(BffError::NotFound("You have no session with this id.")),
    }
}

/// Ends every other session of `current`'s user; returns how many ended.
pub async fn end_others(sessions: &Sessions, current: &Session) -> Result<usize, BffError> {
    let now = UnixTime::now();
    let others = sessions.of_user(&current.user, now).await?.into_iter().filter(|l| l.key != current.key);
    let mut ended = 0;
    for l in others {
        ended += usize::from(end(sessions, &l, EndedBy::User, now).await?);
    }
    Ok(ended)
}

/// Ends one listed session (a tombstone until its browser comes back); whether it was still live.
pub async fn end(sessions: &Sessions, l: &Listed, by: EndedBy, now: UnixTime) -> Result<bool, BffError> {
    let ended = sessions.end_elsewhere(&l.key, &l.user, now).await?;
    if ended {
        tracing::info!(ended_by = by.as_str(), "session ended from elsewhere");
        Metric::SessionsEnded.count_because(by.as_str());
    }
    Ok(ended)
}

/// Ends the sessions a back-channel logout token names: those of the ERP.net session `sid` (only those that
/// recorded `sub` at sign-in, when both are given), or every session signed in under `sub`. Returns how many ended.
pub async fn end_by_idp(
    sessions: &Sessions,
    instance: &InstanceKey,
    sub: Option<&str>,
    sid: Option<&str>,
) -> Result<usize, BffError> {
    let now = UnixTime::now();
    let sub = sub.map(|s| qualified(instance, s));
    let sid = sid.map(|s| qualified(instance, s));
    let targets = match (sid.as_deref(), sub.as_deref()) {
        (Some(sid), sub) => {
            let all = sessions.of_idp(IdpKey::Sid(sid)).await?;
            all.into_iter().filter(|(_, _, recorded)| sub.is_none_or(|u| u == recorded)).collect()
        }
        (None, Some(sub)) => sessions.of_idp(IdpKey::Sub(sub)).await?,
        (None, None) => vec![],
    };
    let mut ended = 0;
    for (key, user, _) in targets {
        if sessions.end_elsewhere(&key, &user, now).await? {
            Metric::SessionsEnded.count_because(EndedBy::Backchannel.as_str());
            ended += 1;
        }
    }
    Ok(ended)
}
