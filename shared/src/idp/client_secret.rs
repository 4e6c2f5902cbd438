//! The client secret: from the environment (locally) or, in AWS, fetched once per execution environment from
//! Secrets Manager through the AWS Parameters and Secrets Lambda Extension (`localhost:2773`, authenticated with
//! the function's session token). Only the functions that call the token endpoint ever ask for it; a failed fetch
//! is retried on the next request.

use super::IdentityServer;
use crate::error::BffError;

/// The client secret's source. In AWS the secret never sits in the environment: `CLIENT_SECRET_ARN` names a Secrets
/// Manager secret.
#[derive(Clone, Debug)]
pub enum SecretSource {
    Value(ClientSecret),
    SecretsManager { arn: String },
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
    /// The client secret, resolved on first use and kept for the life of the execution environment.
    pub(super) async fn client_secret(&self) -> Result<&ClientSecret, BffError> {
        self.secret
            .get_or_try_init(|| async {
                match &self.config.client_secret {
                    SecretSource::Value(v) => Ok(v.clone()),
                    SecretSource::SecretsManager { arn } => fetch_secret(&self.http, arn).await,
                }
            })
            .await
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
