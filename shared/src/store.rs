//! The session store: one DynamoDB table, one item per session or pending login, keyed by `pk`.
//!
//! Sessions: `pk = session#<keyed hash of the cookie>`. Pending logins: `pk = login#<sha256(state)>`.
//! Every read is strongly consistent (a session written by the callback is read by the next request, maybe in
//! another execution environment). Expiry is checked on every read: DynamoDB's TTL deletes lazily.

use crate::session::{Session, SessionKey};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl<E: std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>> for StoreError {
    fn from(e: SdkError<E, R>) -> Self {
        StoreError(DisplayErrorContext(&e).to_string())
    }
}

/// True when the error is a failed condition (someone else got there first), not an outage.
fn is_conditional_failure<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

#[derive(Clone, Debug)]
pub struct SessionStore {
    client: Client,
    table: String,
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

/// A pending login as stored: who may consume it, and its sealed contents.
pub struct StoredLogin {
    pub sealed: Vec<u8>,
}

/// What a refresh writes back.
pub struct RefreshedTokens {
    pub sealed_tokens: Vec<u8>,
    pub access_expires_at: i64,
    pub access_lifetime: i64,
}

impl SessionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Stores a pending login; its key is fresh, so it never overwrites.
    pub async fn put_login(
        &self,
        key: &str,
        binding_hash: &str,
        sealed: Vec<u8>,
        created_at: i64,
        ttl: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("bind", s(binding_hash))
            .item("data", b(sealed))
            .item("created", n(created_at))
            .item("ttl", n(ttl))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    /// Consumes a pending login exactly once, and only for the browser it is bound to: a conditional delete.
    /// `None` when it does not exist (unknown, replayed) or belongs to another browser.
    pub async fn take_login(&self, key: &str, binding_hash: &str) -> Result<Option<StoredLogin>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("attribute_exists(pk) AND #b = :b")
            .expression_attribute_names("#b", "bind")
            .expression_attribute_values(":b", s(binding_hash))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => {
                let Some(item) = out.attributes else {
                    return Ok(None);
                };
                Ok(Some(StoredLogin { sealed: get_b(&item, "data").unwrap_or_default() }))
            }
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_session(&self, session: &Session, ttl: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(session, ttl)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    pub async fn load_session(&self, key: &SessionKey) -> Result<Option<Session>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key.as_str()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.as_ref().and_then(parse_session))
    }

    pub async fn delete_session(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.client.delete_item().table_name(&self.table).key("pk", s(key.as_str())).send().await?;
        Ok(())
    }

    /// Deletes the session only if no one has written a newer token set (a stale `invalid_grant` must not end a
    /// session another instance just refreshed). Returns whether it was deleted.
    pub async fn delete_session_at_version(&self, key: &SessionKey, version: i64) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key.as_str()))
            .condition_expression("ver = :v")
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records activity: last-seen and the TTL that follows from it. Never resurrects a deleted session.
    pub async fn touch(&self, key: &SessionKey, last_seen: i64, ttl: i64) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.as_str()))
            .update_expression("SET seen = :s, #t = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#t", "ttl")
            .expression_attribute_values(":s", n(last_seen))
            .expression_attribute_values(":t", n(ttl))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the refresh lease: only if the token set is still `version` and no live lease is held by another.
    pub async fn acquire_lease(
        &self,
        key: &SessionKey,
        version: i64,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.as_str()))
            .update_expression("SET lease = :until, lease_owner = :me")
            .condition_expression("ver = :v AND (attribute_not_exists(lease) OR lease < :now)")
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the refreshed token set as `version + 1` and releases the lease, in one conditional write.
    pub async fn commit_refresh(
        &self,
        key: &SessionKey,
        version: i64,
        owner: &str,
        tokens: RefreshedTokens,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.as_str()))
            .update_expression(
                "SET tok = :tok, at_exp = :exp, at_life = :life, ver = :next, lease = :zero REMOVE lease_owner",
            )
            .condition_expression("ver = :v AND lease_owner = :me")
            .expression_attribute_values(":tok", b(tokens.sealed_tokens))
            .expression_attribute_values(":exp", n(tokens.access_expires_at))
            .expression_attribute_values(":life", n(tokens.access_lifetime))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the lease back after a failed refresh, so the next caller can try at once.
    pub async fn release_lease(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.as_str()))
            .update_expression("SET lease = :zero REMOVE lease_owner")
            .condition_expression("lease_owner = :me")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn session_item(sn: &Session, ttl: i64) -> Item {
    HashMap::from([
        ("pk".to_string(), s(sn.key.as_str())),
        ("uid".to_string(), s(&sn.user_id)),
        ("claims".to_string(), s(serde_json::Value::Object(sn.claims.clone()).to_string())),
        ("tok".to_string(), b(sn.sealed_tokens.clone())),
        ("at_exp".to_string(), n(sn.access_expires_at)),
        ("at_life".to_string(), n(sn.access_lifetime)),
        ("created".to_string(), n(sn.created_at)),
        ("seen".to_string(), n(sn.last_seen)),
        ("abs_exp".to_string(), n(sn.absolute_expires_at)),
        ("ver".to_string(), n(sn.version)),
        ("lease".to_string(), n(sn.lease_until_ms)),
        ("ttl".to_string(), n(ttl)),
    ])
}

fn parse_session(item: &Item) -> Option<Session> {
    let claims = match serde_json::from_str(&get_s(item, "claims")?).ok()? {
        serde_json::Value::Object(m) => m,
        _ => return None,
    };
    Some(Session {
        key: SessionKey::from_stored(get_s(item, "pk")?),
        user_id: get_s(item, "uid")?,
        claims,
        sealed_tokens: get_b(item, "tok")?,
        access_expires_at: get_n(item, "at_exp")?,
        access_lifetime: get_n(item, "at_life").unwrap_or(3600),
        created_at: get_n(item, "created")?,
        last_seen: get_n(item, "seen")?,
        absolute_expires_at: get_n(item, "abs_exp")?,
        version: get_n(item, "ver")?,
        lease_until_ms: get_n(item, "lease").unwrap_or(0),
    })
}
