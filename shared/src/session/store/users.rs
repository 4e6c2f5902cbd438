//! A user's sessions, found without a scan: the sparse index [`index::BY_USER`] (only live sessions carry `sub`)
//! and [`index::BY_IDP_SID`] (ERP.net's session id). Ending a session from elsewhere turns its item into a
//! tombstone: it leaves both indexes, every reader but its own browser sees no session, and its browser's next
//! request revokes the refresh token (sealed under that browser's cookie, nobody else can open it) and deletes it.

use super::attr::*;
use super::index::{BY_IDP_SID, BY_USER};
use super::{Item, SessionStore, StoreError, conditional, get_n, get_s, n, s};
use crate::session::secrets::SessionKey;
use crate::time::UnixTime;
use aws_sdk_dynamodb::types::Select;

/// One of a user's sessions as the index lists it (nothing that opens it).
#[derive(Clone, Debug)]
pub struct Listed {
    pub key: SessionKey,
    pub id: String,
    pub sub: String,
    pub created: UnixTime,
    pub last_seen: UnixTime,
    /// When it ends unless used (the item's TTL).
    pub expires: UnixTime,
    pub device: String,
}

fn listed(item: &Item) -> Option<Listed> {
    let secs = |k: &str| get_n(item, k).map(UnixTime::from_secs);
    Some(Listed {
        key: SessionKey::from_stored(get_s(item, PK)?),
        id: get_s(item, ID)?,
        sub: get_s(item, SUB)?,
        created: secs(CREATED)?,
        last_seen: secs(SEEN)?,
        expires: secs(TTL)?,
        device: get_s(item, DEVICE).unwrap_or_default(),
    })
}

impl SessionStore {
    /// The user's sessions that have not expired, newest first (the index is eventually consistent: a session
    /// created or ended a moment ago may be missing or still listed).
    pub async fn user_sessions(&self, sub: &str, now: UnixTime) -> Result<Vec<Listed>, StoreError> {
        let mut out = vec![];
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_USER)
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", SUB)
                .expression_attribute_values(":s", s(sub))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            out.extend(page.items().iter().filter_map(listed).filter(|l| l.expires > now));
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// The sessions signed in through one ERP.net session (`sid`), with their `sub`.
    pub async fn idp_sessions(&self, idp_sid: &str) -> Result<Vec<(SessionKey, String)>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_IDP_SID)
            .key_condition_expression("#i = :i")
            .expression_attribute_names("#i", IDP_SID)
            .expression_attribute_values(":i", s(idp_sid))
            .send()
            .await?;
        Ok(page.items().iter().filter_map(|i| Some((SessionKey::from_stored(get_s(i, PK)?), get_s(i, SUB)?))).collect())
    }

    /// Ends `key` from elsewhere if it is still a live session of `sub`: it becomes a tombstone (out of the
    /// indexes, its refresh lease dropped). Returns whether it was a live session of `sub`.
    pub async fn end_elsewhere(&self, key: &SessionKey, sub: &str, now: UnixTime) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key.as_str()))
            .update_expression(format!("SET {ENDED} = :now REMOVE #s, {IDP_SID}, {LEASE_OWNER}"))
            .condition_expression(format!("#s = :s AND attribute_not_exists({ENDED})"))
            .expression_attribute_names("#s", SUB)
            .expression_attribute_values(":s", s(sub))
            .expression_attribute_values(":now", n(now.secs()))
            .send()
            .await;
        Ok(conditional(out)?.is_some())
    }

    /// Gives a session stored before ids existed its id and `sub`, so that it is listed.
    pub async fn give_id(&self, key: &SessionKey, id: &str, sub: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key.as_str()))
            .update_expression(format!("SET {ID} = if_not_exists({ID}, :id), #s = if_not_exists(#s, :s)"))
            .condition_expression(format!("attribute_exists({PK}) AND attribute_not_exists({ENDED})"))
            .expression_attribute_names("#s", SUB)
            .expression_attribute_values(":id", s(id))
            .expression_attribute_values(":s", s(sub))
            .send()
            .await;
        conditional(out)?;
        Ok(())
    }

    /// How many live (listed, not expired) sessions the table holds: a count over the user index.
    pub async fn count_live(&self, now: UnixTime) -> Result<u64, StoreError> {
        let (mut total, mut start) = (0u64, None);
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .index_name(BY_USER)
                .select(Select::Count)
                .filter_expression("#t > :now")
                .expression_attribute_names("#t", TTL)
                .expression_attribute_values(":now", n(now.secs()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            total += page.count.max(0) as u64;
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }
}
