//! A session's device binding (DBSC, `crate::session::bound`): the key written once, conditionally, and the last
//! spent challenge moved forward, conditionally, so each challenge is spent at most once. A failed condition is
//! not taken as a refusal on its own: the item as it was (`ALL_OLD`) says whether the write was this caller's own
//! (the SDK retries a write whose answer was lost).

use super::Sessions;
use super::attr::*;
use crate::session::secrets::SessionKey;
use crate::store::{StoreError, b, get_b, get_n, n};
use crate::time::UnixMillis;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

impl Sessions {
    /// Binds a live, unbound session to `public_key`; `spent` is the registration challenge's issue time. False
    /// when the session is gone, ended or already bound (to another key: a session is bound once, for good).
    pub async fn bind(&self, key: &SessionKey, public_key: &[u8], spent: UnixMillis) -> Result<bool, StoreError> {
        let out = self
            .update(key)
            .update_expression(format!("SET {DBSC_KEY} = :k, {DBSC_SPENT} = :s"))
            .condition_expression(format!(
                "attribute_exists({PK}) AND attribute_not_exists({ENDED}) AND attribute_not_exists({DBSC_KEY})"
            ))
            .expression_attribute_values(":k", b(public_key.to_vec()))
            .expression_attribute_values(":s", n(spent.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        mine(out, |item| get_b(item, DBSC_KEY).as_deref() == Some(public_key))
    }

    /// Spends the refresh challenge issued at `issued`: only if the session is bound and no challenge issued at or
    /// after it was spent. False when it was (a replay) or the session is gone.
    pub async fn spend_challenge(&self, key: &SessionKey, issued: UnixMillis) -> Result<bool, StoreError> {
        let out = self
            .update(key)
            .update_expression(format!("SET {DBSC_SPENT} = :s"))
            .condition_expression(format!(
                "attribute_exists({DBSC_KEY}) AND attribute_not_exists({ENDED}) AND {DBSC_SPENT} < :s"
            ))
            .expression_attribute_values(":s", n(issued.millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        // Only a lost answer's retry finds its own value; a replay of the same challenge finds it too, but then the
        // first spend was a success this caller did not see, which `ALL_OLD` cannot tell apart: refuse both.
        mine(out, |_| false)
    }
}

/// The outcome of a conditional update: written, or its condition failed on an item `ours` recognises as this
/// caller's own earlier write.
fn mine<O, R: std::fmt::Debug>(
    out: Result<O, SdkError<UpdateItemError, R>>,
    ours: impl Fn(&crate::store::Item) -> bool,
) -> Result<bool, StoreError> {
    match out {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(se)) if matches!(se.err(), UpdateItemError::ConditionalCheckFailedException(_)) => {
            let UpdateItemError::ConditionalCheckFailedException(c) = se.err() else { unreachable!() };
            Ok(c.item.as_ref().is_some_and(|i| ours(i) && get_n(i, DBSC_SPENT).is_some()))
        }
        Err(e) => Err(e.into()),
    }
}
