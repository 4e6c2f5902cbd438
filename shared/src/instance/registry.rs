//! The instance registry: one item per ERP.net instance in the session table (`pk = instance#<key>`), read by
//! key (one consistent GetItem per key and cache period, never a scan on a request's path) and written by the
//! operator (`bff-operator instance …`) or the local stack. Why the session table: every function already holds a
//! client and the IAM grant for it, it is in DynamoDB Local with everything else, and one item per instance scales
//! to thousands without a cold start ever reading more than the instance it serves.

use super::key::InstanceKey;
use crate::store::{Item, PK, StoreError, Table};
use aws_sdk_dynamodb::types::AttributeValue;

/// The registry item's attribute names (besides the table's `pk`).
pub mod attr {
    /// The ERP.net instance URL, e.g. `https://acme.my.erp.net` (issuer `{url}/id`, API `{url}/api`).
    pub const URL: &str = "url";
    /// Overrides the issuer derived from [`URL`].
    pub const ISSUER: &str = "issuer";
    /// Overrides the Domain API base derived from [`URL`].
    pub const API_BASE: &str = "api_base";
    /// The Trusted Application's client id at that instance.
    pub const CLIENT_ID: &str = "client_id";
    /// Where its client secret is: a Secrets Manager ARN, or `env:BFF_SECRET_…` (a variable of the functions).
    pub const SECRET_REF: &str = "secret_ref";
    /// The scopes to ask for (default: the functions' `SCOPES`).
    pub const SCOPES: &str = "scopes";
    /// `false`: the instance is refused (404 `unknown_instance`) as if it were not registered.
    pub const ENABLED: &str = "enabled";
}

const PREFIX: &str = "instance#";

/// One registered instance, as stored. Parsed into an instance (with its URLs checked) by `instance::Instances`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub url: Option<String>,
    pub issuer: Option<String>,
    pub api_base: Option<String>,
    pub client_id: String,
    pub secret_ref: String,
    pub scopes: Option<String>,
    pub enabled: bool,
}

impl Entry {
    fn to_item(&self, key: &InstanceKey) -> Item {
        let s = |v: &str| AttributeValue::S(v.to_string());
        let mut item = Item::from([
            (PK.to_string(), s(&format!("{PREFIX}{key}"))),
            (attr::CLIENT_ID.into(), s(&self.client_id)),
            (attr::SECRET_REF.into(), s(&self.secret_ref)),
            (attr::ENABLED.into(), AttributeValue::Bool(self.enabled)),
        ]);
        for (name, v) in [(attr::URL, &self.url), (attr::ISSUER, &self.issuer), (attr::API_BASE, &self.api_base)]
            .into_iter()
            .chain([(attr::SCOPES, &self.scopes)])
        {
            if let Some(v) = v {
                item.insert(name.into(), s(v));
            }
        }
        item
    }

    fn from_item(item: &Item) -> Entry {
        let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Entry {
            url: s(attr::URL),
            issuer: s(attr::ISSUER),
            api_base: s(attr::API_BASE),
            client_id: s(attr::CLIENT_ID).unwrap_or_default(),
            secret_ref: s(attr::SECRET_REF).unwrap_or_default(),
            scopes: s(attr::SCOPES),
            // Absent means enabled: a hand-written item without the flag works.
            enabled: item.get(attr::ENABLED).and_then(|v| v.as_bool().ok()).copied().unwrap_or(true),
        }
    }
}

/// The registry items of the table.
#[derive(Clone, Debug)]
pub struct Registry {
    table: Table,
}

impl Registry {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The registry's entry for `key`, if there is one (read consistently: a change is seen at the next reload).
    pub async fn get(&self, key: &InstanceKey) -> Result<Option<Entry>, StoreError> {
        Ok(self.table.read_item(&format!("{PREFIX}{key}")).await?.as_ref().map(Entry::from_item))
    }

    /// Adds or replaces `key`'s entry.
    pub async fn put(&self, key: &InstanceKey, entry: &Entry) -> Result<(), StoreError> {
        let t = &self.table;
        t.client.put_item().table_name(&t.name).set_item(Some(entry.to_item(key))).send().await?;
        Ok(())
    }

    /// Removes `key`'s entry (nothing happens when there is none).
    pub async fn delete(&self, key: &InstanceKey) -> Result<(), StoreError> {
        self.table.delete_item(&format!("{PREFIX}{key}")).await
    }

    /// Every registered instance (a scan of the table: for the operator, never on a request's path).
    pub async fn all(&self) -> Result<Vec<(InstanceKey, Entry)>, StoreError> {
        let mut all = vec![];
        let mut start = None;
        loop {
            let out = self
                .table
                .client
                .scan()
                .table_name(&self.table.name)
                .filter_expression(format!("begins_with({PK}, :p)"))
                .expression_attribute_values(":p", AttributeValue::S(PREFIX.into()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items() {
                let key = item.get(PK).and_then(|v| v.as_s().ok()).and_then(|pk| pk.strip_prefix(PREFIX));
                if let Some(key) = key.and_then(InstanceKey::parse) {
                    all.push((key, Entry::from_item(item)));
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                all.sort_by(|a, b| a.0.cmp(&b.0));
                return Ok(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_survives_the_item_round_trip_and_absent_enabled_means_enabled() {
        let key = InstanceKey::parse("acme").unwrap();
        let e = Entry {
            url: Some("https://acme.my.erp.net".into()),
            client_id: "app/1".into(),
            secret_ref: "env:BFF_SECRET_ACME".into(),
            enabled: false,
            ..Default::default()
        };
        let mut item = e.to_item(&key);
        assert_eq!(item[PK].as_s().unwrap(), "instance#acme");
        assert_eq!(Entry::from_item(&item), e);
        item.remove(attr::ENABLED);
        assert!(Entry::from_item(&item).enabled);
    }
}
