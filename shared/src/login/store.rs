//! Pending logins in the table (`pk = login#<sha256(state)>`): stored once under a fresh key, consumed once by a
//! conditional write (then deleted). [`PendingLogins`] owns these items and their attribute names.

use crate::store::{Item, PK, StoreError, TTL, Table, b, get_b, get_s, n, s};
use crate::time::UnixTime;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

/// A pending login's attribute names (besides [`PK`] and [`TTL`]).
pub mod attr {
    /// The hash of the browser binding that may consume it.
    pub const BIND: &str = "bind";
    /// The sealed pending login.
    pub const DATA: &str = "data";
    /// When it was created (epoch seconds).
    pub const CREATED: &str = "created";
    /// Who consumed it (a random id per attempt): how a consume whose answer was lost recognises its own write.
    pub const CONSUMED_BY: &str = "consumed_by";
}

/// The pending logins of the table.
#[derive(Clone, Debug)]
pub struct PendingLogins {
    table: Table,
}

impl PendingLogins {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Stores a pending login; its key is fresh, so it never overwrites. A failed condition (or an error) whose item
    /// holds this very login is the SDK's retry of a write whose answer was lost: stored.
    pub async fn put(
        &self,
        key: &str,
        binding_hash: &str,
        sealed: Vec<u8>,
        created_at: UnixTime,
        ttl: UnixTime,
    ) -> Result<(), StoreError> {
        let item = Item::from([
            (PK.to_string(), s(key)),
            (attr::BIND.to_string(), s(binding_hash)),
            (attr::DATA.to_string(), b(sealed.clone())),
            (attr::CREATED.to_string(), n(created_at.secs())),
            (TTL.to_string(), n(ttl.secs())),
        ]);
        let ours = |item: &Item| get_b(item, attr::DATA).as_deref() == Some(sealed.as_slice());
        match self.table.put_new(item, ours).await? {
            true => Ok(()),
            false => Err(StoreError::new("a pending login with this key already exists")),
        }
    }

    /// Consumes a pending login exactly once, and only for the browser it is bound to: a conditional write marks it
    /// consumed by this attempt (then it is deleted). Returns its sealed contents; `None` when it does not exist
    /// (unknown, replayed) or belongs to another browser. The mark is how the SDK's retry of a consume whose answer
    /// was lost (its condition then fails) recognises its own write instead of reporting a replay.
    pub async fn take(&self, key: &str, binding_hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let me = crate::crypto::b64url(&crate::crypto::random_bytes::<12>());
        let out = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .key(PK, s(key))
            .update_expression("SET #c = :me")
            .condition_expression(format!("attribute_exists({}) AND #b = :b AND attribute_not_exists(#c)", PK))
            .expression_attribute_names("#b", attr::BIND)
            .expression_attribute_names("#c", attr::CONSUMED_BY)
            .expression_attribute_values(":b", s(binding_hash))
            .expression_attribute_values(":me", s(&me))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let ours = |item: &Item| get_s(item, attr::CONSUMED_BY).as_deref() == Some(me.as_str());
        let item = match out {
            Ok(out) => out.attributes,
            Err(SdkError::ServiceError(se))
                if matches!(se.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                let UpdateItemError::ConditionalCheckFailedException(c) = se.err() else { unreachable!() };
                c.item.clone().filter(ours)
            }
            Err(e) => match self.table.read_item(key).await?.filter(ours) {
                // Applied although the answer was an error.
                Some(item) => Some(item),
                None => return Err(e.into()),
            },
        };
        let Some(item) = item else { return Ok(None) };
        // Consumed: the item is of no further use (its TTL removes it should this delete fail).
        if let Err(e) = self.table.delete_item(key).await {
            tracing::warn!(error = %e, "consumed pending login not deleted; its TTL will");
        }
        Ok(Some(get_b(&item, attr::DATA).unwrap_or_default()))
    }
}
