//! [`Sessions`]: the session items of the table, and only they. `pk = session#<keyed hash of the cookie>`
//! ([`sessions`]: create, the one reader, delete, touch; the refresh [`lease`]), found by user through the sparse
//! index [`index::BY_USER`], by login through [`index::BY_SUB`] and by ERP.net session through
//! [`index::BY_IDP_SID`] ([`users`]). A session ended from elsewhere is a tombstone until its own browser comes back.
//! Reads of one item are strongly consistent (a session written by the callback is read by the next request, maybe
//! in another execution environment); the indexes are read eventually consistent (DynamoDB offers nothing else for
//! a global secondary index). Every write that must not race is conditional (`crate::store::conditional`).

mod bound;
mod lease;
mod sessions;
mod users;

pub use crate::store::StoreError;
pub use lease::{Commit, Lease};
pub use sessions::{Loaded, RefreshedTokens};
pub use users::{IdpKey, Listed};

use crate::session::secrets::SessionKey;
use crate::store::{Table, s};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// The session item's attribute names: defined here once, used by the store and by the tests that inspect the table.
pub mod attr {
    pub use crate::store::{PK, TTL};
    /// The user's key ([`crate::session::UserKey`]: the instance and ERP.net's stable `id`). The partition key of
    /// [`super::index::BY_USER`]; removed when the session ends elsewhere (so only live sessions are in the index).
    pub const USER: &str = "user";
    /// ERP.net's stable user id alone (the `id` claim; [`USER`] qualifies it with the instance). Written for readers
    /// of the table beside the BFF (the benchmark's peer BFF reads it); the BFF itself keys on [`USER`].
    pub const UID: &str = "uid";
    /// Display claims, as JSON.
    pub const CLAIMS: &str = "claims";
    /// The sealed token set.
    pub const TOK: &str = "tok";
    /// When the access token expires (epoch seconds).
    pub const AT_EXP: &str = "at_exp";
    /// The access token's lifetime when issued (seconds).
    pub const AT_LIFE: &str = "at_life";
    /// When it was created (epoch seconds).
    pub const CREATED: &str = "created";
    /// Last seen (epoch seconds).
    pub const SEEN: &str = "seen";
    /// Absolute expiry (epoch seconds).
    pub const ABS_EXP: &str = "abs_exp";
    /// The token set's version, bumped by every refresh.
    pub const VER: &str = "ver";
    /// Until when the refresh lease is held (epoch milliseconds; 0: free).
    pub const LEASE: &str = "lease";
    /// Who holds the refresh lease (a random id per attempt).
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Who committed the current token set (the lease owner of that refresh): how a commit whose answer was lost
    /// recognises its own write.
    pub const REFRESHED_BY: &str = "refreshed_by";
    /// Its opaque public id (what `/auth/sessions` shows; opens nothing).
    pub const ID: &str = "id";
    /// The ID token's `sub` (ERP.net's login name) at sign-in, instance-qualified (`<instance>|<sub>`). The partition
    /// key of [`super::index::BY_SUB`], only for back-channel logout by `sub`; never a user's key (a login changes
    /// on rename and can be taken by someone else).
    pub const SUB: &str = "sub";
    /// ERP.net's `sid` claim (its session), instance-qualified, when the ID token has one. Key of
    /// [`super::index::BY_IDP_SID`].
    pub const IDP_SID: &str = "idp_sid";
    /// A coarse device label ("Chrome on Windows").
    pub const DEVICE: &str = "device";
    /// When it was ended from elsewhere (epoch seconds): a tombstone whose refresh token is revoked when its own
    /// browser comes back.
    pub const ENDED: &str = "ended";
    /// The key of its ERP.net instance.
    pub const INST: &str = "inst";
    /// What issued its tokens ([`crate::instance::IssuedBy`]): the session is used only while its instance is
    /// still that issuer, client and API.
    pub const ISSUED_BY: &str = "issued_by";
    /// The public key the session is bound to (DBSC: an uncompressed P-256 point), once registered; never removed.
    pub const DBSC_KEY: &str = "dbsc_key";
    /// The issue time (epoch milliseconds) of the last DBSC challenge spent: a challenge issued no later is refused.
    pub const DBSC_SPENT: &str = "dbsc_spent";
}

/// The table's global secondary indexes (template.yaml defines them; xtask checks the names and keys against these).
pub mod index {
    /// A user's live sessions: partition key [`super::attr::USER`], sort key [`super::attr::CREATED`].
    pub const BY_USER: &str = "by-user";
    /// The live sessions signed in under one login: partition key [`super::attr::SUB`].
    pub const BY_SUB: &str = "by-sub";
    /// The sessions of one ERP.net session: partition key [`super::attr::IDP_SID`].
    pub const BY_IDP_SID: &str = "by-idp-sid";
}

/// The session items of the table.
#[derive(Clone, Debug)]
pub struct Sessions {
    table: Table,
}

impl Sessions {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        self.table.name()
    }

    /// An update of the session item under `key` (its expressions still to add).
    fn update(&self, key: &SessionKey) -> UpdateItemFluentBuilder {
        self.table.client.update_item().table_name(&self.table.name).key(attr::PK, s(key.as_str()))
    }

    /// A delete of the session item under `key`, for a condition to be added.
    fn delete_if(&self, key: &SessionKey) -> DeleteItemFluentBuilder {
        self.table.client.delete_item().table_name(&self.table.name).key(attr::PK, s(key.as_str()))
    }
}
