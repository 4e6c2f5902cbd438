//! The refresh lease on a session item: taken conditionally on the token set's version and on no live lease,
//! released by the commit of the new token set (in the same conditional write) or after a failed refresh.

use super::attr::*;
use super::sessions::RefreshedTokens;
use super::{SessionStore, StoreError, b, conditional, n, s};
use crate::session::secrets::SessionKey;
use crate::time::UnixMillis;

impl SessionStore {
    /// Takes the refresh lease: only if the token set is still `version` and no live lease is held by another.
    pub async fn acquire_lease(
        &self,
        key: &SessionKey,
        version: i64,
        owner: &str,
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key.as_str()))
            .update_expression(format!("SET {LEASE} = :until, {LEASE_OWNER} = :me"))
            .condition_expression(format!("{VER} = :v AND (attribute_not_exists({LEASE}) OR {LEASE} < :now)"))
            .expression_attribute_values(":until", n(until.millis()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":now", n(now.millis()))
            .send()
            .await;
        Ok(conditional(out)?.is_some())
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
            .key(PK, s(key.as_str()))
            .update_expression(format!(
                "SET {TOK} = :tok, {AT_EXP} = :exp, {AT_LIFE} = :life, {VER} = :next, {LEASE} = :zero \
                 REMOVE {LEASE_OWNER}"
            ))
            .condition_expression(format!("{VER} = :v AND {LEASE_OWNER} = :me"))
            .expression_attribute_values(":tok", b(tokens.sealed_tokens))
            .expression_attribute_values(":exp", n(tokens.access_expires_at.secs()))
            .expression_attribute_values(":life", n(tokens.access_lifetime.as_secs() as i64))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        Ok(conditional(out)?.is_some())
    }

    /// Gives the lease back after a failed refresh, so the next caller can try at once.
    pub async fn release_lease(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key.as_str()))
            .update_expression(format!("SET {LEASE} = :zero REMOVE {LEASE_OWNER}"))
            .condition_expression(format!("{LEASE_OWNER} = :me"))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        conditional(out)?;
        Ok(())
    }
}
