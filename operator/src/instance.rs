//! `bff-operator instance …`: the registry of ERP.net instances (docs/instances.md), items `instance#<key>` of the
//! sessions table, written through the store the functions read them with (`shared::instance::registry`). Every
//! value is checked before anything is written; a secret is never asked for, held or printed: an entry names where
//! its secret is (`secret_ref`), and a refused `--secret-ref` is not echoed (it may be a pasted secret).

use clap::Subcommand;
use shared::config::BaseUrl;
use shared::config::SecretSource;
use shared::instance::InstanceKey;
use shared::instance::registry::Entry;
use shared::instance::registry::Registry;
use shared::store::{StoreError, Table};
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum InstanceCommand {
    /// The registered instances: key, enabled, ERP.net URL, client id, where the secret is (never the secret).
    List,
    /// Adds or replaces an instance, served on `<key>.<app host>`.
    Put {
        /// The instance's key: a lower-case DNS label, the first label of its host (`acme` → acme.app.example.com).
        #[arg(value_parser = parse_key)]
        key: InstanceKey,
        /// The ERP.net instance's URL, e.g. https://acme.my.erp.net (issuer {url}/id, Domain API {url}/api).
        #[arg(long, value_parser = parse_url)]
        url: String,
        /// The Trusted Application's ApplicationUri (client_id) at that instance.
        #[arg(long, value_parser = parse_client_id)]
        client_id: String,
        /// Where the client secret is: the ARN of a Secrets Manager secret named bff/instances/<key>, or (locally)
        /// env:BFF_SECRET_<NAME>, a variable of the functions.
        // Checked by `run`, not by a value parser: clap's error would repeat the value (maybe a pasted secret).
        #[arg(long)]
        secret_ref: String,
        /// The scopes to ask for (default: the functions' SCOPES); must include openid and read or update.
        #[arg(long, value_parser = parse_scopes)]
        scopes: Option<String>,
        /// Overrides the issuer derived from --url.
        #[arg(long, value_parser = parse_base)]
        issuer: Option<String>,
        /// Overrides the Domain API base derived from --url.
        #[arg(long, value_parser = parse_base)]
        api_base: Option<String>,
        /// Register it disabled (refused with 404 unknown_instance until `instance enable`).
        #[arg(long)]
        disabled: bool,
    },
    /// Refuses an instance from now on (404 unknown_instance, within the functions' INSTANCE_CACHE_SECONDS).
    Disable {
        #[arg(value_parser = parse_key)]
        key: InstanceKey,
    },
    /// Serves a disabled instance again.
    Enable {
        #[arg(value_parser = parse_key)]
        key: InstanceKey,
    },
}

fn parse_key(v: &str) -> Result<InstanceKey, String> {
    let key = InstanceKey::parse(v).ok_or("must be a lower-case DNS label: a-z, 0-9 and inner -, at most 63")?;
    if key.is_default() {
        return Err(format!("`{}` is the environment's instance, served on the app's own host", InstanceKey::DEFAULT));
    }
    Ok(key)
}

/// A base URL as the functions read it from the registry (`BaseUrl::parse_instance`): https, or http only to a
/// loopback address (the local stack); no user info, query or fragment.
fn parse_base(v: &str) -> Result<String, String> {
    let base = BaseUrl::parse_instance("url", v).map_err(|e| e.problem)?;
    Ok(base.as_str().to_string())
}

/// The instance's root: a base URL without a path (`https://acme.my.erp.net`).
fn parse_url(v: &str) -> Result<String, String> {
    let base = parse_base(v)?;
    let after_scheme = &base[base.find("://").map_or(0, |i| i + 3)..];
    if after_scheme.contains('/') {
        return Err("must be the instance's root without a path, e.g. https://acme.my.erp.net".into());
    }
    Ok(base)
}

fn parse_client_id(v: &str) -> Result<String, String> {
    if v.is_empty() || v.len() > 200 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be the ApplicationUri: 1-200 characters, no spaces".into());
    }
    Ok(v.to_string())
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:bff/instances/…` (the functions may read no other
/// secret) or `env:BFF_SECRET_<NAME>`. The refused value is not repeated in the message.
fn parse_secret_ref(v: &str) -> Result<String, String> {
    const SHAPE: &str = "--secret-ref must be the ARN of a Secrets Manager secret named bff/instances/<key> \
                         (arn:aws:secretsmanager:<region>:<account>:secret:bff/instances/…) or env:BFF_SECRET_<NAME> \
                         (A-Z, 0-9, _); the value given is not repeated here";
    // The functions' own rule: what they would refuse is never written.
    SecretSource::from_ref(v).map(|_| v.to_string()).ok_or_else(|| SHAPE.into())
}

fn parse_scopes(v: &str) -> Result<String, String> {
    let scopes = v.split_whitespace().collect::<Vec<_>>().join(" ");
    shared::config::check_scopes("--scopes", scopes).map_err(|e| e.problem)
}

/// Runs `command` against `store`, writing its report to `out`.
pub async fn run(table: &Table, command: &InstanceCommand, out: &mut impl Write) -> Result<(), String> {
    let store = &Registry::new(table.clone());
    let err = |e: StoreError| format!("DynamoDB: {e}");
    let io = |e: std::io::Error| e.to_string();
    match command {
        InstanceCommand::List => {
            let all = store.all().await.map_err(err)?;
            writeln!(out, "{:<20}  {:<8}  {:<32}  {:<28}  secret", "key", "enabled", "url", "client id").map_err(io)?;
            for (key, e) in &all {
                let url = e.url.as_deref().unwrap_or("-");
                writeln!(out, "{key:<20}  {:<8}  {url:<32}  {:<28}  {}", e.enabled, e.client_id, e.secret_ref)
                    .map_err(io)?;
            }
            writeln!(out, "{} instance(s)", all.len()).map_err(io)
        }
        InstanceCommand::Put { key, url, client_id, secret_ref, scopes, issuer, api_base, disabled } => {
            let secret_ref = &parse_secret_ref(secret_ref)?;
            let entry = Entry {
                url: Some(url.clone()),
                issuer: issuer.clone(),
                api_base: api_base.clone(),
                client_id: client_id.clone(),
                secret_ref: secret_ref.clone(),
                scopes: scopes.clone(),
                enabled: !disabled,
            };
            store.put(key, &entry).await.map_err(err)?;
            let state = if *disabled { "disabled" } else { "enabled" };
            let issuer = issuer.clone().unwrap_or(format!("{url}/id"));
            let api = api_base.clone().unwrap_or(format!("{url}/api"));
            writeln!(out, "put {key} ({state}): issuer {issuer}, API {api}, client id {client_id}").map_err(io)
        }
        InstanceCommand::Disable { key } => set_enabled(store, key, false, out).await,
        InstanceCommand::Enable { key } => set_enabled(store, key, true, out).await,
    }
}

async fn set_enabled(store: &Registry, key: &InstanceKey, on: bool, out: &mut impl Write) -> Result<(), String> {
    let err = |e: StoreError| format!("DynamoDB: {e}");
    let mut entry = store.get(key).await.map_err(err)?.ok_or(format!("no instance {key} is registered"))?;
    entry.enabled = on;
    store.put(key, &entry).await.map_err(err)?;
    let state = if on { "enabled" } else { "disabled (404 unknown_instance once the functions' cache expires)" };
    writeln!(out, "{key} {state}").map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_roots_or_loopback() {
        assert_eq!(parse_url("https://acme.my.erp.net/").unwrap(), "https://acme.my.erp.net");
        assert_eq!(parse_url("http://127.0.0.1:5006").unwrap(), "http://127.0.0.1:5006");
        for bad in ["http://acme.my.erp.net", "https://acme.my.erp.net/x", "https://a?b", "ftp://a", "acme", ""] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        assert!(parse_url("http://localhost.evil.example").is_err());
        assert_eq!(parse_url("http://[::1]:5005").unwrap(), "http://[::1]:5005");
        for bad in ["http://localhost:1@evil.example", "https://user@acme.my.erp.net", "https://acme.my.erp.net#top"] {
            assert!(parse_url(bad).is_err() && parse_base(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_base("https://api.example.com/api/").unwrap(), "https://api.example.com/api");
    }

    #[test]
    fn secret_refs_name_an_instance_secret_or_a_bff_variable_and_are_never_echoed() {
        for ok in [
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bff/instances/acme-AbCdEf",
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:bff/instances/acme",
            "env:BFF_SECRET_ACME",
            "env:BFF_SECRET_GLOBEX_2",
        ] {
            assert_eq!(parse_secret_ref(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "s3cr3t-value-pasted-by-mistake",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other/acme",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:bff/instances/acme",
            "arn:aws:ssm:eu-west-1:123456789012:secret:bff/instances/acme",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bff/instances/",
            "env:AWS_SECRET_ACCESS_KEY",
            "env:BFF_SECRET_",
            "env:BFF_SECRET_acme",
        ] {
            // One fixed message, whatever was given: nothing of the value is repeated.
            assert_eq!(parse_secret_ref(bad), parse_secret_ref("x"), "{bad}");
        }
        assert!(!parse_secret_ref("s3cr3t").unwrap_err().contains("s3cr3t"));
    }

    #[test]
    fn keys_are_dns_labels_and_not_the_default_instance() {
        assert_eq!(parse_key("acme").unwrap().as_str(), "acme");
        for bad in ["Acme", "a.b", "-a", "", "default"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_and_client_ids_are_checked() {
        assert_eq!(parse_scopes(" openid  read ").unwrap(), "openid read");
        assert!(parse_scopes("openid profile").is_err() && parse_scopes("read").is_err());
        assert!(parse_client_id("my.trusted.app/first").is_ok());
        assert!(parse_client_id("").is_err() && parse_client_id("a b").is_err());
    }
}
