//! Many ERP.net instances on one stack (`Options::instances`): the stack's own emulator is registered as `acme`,
//! a second emulator (`EMULATOR_INSTANCE=globex`, its own keys and secret) as `globex`, and the functions choose
//! by host: `http://acme.localhost:{port}`, `http://globex.localhost:{port}` (the bare `localhost` stays the
//! environment's default instance).

use crate::TestApp;
use shared::instance::InstanceKey;
pub use shared::instance::registry::Entry;
use shared::session::store::SessionStore;
use xtask::stack::{CLIENT_ID, Emulator, EmulatorConfig, StackOptions, free_port};

/// globex's client secret (the functions read it as `BFF_SECRET_GLOBEX`).
pub const GLOBEX_SECRET: &str = "globex-secret-7d0e";
/// How long the functions keep a registry entry in the instance tests.
pub const CACHE_SECONDS: u64 = 2;

/// Before the stack starts: the acme redirect URIs on the emulator, the registry switched on for the functions.
pub(crate) fn prepare(so: &mut StackOptions, client_secret: &str) {
    let p = so.bff_port;
    let uris = |suffix: &str| format!("http://localhost:{p}{suffix},http://acme.localhost:{p}{suffix}");
    so.emulator_env.push(("EMULATOR_REDIRECT_URIS".into(), uris("/auth/callback")));
    so.emulator_env.push(("EMULATOR_POST_LOGOUT_URIS".into(), uris("/")));
    so.bff_env.extend([
        ("INSTANCE_REGISTRY".into(), "true".into()),
        ("INSTANCE_CACHE_SECONDS".into(), CACHE_SECONDS.to_string()),
        ("BFF_SECRET_ACME".into(), client_secret.into()),
        ("BFF_SECRET_GLOBEX".into(), GLOBEX_SECRET.into()),
        ("BFF_SECRET_GLOBEX_WRONG".into(), "not-the-secret".into()),
    ]);
}

/// After the stack started: the globex emulator, and both entries in the registry.
pub(crate) async fn start_globex(so: &StackOptions) -> Emulator {
    let config = EmulatorConfig {
        instance: "globex".into(),
        port: free_port(),
        client_id: CLIENT_ID.into(),
        client_secret: GLOBEX_SECRET.into(),
        app_origins: vec![format!("http://globex.localhost:{}", so.bff_port)],
        access_token_ttl: so.access_token_ttl,
        backchannel_logout_uri: None,
        backchannel_logout_host: None,
        state_file: None,
        extra_env: vec![],
    };
    let log = so.logs.join(format!("{}-globex-emulator.log", so.id));
    Emulator::start(&config, &log).await.unwrap_or_else(|e| panic!("{e}"))
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
    pub fn registry(&self) -> SessionStore {
        SessionStore::new(self.dynamo.clone(), self.table.clone())
    }

    /// Adds or replaces an instance of the registry.
    pub async fn register(&self, key: &str, entry: &Entry) {
        let key = InstanceKey::parse(key).expect("an instance key");
        self.registry().put_instance(&key, entry).await.expect("registry write");
    }

    /// Removes an instance from the registry.
    pub async fn deregister(&self, key: &str) {
        let key = InstanceKey::parse(key).expect("an instance key");
        self.registry().delete_instance(&key).await.expect("registry write");
    }

    /// `http://{key}.localhost:{port}`: the app on an instance's host.
    pub fn instance_origin(&self, key: &str) -> String {
        format!("http://{key}.localhost:{}", self.bff_port)
    }

    /// The globex emulator's origin.
    pub fn globex_origin(&self) -> String {
        self.globex.as_ref().expect("Options::instances").origin()
    }
}
