//! [`InstanceKey`]: the name of one ERP.net instance in the registry, which is also the first label of its host
//! (`acme` in `acme.app.example.com`). A DNS label, lower case: it cannot smuggle a dot, a port or a path.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey(String);

impl InstanceKey {
    /// The instance configured by the environment (`ERPNET_URL`, `CLIENT_ID`, …): served on the app's own host.
    /// Sessions stored before instances existed belong to it.
    pub const DEFAULT: &'static str = "default";

    pub fn default_instance() -> Self {
        Self(Self::DEFAULT.into())
    }

    /// 1–63 characters of `a-z`, `0-9` and inner `-` (RFC 1123 label). Upper case is refused, not folded: the
    /// registry key is exact. Hosts are folded before they get here ([`super::host`]).
    pub fn parse(v: &str) -> Option<Self> {
        let b = v.as_bytes();
        let label = (1..=63).contains(&b.len())
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        label.then(|| Self(v.to_string()))
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::InstanceKey;

    #[test]
    fn only_a_dns_label_is_a_key() {
        for ok in ["acme", "globex", "a", "x-1", "0a", &"a".repeat(63)] {
            assert!(InstanceKey::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Acme", "a.b", "a:1", "a/b", "a b", "ä", &"a".repeat(64)] {
            assert!(InstanceKey::parse(bad).is_none(), "{bad}");
        }
    }
}
