//! The refresh lease on a session item: taken conditionally on the token set's version and on no live lease,
//! released by the commit of the new token set (in the same conditional write) or after a failed refresh.
//!
//! Both writes are conditional, and the SDK retries a write whose answer was lost: the retry then fails its own
//! condition although the first attempt was applied. So neither trusts a failed condition alone: the item as it
//! was (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), or a consistent read after an error that may have been
//! applied, decides whether the write is ours.

use super::Sessions;
use super::attr::*;
use super::sessions::{RefreshedTokens, parse_session};
use crate::session::Session;
use crate::session::secrets::SessionKey;
use crate::store::{Item, StoreError, b, conditional, get_n, get_s, n, s};
use crate::time::UnixMillis;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

/// The outcome of [`Sessions::acquire_lease`].
#[allow(clippy::large_enum_variant)] // one per refresh attempt: boxing would buy nothing
pub enum Lease {
    /// This caller holds the lease.
    Held,
    /// Someone else holds it, or the version moved: the item as it is (`None`: the session is gone).
    Busy(Option<Session>),
}

/// The outcome of [`Sessions::commit_refresh`].
pub enum Commit {
    /// The new token set is stored (by this attempt, or by an earlier one whose answer was lost).
    Stored,
    /// Not stored, and it never will be: the lease was taken over or the session deleted.
    Lost,
    /// Not stored, the lease is still this caller's: the commit may be tried again.
    NotYet,
}

/// The item a failed condition returned (`ALL_OLD`; the inner `None`: there is no item), `None` for any other
/// error.
fn failed_condition_item<R>(e: &SdkError<UpdateItemError, R>) -> Option<Option<Item>> {
    match e {
        SdkError::ServiceError(se) => match se.err() {
            UpdateItemError::ConditionalCheckFailedException(c) => Some(c.item.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl Sessions {
    /// Takes the refresh lease: only if the token set is still `version` and no live lease is held by another. A
    /// lease already held by `owner` counts as taken (the SDK's retry of an acquire whose answer was lost).
    pub async fn acquire_lease(
        &self,
        key: &SessionKey,
        version: i64,
        owner: &str,
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<Lease, StoreError> {
        let out = self
            .update(key)
            .update_expression(format!("SET {LEASE} = :until, {LEASE_OWNER} = :me"))
            .condition_expression(format!(
                "{VER} = :v AND (attribute_not_exists({LEASE}) OR {LEASE} < :now OR {LEASE_OWNER} = :me)"
            ))
            .expression_attribute_values(":until", n(until.millis()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":now", n(now.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(Lease::Held),
            Err(e) => match failed_condition_item(&e) {
                Some(item) => Ok(Lease::Busy(item.as_ref().and_then(parse_session))),
                // It may have been applied: a consistent read decides.
                None => match self.table.read_item(key.as_str()).await {
                    Ok(Some(item))
                        if get_n(&item, VER) == Some(version)
                            && get_s(&item, LEASE_OWNER).as_deref() == Some(owner) =>
                    {
                        Ok(Lease::Held)
                    }
                    Ok(item) => Ok(Lease::Busy(item.as_ref().and_then(parse_session))),
                    Err(_) => {
                        // Unknown: a lease of ours that nobody releases would be a phantom wait for everyone.
                        let _ = self.release_lease(key, owner).await;
                        Err(e.into())
                    }
                },
            },
        }
    }

    /// Writes the refreshed token set as `version + 1` and releases the lease, in one conditional write that also
    /// marks the item as refreshed by `owner`. After a failed condition (the item as it was) or an error that may
    /// have been applied (a consistent read), that mark tells this caller's own write from a lost lease.
    pub async fn commit_refresh(
        &self,
        key: &SessionKey,
        version: i64,
        owner: &str,
        tokens: RefreshedTokens,
    ) -> Result<Commit, StoreError> {
        let out = self
            .update(key)
            .update_expression(format!(
                "SET {TOK} = :tok, {AT_EXP} = :exp, {AT_LIFE} = :life, {VER} = :next, {LEASE} = :zero, \
                 {REFRESHED_BY} = :me REMOVE {LEASE_OWNER}"
            ))
            .condition_expression(format!("{VER} = :v AND {LEASE_OWNER} = :me"))
            .expression_attribute_values(":tok", b(tokens.sealed_tokens))
            .expression_attribute_values(":exp", n(tokens.access_expires_at.secs()))
            .expression_attribute_values(":life", n(tokens.access_lifetime.as_secs() as i64))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":me", s(owner))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let item = match out {
            Ok(_) => return Ok(Commit::Stored),
            Err(e) => match failed_condition_item(&e) {
                Some(item) => item,
                // May have been applied: read what is there (an error here leaves the outcome open).
                None => {
                    tracing::warn!(error = %StoreError::from(e), "refresh commit failed; reading the item back");
                    self.table.read_item(key.as_str()).await?
                }
            },
        };
        Ok(commit_outcome(item.as_ref(), version, owner))
    }

    /// Gives the lease back after a failed refresh, so the next caller can try at once.
    pub async fn release_lease(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        let out = self
            .update(key)
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

/// What the item says about this caller's commit of `version + 1`.
fn commit_outcome(item: Option<&Item>, version: i64, owner: &str) -> Commit {
    let Some(item) = item else { return Commit::Lost };
    let ver = get_n(item, VER);
    if ver == Some(version + 1) && get_s(item, REFRESHED_BY).as_deref() == Some(owner) {
        Commit::Stored
    } else if ver == Some(version) && get_s(item, LEASE_OWNER).as_deref() == Some(owner) {
        Commit::NotYet
    } else {
        Commit::Lost
    }
}
