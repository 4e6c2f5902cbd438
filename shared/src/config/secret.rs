//! Where an instance's client secret comes from ([`SecretSource`]), and the secret itself ([`ClientSecret`]: its
//! `Debug` never shows the value). The identity server resolves it when a token call needs it (`idp::client_secret`).

/// The client secret's source. In AWS the secret never sits in the environment: `CLIENT_SECRET_ARN` names a Secrets
/// Manager secret.
#[derive(Clone, Debug)]
pub enum SecretSource {
    Value(ClientSecret),
    SecretsManager {
        arn: String,
    },
    /// A registered instance's `env:BFF_SECRET_…` reference: a variable of the functions, read when needed.
    Env {
        var: String,
    },
}

impl SecretSource {
    /// A registry entry's `secret_ref`: the ARN of a Secrets Manager secret named `bff/instances/…` (the only ones
    /// the functions may read: template.yaml), or `env:BFF_SECRET_<NAME>` (upper case, digits, `_`; only that
    /// prefix: a registry entry must not be able to name `AWS_SECRET_ACCESS_KEY`).
    pub fn from_ref(r: &str) -> Option<Self> {
        if let Some(var) = r.strip_prefix("env:") {
            let name = var.strip_prefix("BFF_SECRET_")?;
            let ok =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            return ok.then(|| SecretSource::Env { var: var.to_string() });
        }
        let parts: Vec<&str> = r.splitn(7, ':').collect();
        let [arn, partition, service, region, account, kind, name] = parts[..] else { return None };
        let region_ok =
            !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let name_ok = name
            .strip_prefix("bff/instances/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b)));
        let ok = arn == "arn"
            && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
            && service == "secretsmanager"
            && region_ok
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && kind == "secret"
            && name_ok;
        ok.then(|| SecretSource::SecretsManager { arn: r.to_string() })
    }
}

/// The client secret. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}
