//! A user's sessions, found without a scan: the sparse index [`BY_USER`] (only live sessions carry a user key),
//! [`BY_SUB`] (the login they signed in under) and [`BY_IDP_SID`] (ERP.net's session id). Ending a session from
//! elsewhere turns its item into a tombstone: it leaves every index, every reader but its own browser sees no
//! session, and its browser's next request revokes the refresh token (sealed under that browser's cookie, nobody
//! else can open it) and deletes it.

use super::Sessions;
use super::attr::*;
use super::index::{BY_IDP_SID, BY_SUB, BY_USER};
use crate::session::secrets::SessionKey;
use crate::session::user::UserKey;
use crate::store::{Item, StoreError, conditional, get_n, get_s, n, s};
use crate::time::UnixTime;
use aws_sdk_dynamodb::types::Select;

/// One of a user's sessions as the index lists it (nothing that opens it).
#[derive(Clone, Debug)]
pub struct Listed {
    pub key: SessionKey,
    pub id: String,
    pub user: UserKey,
    pub created: UnixTime,
    pub last_seen: UnixTime,
    /// When it ends unless used (the item's TTL).
    pub expires: UnixTime,
    pub device: String,
    /// Bound to a device key (DBSC): the index projects [`DBSC_SPENT`], set when the key is.
    pub device_bound: bool,
}

fn listed(item: &Item) -> Option<Listed> {
    let secs = |k: &str| get_n(item, k).map(UnixTime::from_secs);
    Some(Listed {
        key: SessionKey::from_stored(get_s(item, PK)?),
        id: get_s(item, ID)?,
        user: UserKey::from_stored(get_s(item, USER)?),
        created: secs(CREATED)?,
        last_seen: secs(SEEN)?,
        expires: secs(TTL)?,
        device: get_s(item, DEVICE).unwrap_or_default(),
        device_bound: item.contains_key(DBSC_SPENT),
    })
}

impl Sessions {
    /// The user's sessions that have not expired, newest first (the index is eventually consistent: a session
    /// created or ended a moment ago may be missing or still listed).
    pub async fn of_user(&self, user: &UserKey, now: UnixTime) -> Result<Vec<Listed>, StoreError> {
        let items = self.query_all(BY_USER, USER, user.as_str(), false).await?;
        Ok(items.iter().filter_map(listed).filter(|l| l.expires > now).collect())
    }

    /// The live sessions signed in under `sub` (instance-qualified), each with its user; or those of the ERP.net
    /// session `idp_sid`, each with its user and the `sub` it recorded.
    pub async fn of_idp(&self, by: IdpKey<'_>) -> Result<Vec<(SessionKey, UserKey, String)>, StoreError> {
        let (index, attr, value) = match by {
            IdpKey::Sub(v) => (BY_SUB, SUB, v),
            IdpKey::Sid(v) => (BY_IDP_SID, IDP_SID, v),
        };
        let items = self.query_all(index, attr, value, true).await?;
        let found = |i: &Item| {
            Some((SessionKey::from_stored(get_s(i, PK)?), UserKey::from_stored(get_s(i, USER)?), get_s(i, SUB)?))
        };
        Ok(items.iter().filter_map(found).collect())
    }

    /// Every item of `index` whose partition key `attr` is `value`, page by page (`forward`: by sort key ascending).
    async fn query_all(&self, index: &str, attr: &str, value: &str, forward: bool) -> Result<Vec<Item>, StoreError> {
        let (mut out, mut start) = (vec![], None);
        loop {
            let page = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(index)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", attr)
                .expression_attribute_values(":k", s(value))
                .scan_index_forward(forward)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Ends `key` from elsewhere if it is still a live session of `user`: it becomes a tombstone (out of the
    /// indexes, its refresh lease dropped). Returns whether it was a live session of `user`.
    pub async fn end_elsewhere(&self, key: &SessionKey, user: &UserKey, now: UnixTime) -> Result<bool, StoreError> {
        let out = self
            .update(key)
            .update_expression(format!("SET {ENDED} = :now REMOVE #u, #s, {IDP_SID}, {LEASE_OWNER}"))
            .condition_expression(format!("#u = :u AND attribute_not_exists({ENDED})"))
            .expression_attribute_names("#u", USER)
            .expression_attribute_names("#s", SUB)
            .expression_attribute_values(":u", s(user.as_str()))
            .expression_attribute_values(":now", n(now.secs()))
            .send()
            .await;
        Ok(conditional(out)?.is_some())
    }

    /// How many live (listed, not expired) sessions the table holds: a count over the user index.
    pub async fn count_live(&self, now: UnixTime) -> Result<u64, StoreError> {
        let (mut total, mut start) = (0u64, None);
        loop {
            let page = self
                .table
                .client
                .scan()
                .table_name(&self.table.name)
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

/// How the identity server names the sessions to end (each value instance-qualified).
#[derive(Clone, Copy, Debug)]
pub enum IdpKey<'a> {
    Sub(&'a str),
    Sid(&'a str),
}
