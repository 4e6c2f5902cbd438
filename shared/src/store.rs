//! The table: one DynamoDB table holds every record kind, each owned by the module that uses it
//! (`session::store::Sessions`, `login::store::PendingLogins`, `session::replays::LogoutReplays`,
//! `instance::registry::Registry`). This module is the handle they share ([`Table`]: the client and the table's
//! name), the key attribute every item has ([`PK`], [`TTL`]), and [`conditional`], the one place a lost race is told
//! from an outage. Each owner names its own attributes and writes its own queries.

use crate::error::BffError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;

/// The partition key of every item: `session#…`, `login#…`, `bcl#…` or `instance#…`.
pub const PK: &str = "pk";
/// DynamoDB's TTL attribute (epoch seconds): the table deletes expired items lazily.
pub const TTL: &str = "ttl";

/// The table, as every record owner reaches it: a DynamoDB client and the table's name.
#[derive(Clone, Debug)]
pub struct Table {
    pub(crate) client: Client,
    pub(crate) name: String,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One item, read consistently: how a write that may or may not have been applied is decided.
    pub(crate) async fn read_item(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let out = self.client.get_item().table_name(&self.name).key(PK, s(pk)).consistent_read(true).send().await?;
        Ok(out.item)
    }

    /// Writes `item` under a key that must be new. `Ok(true)`: written, also when a failed condition (or an error)
    /// finds an item that `ours` recognises as this very write (the SDK's retry of a write whose answer was lost);
    /// `Ok(false)`: the key was taken by another item.
    pub(crate) async fn put_new(&self, item: Item, ours: impl Fn(&Item) -> bool) -> Result<bool, StoreError> {
        let pk = item.get(PK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let out = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists({PK})"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) if matches!(se.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                let PutItemError::ConditionalCheckFailedException(c) = se.err() else { unreachable!() };
                Ok(c.item.as_ref().is_some_and(ours))
            }
            // May have been applied: a consistent read decides.
            Err(e) => match self.read_item(&pk).await {
                Ok(Some(stored)) if ours(&stored) => Ok(true),
                _ => Err(e.into()),
            },
        }
    }

    /// Deletes one item (nothing happens when there is none).
    pub(crate) async fn delete_item(&self, pk: &str) -> Result<(), StoreError> {
        self.client.delete_item().table_name(&self.name).key(PK, s(pk)).send().await?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl StoreError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        StoreError(msg.into())
    }
}

impl<E: std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>> for StoreError {
    fn from(e: SdkError<E, R>) -> Self {
        StoreError(DisplayErrorContext(&e).to_string())
    }
}

impl From<StoreError> for BffError {
    fn from(e: StoreError) -> Self {
        BffError::StoreUnavailable(e.to_string())
    }
}

/// The outcome of a conditional write: `Some(output)` when it was written, `None` when its condition failed
/// (someone else got there first, or the item is gone), an error when the store itself failed.
pub(crate) fn conditional<O, E, R>(out: Result<O, SdkError<E, R>>) -> Result<Option<O>, StoreError>
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

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(crate) fn b(v: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}
pub(crate) fn get_s(item: &Item, k: &str) -> Option<String> {
    item.get(k)?.as_s().ok().cloned()
}
pub(crate) fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k)?.as_n().ok()?.parse().ok()
}
pub(crate) fn get_b(item: &Item, k: &str) -> Option<Vec<u8>> {
    Some(item.get(k)?.as_b().ok()?.as_ref().to_vec())
}
