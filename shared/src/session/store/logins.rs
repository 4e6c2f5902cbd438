//! Pending logins: stored once under a fresh key, consumed once by a conditional delete.

use super::{SessionStore, StoreError, attr, b, conditional, get_b, n, s};
use crate::time::UnixTime;
use aws_sdk_dynamodb::types::ReturnValue;

impl SessionStore {
    /// Stores a pending login; its key is fresh, so it never overwrites.
    pub async fn put_login(
        &self,
        key: &str,
        binding_hash: &str,
        sealed: Vec<u8>,
        created_at: UnixTime,
        ttl: UnixTime,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, s(key))
            .item(attr::BIND, s(binding_hash))
            .item(attr::DATA, b(sealed))
            .item(attr::CREATED, n(created_at.secs()))
            .item(attr::TTL, n(ttl.secs()))
            .condition_expression(format!("attribute_not_exists({})", attr::PK))
            .send()
            .await?;
        Ok(())
    }

    /// Consumes a pending login exactly once, and only for the browser it is bound to: a conditional delete.
    /// Returns its sealed contents; `None` when it does not exist (unknown, replayed) or belongs to another browser.
    pub async fn take_login(&self, key: &str, binding_hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, s(key))
            .condition_expression(format!("attribute_exists({}) AND #b = :b", attr::PK))
            .expression_attribute_names("#b", attr::BIND)
            .expression_attribute_values(":b", s(binding_hash))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        Ok(conditional(out)?.and_then(|out| out.attributes).map(|item| get_b(&item, attr::DATA).unwrap_or_default()))
    }
}
