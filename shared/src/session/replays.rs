//! Back-channel logout tokens already acted on: `pk = bcl#<sha256(iss, jti)>`, kept (TTL) until the token's `iat`
//! window has passed, so a replayed token is refused. [`LogoutReplays`] owns these items.

use crate::store::{PK, StoreError, TTL, Table, get_s, n, s};
use crate::time::UnixTime;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

/// The store key of a logout token.
pub fn logout_token_key(issuer: &str, jti: &str) -> String {
    let h = crate::crypto::sha256(format!("{issuer}\u{0}{jti}").as_bytes());
    format!("bcl#{}", crate::crypto::b64url(&h))
}

/// Who remembered a logout token (a random id per attempt): how a write whose answer was lost recognises itself.
const BY: &str = "by";

/// The logout tokens of the table that were acted on.
#[derive(Clone, Debug)]
pub struct LogoutReplays {
    table: Table,
}

impl LogoutReplays {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Remembers a logout token until `ttl`: `true` when it is new, `false` when it was seen before. The SDK's
    /// retry of a write whose answer was lost finds its own mark, and counts as new.
    pub async fn remember(&self, key: &str, ttl: UnixTime) -> Result<bool, StoreError> {
        let me = crate::crypto::b64url(&crate::crypto::random_bytes::<12>());
        let out = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .item(PK, s(key))
            .item(BY, s(&me))
            .item(TTL, n(ttl.secs()))
            .condition_expression(format!("attribute_not_exists({})", PK))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) if matches!(se.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                let PutItemError::ConditionalCheckFailedException(c) = se.err() else { unreachable!() };
                Ok(c.item.as_ref().and_then(|i| get_s(i, BY)).as_deref() == Some(me.as_str()))
            }
            Err(e) => match self.table.read_item(key).await {
                Ok(Some(item)) if get_s(&item, BY).as_deref() == Some(me.as_str()) => Ok(true),
                _ => Err(e.into()),
            },
        }
    }

    /// Forgets a logout token whose sessions could not be ended, so that the identity server's retry is accepted.
    pub async fn forget(&self, key: &str) -> Result<(), StoreError> {
        self.table.delete_item(key).await
    }
}
