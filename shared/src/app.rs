//! [`App`]: everything a function needs, built once per cold start and borrowed by every request; and [`serve`],
//! which runs a handler under the Lambda runtime and turns its errors into problem+json in one place.

use crate::config::{ClientSecret, Config, SecretSource};
use crate::error::BffError;
use crate::oidc::IdentityServer;
use crate::store::SessionStore;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use std::future::Future;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub struct App {
    pub config: Config,
    /// The client secret, resolved once per execution environment (see [`App::client_secret`]).
    secret: tokio::sync::OnceCell<ClientSecret>,
    pub store: SessionStore,
    pub idp: IdentityServer,
    /// The client for the ERP.net API.
    pub upstream: crate::proxy::UpstreamClient,
}

impl App {
    /// Reads the configuration and builds the SDK and HTTP clients.
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        Self::new(config).await
    }

    pub async fn new(config: Config) -> Result<Self, lambda_http::Error> {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(5))
            .build();
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        // One TLS configuration, its root store read once, for both HTTP clients (the AWS SDK keeps its own).
        let tls = tls_config()?;
        let idp_http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.idp_timeout)
            .connect_timeout(config.idp_timeout.min(Duration::from_secs(3)))
            .build()?;
        let upstream = crate::proxy::UpstreamClient::new(config.upstream_timeout, tls);
        Ok(Self {
            secret: tokio::sync::OnceCell::new(),
            store: SessionStore::new(dynamo, config.session_table.clone()),
            idp: IdentityServer::new(&config, idp_http),
            upstream,
            config,
        })
    }
}

/// The platform's root certificates (loaded once per cold start), TLS 1.2/1.3 with aws-lc-rs.
fn tls_config() -> Result<rustls::ClientConfig, lambda_http::Error> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(format!("no usable root certificates found ({:?})", loaded.errors).into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl App {
    /// The client secret: from the environment, or fetched once from Secrets Manager through the AWS Parameters
    /// and Secrets Lambda Extension (`localhost:2773`, authenticated with the function's session token). Only the
    /// functions that call the token endpoint ever ask for it; a failed fetch is retried on the next request.
    pub async fn client_secret(&self) -> Result<&ClientSecret, BffError> {
        self.secret
            .get_or_try_init(|| async {
                match &self.config.client_secret {
                    SecretSource::Value(v) => Ok(v.clone()),
                    SecretSource::SecretsManager { arn } => fetch_secret(&self.idp.http, arn).await,
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

/// The id that ties this request's log lines together: the caller's `X-Correlation-Id` when it is a sane token
/// (letters, digits, `-`, `_`, `.`, at most 64), else API Gateway's request id, else a fresh one.
fn correlation_id(req: &Request) -> String {
    let sane =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if let Some(v) = req.headers().get("x-correlation-id").and_then(|v| v.to_str().ok()).filter(|v| sane(v)) {
        return v.to_string();
    }
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = ctx.request_id.as_deref().filter(|v| sane(v))
    {
        return id.to_string();
    }
    crate::crypto::b64url(&crate::crypto::random_bytes::<12>())
}

/// Runs `handler` for every invocation. Errors become problem+json here and nowhere else; each request is logged
/// once with its method, path (never the query: it may hold a code or state), status and duration.
pub async fn serve<H, Fut>(app: App, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Response<Body>, BffError>> + Send,
{
    let app: &'static App = Box::leak(Box::new(app));
    lambda_http::run(service_fn(move |req: Request| {
        let correlation_id = correlation_id(&req);
        let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let span = tracing::info_span!("request", request_id = %request_id, correlation_id = %correlation_id);
        async move {
            let started = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let mut resp = match handler(app, req).await {
                Ok(resp) => resp,
                Err(e) => {
                    if e.is_server_side() {
                        tracing::error!(code = e.code(), error = %e, "request failed");
                    } else {
                        tracing::info!(code = e.code(), "request refused");
                    }
                    e.to_response()
                }
            };
            if let Ok(v) = HeaderValue::from_str(&correlation_id) {
                resp.headers_mut().insert("x-correlation-id", v);
            }
            tracing::info!(
                method = %method,
                path = %path,
                status = resp.status().as_u16(),
                pid = std::process::id(),
                duration_ms = started.elapsed().as_millis() as u64,
                "request"
            );
            Ok::<_, std::convert::Infallible>(resp)
        }
        .instrument(span)
    }))
    .await
}
