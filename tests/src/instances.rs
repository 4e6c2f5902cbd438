//! Many ERP.net instances on one stack (`Options::instances`, the local stack's multi-instance mode:
//! `xtask::stack::instances`): the stack's own emulator is registered as `acme`, a second emulator (its own keys,
//! secret and data) as `globex`, and the functions choose by host: `http://acme.localhost:{port}`,
//! `http://globex.localhost:{port}` (the bare `localhost` stays the environment's default instance).

use crate::TestApp;
use shared::instance::InstanceKey;
pub use shared::instance::registry::Entry;
use shared::instance::registry::Registry;
use shared::store::Table;
use xtask::stack::CLIENT_ID;

/// How long the functions keep a registry entry in the instance tests.
pub const CACHE_SECONDS: u64 = 2;

/// The functions' extra environment in the instance tests (beyond the stack's multi-instance mode,
/// `xtask::stack::instances`): a short registry cache, and a wrong secret to rotate from.
pub(crate) fn bff_env() -> Vec<(String, String)> {
    vec![
        ("INSTANCE_CACHE_SECONDS".into(), CACHE_SECONDS.to_string()),
        ("BFF_SECRET_GLOBEX_WRONG".into(), "not-the-secret".into()),
    ]
}

/// A registry entry for an emulator.
pub fn entry(emulator_port: u16, secret_ref: &str) -> Entry {
    Entry {
        url: Some(format!("http://127.0.0.1:{emulator_port}")),
        client_id: CLIENT_ID.into(),
        secret_ref: secret_ref.into(),
        enabled: true,
        ..Default::default()
    }
}

impl TestApp {
    /// The registry of this app's table.
    pub fn registry(&self) -> Registry {
        Registry::new(Table::new(self.dynamo.clone(), self.table.clone()))
    }

    /// Adds or replaces an instance of the registry.
    pub async fn register(&self, key: &str, entry: &Entry) {
        let key = InstanceKey::parse(key).expect("an instance key");
        self.registry().put(&key, entry).await.expect("registry write");
    }

    /// Removes an instance from the registry.
    pub async fn deregister(&self, key: &str) {
        let key = InstanceKey::parse(key).expect("an instance key");
        self.registry().delete(&key).await.expect("registry write");
    }

    /// `http://{key}.localhost:{port}`: the app on an instance's host.
    pub fn instance_origin(&self, key: &str) -> String {
        xtask::stack::instances::origin_of(key, &self.origin())
    }

    /// The globex emulator's origin.
    pub fn globex_origin(&self) -> String {
        self.globex.as_ref().expect("Options::instances").origin()
    }
}
