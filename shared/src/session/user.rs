//! Whose session it is. ERP.net's `sub` is the login name, which changes when a user is renamed and can then be
//! given to someone else; its `id` claim (a GUID) is the user's stable key. [`UserKey`] is that id qualified by the
//! ERP.net instance, so the same id at two instances (or a crafted login) never reaches another's sessions.

use crate::instance::InstanceKey;
use std::fmt;

/// ERP.net's stable user id: the ID token's `id` claim (a GUID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    /// The `id` claim, or, for an identity server without one, the `sub` marked as such (`sub:<sub>`: never equal to
    /// a GUID). `None` when neither is a non-empty string.
    pub fn from_claims(id: Option<&str>, sub: &str) -> Option<Self> {
        match id.filter(|v| !v.is_empty()) {
            Some(id) => Some(Self(id.to_string())),
            None => (!sub.is_empty()).then(|| Self(format!("sub:{sub}"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user of one ERP.net instance, as the sessions index keys them: `<instance>|<id>`. An instance key is a DNS
/// label (no `|`), so the split is unambiguous.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(String);

impl UserKey {
    pub fn new(instance: &InstanceKey, id: &UserId) -> Self {
        Self(format!("{instance}|{}", id.as_str()))
    }

    /// A key as stored (read back from the table).
    pub fn from_stored(v: String) -> Self {
        Self(v)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user id without its instance.
    pub fn id(&self) -> &str {
        self.0.split_once('|').map_or(&self.0, |(_, id)| id)
    }

    /// A stable, non-reversible handle for log lines that need to correlate one user's events (no personal data).
    pub fn log_handle(&self) -> String {
        crate::crypto::b64url(&crate::crypto::sha256(self.0.as_bytes())[..9])
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value of one instance as an index holds it: `<instance>|<value>` (a login or an ERP.net `sid`). Every
/// instance is prefixed, the default one too, so a login `acme|alice` of the default instance is not acme's alice.
pub fn qualified(instance: &InstanceKey, value: &str) -> String {
    format!("{instance}|{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_key_is_the_instance_and_the_stable_id_never_the_login() {
        let acme = InstanceKey::parse("acme").unwrap();
        let default = InstanceKey::default_instance();
        let id = UserId::from_claims(Some("6f1e8d2c"), "alice").unwrap();
        assert_eq!(UserKey::new(&acme, &id).as_str(), "acme|6f1e8d2c");
        assert_eq!(UserKey::new(&acme, &id).id(), "6f1e8d2c");
        assert_ne!(UserKey::new(&acme, &id), UserKey::new(&default, &id));
        // Renamed: the same key. Without an `id` claim, the sub, marked.
        assert_eq!(UserId::from_claims(Some("6f1e8d2c"), "alice2").unwrap(), id);
        assert_eq!(UserId::from_claims(None, "alice").unwrap().as_str(), "sub:alice");
        assert!(UserId::from_claims(Some(""), "").is_none());
        // A crafted login on the default instance is not another instance's user.
        assert_eq!(qualified(&default, "acme|alice"), "default|acme|alice");
        assert_ne!(qualified(&default, "acme|alice"), qualified(&acme, "alice"));
    }
}
