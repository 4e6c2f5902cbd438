//! The client secret: from the environment (locally) or, in AWS, fetched from Secrets Manager through the AWS
//! Parameters and Secrets Lambda Extension (`localhost:2773`, authenticated with the function's session token).
//! Kept for the life of the execution environment, or for the registry's cache time for a registered instance
//! (so a rotated secret is picked up without a redeploy). Only the functions that call the token endpoint ever ask
//! for it; a failed fetch is retried on the next request.

use super::IdentityServer;
use crate::error::BffError;

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

impl IdentityServer {
    /// The client secret, resolved on first use and kept for `secret_max_age` (unset: for good).
    pub(super) async fn client_secret(&self) -> Result<ClientSecret, BffError> {
        if let Some((v, at)) = &*self.secret.lock().expect("secret lock")
            && self.secret_max_age.is_none_or(|max| at.elapsed() < max)
        {
            return Ok(v.clone());
        }
        let v = match &self.config.client_secret {
            SecretSource::Value(v) => v.clone(),
            SecretSource::SecretsManager { arn } => fetch_secret(&self.http, arn).await?,
            SecretSource::Env { var } => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(ClientSecret::new)
                .ok_or_else(|| BffError::Misconfigured(format!("{var} (an instance's client secret) is not set")))?,
        };
        *self.secret.lock().expect("secret lock") = Some((v.clone(), std::time::Instant::now()));
        Ok(v)
    }
}

async fn fetch_secret(http: &reqwest::Client, arn: &str) -> Result<ClientSecret, BffError> {
    #[derive(serde::Deserialize)]
    struct SecretValue {
        #[serde(rename = "SecretString")]
        secret_string: Option<String>,
    }
    let port = std::env::var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT").unwrap_or_else(|_| "2773".into());
    let token = std::env::var("AWS_SESSION_TOKEN").unwrap_or_default();
    let resp = http
        .get(format!("http://localhost:{port}/secretsmanager/get"))
        .query(&[("secretId", arn)])
        .header("X-Aws-Parameters-Secrets-Token", token)
        .send()
        .await
        .map_err(|e| BffError::Misconfigured(format!("secrets extension unreachable: {}", e.without_url())))?;
    if !resp.status().is_success() {
        return Err(BffError::Misconfigured(format!(
            "secrets extension answered {} for the client secret",
            resp.status()
        )));
    }
    let v: SecretValue =
        resp.json().await.map_err(|_| BffError::Misconfigured("secrets extension answer is not JSON".into()))?;
    v.secret_string
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new)
        .ok_or_else(|| BffError::Misconfigured("the client secret is empty or binary".into()))
}
