//! Back-channel logout tokens already acted on: `pk = bcl#<sha256(iss, jti)>`, kept (TTL) until the token's `iat`
//! window has passed, so a replayed token is refused. [`LogoutReplays`] owns these items.

use crate::store::{Item, PK, StoreError, TTL, Table, get_s, n, s};
use crate::time::UnixTime;

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
        let item = Item::from([(PK.to_string(), s(key)), (BY.to_string(), s(&me)), (TTL.to_string(), n(ttl.secs()))]);
        self.table.put_new(item, |i| get_s(i, BY).as_deref() == Some(me.as_str())).await
    }

    /// Forgets a logout token whose sessions could not be ended, so that the identity server's retry is accepted.
    pub async fn forget(&self, key: &str) -> Result<(), StoreError> {
        self.table.delete_item(key).await
    }
}
