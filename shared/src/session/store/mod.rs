//! The store: one DynamoDB table, one item per session or pending login, keyed by [`attr::PK`].
//!
//! Sessions: `pk = session#<keyed hash of the cookie>` ([`sessions`], the refresh [`lease`]), found by user through
//! the sparse index [`index::BY_USER`] and by ERP.net session through [`index::BY_IDP_SID`] ([`users`]). A session
//! ended from elsewhere is a tombstone until its own browser comes back. Pending logins: `pk = login#<sha256(state)>`
//! ([`logins`]). Remembered logout tokens: `pk = bcl#<sha256(iss, jti)>`. Every read is strongly consistent (a session written by the callback
//! is read by the next request, maybe in another execution environment). Every write that must not race is
//! conditional, and [`conditional`] is the one place that tells a lost race from an outage.

mod lease;
mod logins;
mod logout_tokens;
mod sessions;
mod users;

pub use lease::{Commit, Lease};
pub use logout_tokens::logout_token_key;
pub use sessions::{Loaded, RefreshedTokens, index_key};
pub use users::Listed;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// The item's attribute names: defined here once, used by the store and by the tests that inspect the table.
pub mod attr {
    /// The partition key: `session#…` or `login#…`.
    pub const PK: &str = "pk";
    /// DynamoDB's TTL attribute (epoch seconds): the table deletes expired items lazily.
    pub const TTL: &str = "ttl";
    /// Session: the user's stable id.
    pub const UID: &str = "uid";
    /// Session: display claims, as JSON.
    pub const CLAIMS: &str = "claims";
    /// Session: the sealed token set.
    pub const TOK: &str = "tok";
    /// Session: when the access token expires (epoch seconds).
    pub const AT_EXP: &str = "at_exp";
    /// Session: the access token's lifetime when issued (seconds).
    pub const AT_LIFE: &str = "at_life";
    /// Session or pending login: when it was created (epoch seconds).
    pub const CREATED: &str = "created";
    /// Session: last seen (epoch seconds).
    pub const SEEN: &str = "seen";
    /// Session: absolute expiry (epoch seconds).
    pub const ABS_EXP: &str = "abs_exp";
    /// Session: the token set's version, bumped by every refresh.
    pub const VER: &str = "ver";
    /// Session: until when the refresh lease is held (epoch milliseconds; 0: free).
    pub const LEASE: &str = "lease";
    /// Session: who holds the refresh lease (a random id per attempt).
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Session: who committed the current token set (the lease owner of that refresh): how a commit whose answer
    /// was lost recognises its own write.
    pub const REFRESHED_BY: &str = "refreshed_by";
    /// Pending login: who consumed it (a random id per attempt): how a consume whose answer was lost recognises
    /// its own write.
    pub const CONSUMED_BY: &str = "consumed_by";
    /// Pending login: the hash of the browser binding that may consume it.
    pub const BIND: &str = "bind";
    /// Pending login: the sealed pending login.
    pub const DATA: &str = "data";
    /// Session: its opaque public id (what `/auth/sessions` shows; opens nothing).
    pub const ID: &str = "id";
    /// Session: the ID token's `sub`. The partition key of [`super::index::BY_USER`]; removed when the session ends
    /// elsewhere (so only live sessions are in the index).
    pub const SUB: &str = "sub";
    /// Session: ERP.net's `sid` claim (its session), when the ID token has one. Key of [`super::index::BY_IDP_SID`].
    pub const IDP_SID: &str = "idp_sid";
    /// Session: a coarse device label ("Chrome on Windows").
    pub const DEVICE: &str = "device";
    /// Session: when it was ended from elsewhere (epoch seconds): a tombstone whose refresh token is revoked when
    /// its own browser comes back.
    pub const ENDED: &str = "ended";
    /// Session or pending login: the key of its ERP.net instance (absent: the default instance).
    pub const INST: &str = "inst";
    /// Logout token: who remembered it (a random id per attempt).
    pub const BY: &str = "by";
}

/// The table's global secondary indexes (template.yaml defines them; xtask checks the names and keys against these).
pub mod index {
    /// A user's live sessions: partition key [`super::attr::SUB`], sort key [`super::attr::CREATED`].
    pub const BY_USER: &str = "by-user";
    /// The sessions of one ERP.net session: partition key [`super::attr::IDP_SID`].
    pub const BY_IDP_SID: &str = "by-idp-sid";
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl StoreError {
    fn new(msg: impl Into<String>) -> Self {
        StoreError(msg.into())
    }
}

impl<E: std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>> for StoreError {
    fn from(e: SdkError<E, R>) -> Self {
        StoreError(DisplayErrorContext(&e).to_string())
    }
}

/// The outcome of a conditional write: `Some(output)` when it was written, `None` when its condition failed
/// (someone else got there first, or the item is gone), an error when the store itself failed.
fn conditional<O, E, R>(out: Result<O, SdkError<E, R>>) -> Result<Option<O>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match out {
        Ok(o) => Ok(Some(o)),
        Err(SdkError::ServiceError(se)) if se.err().code() == Some("ConditionalCheckFailedException") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Clone, Debug)]
pub struct SessionStore {
    client: Client,
    table: String,
}

impl SessionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item, read consistently: how a write that may or may not have been applied is decided.
    async fn read_item(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let out =
            self.client.get_item().table_name(&self.table).key(attr::PK, s(pk)).consistent_read(true).send().await?;
        Ok(out.item)
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn b(v: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}
fn get_s(item: &Item, k: &str) -> Option<String> {
    item.get(k)?.as_s().ok().cloned()
}
fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k)?.as_n().ok()?.parse().ok()
}
fn get_b(item: &Item, k: &str) -> Option<Vec<u8>> {
    Some(item.get(k)?.as_b().ok()?.as_ref().to_vec())
}
