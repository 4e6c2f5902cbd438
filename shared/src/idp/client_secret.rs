//! The client secret: from the environment (locally) or, in AWS, fetched from Secrets Manager through the AWS
//! Parameters and Secrets Lambda Extension (`localhost:2773`, authenticated with the function's session token).
//! Kept for the life of the execution environment, or for the registry's cache time for a registered instance
//! (so a rotated secret is picked up without a redeploy). Only the functions that call the token endpoint ever ask
//! for it; a failed fetch is retried on the next request.

use super::IdentityServer;
use crate::config::{ClientSecret, SecretSource};
use crate::error::BffError;

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
