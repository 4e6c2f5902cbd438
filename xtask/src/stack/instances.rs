//! Multi-instance mode of the local stack (issue 16): one BFF serving two ERP.net instances, each an emulator of
//! its own. `acme` is the stack's first emulator (the default instance's too, so the bare app host keeps working as
//! in single-instance mode); `globex` is a second one, with its own keys, client secret and sample data
//! (customers `G0001…`). Both are written to the registry in the session table (`instance#<key>`, through
//! `shared::instance::registry`), and the functions get `INSTANCE_REGISTRY=true` and each instance's client secret
//! as `BFF_SECRET_<KEY>`. An instance's app origin is the default one with `<key>.` in front of its host
//! (`http://acme.localhost:5173`); Chromium resolves every `*.localhost` to the loopback address.

use super::CLIENT_ID;
use shared::instance::InstanceKey;
use shared::instance::registry::Entry;
use shared::instance::registry::Registry;
use shared::store::Table;

/// The stack's first emulator, as a registry instance (it also serves the default instance).
pub const ACME: &str = "acme";
/// The second emulator's instance.
pub const GLOBEX: &str = "globex";

/// `origin` with `<key>.` in front of its host: `http://localhost:5173` → `http://acme.localhost:5173`.
pub fn origin_of(key: &str, origin: &str) -> String {
    match origin.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{key}.{rest}"),
        None => format!("{key}.{origin}"),
    }
}

/// The functions' variable that holds `key`'s client secret (the registry's `secret_ref` is `env:` and this).
pub fn secret_var(key: &str) -> String {
    format!("BFF_SECRET_{}", key.to_ascii_uppercase().replace('-', "_"))
}

/// globex's client secret, derived from the stack's (so every stack has its own, and the two instances differ).
pub fn globex_secret(client_secret: &str) -> String {
    format!("{client_secret}-{GLOBEX}")
}

/// The functions' extra environment in multi-instance mode: the switch and both instances' secrets.
pub fn bff_env(client_secret: &str) -> Vec<(String, String)> {
    vec![
        ("INSTANCE_REGISTRY".into(), "true".into()),
        (secret_var(ACME), client_secret.into()),
        (secret_var(GLOBEX), globex_secret(client_secret)),
    ]
}

/// Adds (or replaces) `key`'s registry entry: the ERP.net instance at `url`, the stack's client id, its secret in
/// the functions' `BFF_SECRET_<KEY>`, enabled.
pub async fn register(client: &aws_sdk_dynamodb::Client, table: &str, key: &str, url: &str) -> Result<(), String> {
    let parsed = InstanceKey::parse(key).ok_or_else(|| format!("{key:?} is not an instance key"))?;
    let entry = Entry {
        url: Some(url.into()),
        client_id: CLIENT_ID.into(),
        secret_ref: format!("env:{}", secret_var(key)),
        enabled: true,
        ..Default::default()
    };
    let registry = Registry::new(Table::new(client.clone(), table));
    registry.put(&parsed, &entry).await.map_err(|e| format!("cannot register instance {key} in {table}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_origin_is_the_app_origin_with_the_key_in_front_of_the_host() {
        assert_eq!(origin_of(ACME, "http://localhost:5173"), "http://acme.localhost:5173");
        assert_eq!(origin_of(GLOBEX, "http://localhost:41234"), "http://globex.localhost:41234");
    }

    #[test]
    fn secrets_are_named_per_instance_and_differ() {
        assert_eq!(secret_var("globex"), "BFF_SECRET_GLOBEX");
        assert_eq!(secret_var("big-co"), "BFF_SECRET_BIG_CO");
        let env = bff_env("s");
        assert!(env.contains(&("INSTANCE_REGISTRY".into(), "true".into())));
        assert!(env.contains(&("BFF_SECRET_ACME".into(), "s".into())));
        assert!(env.contains(&("BFF_SECRET_GLOBEX".into(), "s-globex".into())));
    }
}
