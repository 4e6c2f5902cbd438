//! [`App`]: everything a function needs, built once per cold start and borrowed by every request; [`Tenant`]: the
//! app as one request's ERP.net instance sees it, chosen once per request; and [`serve`], which runs a handler under
//! the Lambda runtime and turns its errors into problem+json in one place.

use crate::config::Config;
use crate::error::BffError;
use crate::idp::IdentityServer;
use crate::instance::Instances;
use crate::instance::registry::Registry;
use crate::login::store::PendingLogins;
use crate::proxy::stream::ProxyBody;
use crate::proxy::upstream::UpstreamClient;
use crate::session::refresh::TokenKeeper;
use crate::session::replays::LogoutReplays;
use crate::session::store::Sessions;
use crate::store::Table;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use std::future::Future;
use std::time::{Duration, Instant};
use tracing::Instrument;

mod tenant;
pub use tenant::Tenant;

pub struct App {
    /// Settings that are the deployment's, not an instance's (the session's lifetimes, the proxy's limits …).
    pub config: Config,
    /// The session items (DynamoDB).
    pub sessions: Sessions,
    /// The pending logins (DynamoDB).
    pub logins: PendingLogins,
    /// Back-channel logout tokens acted on (DynamoDB).
    pub replays: LogoutReplays,
    /// The ERP.net instances: each with its identity server (discovery, keys, the token endpoint, the client
    /// secret) and its API.
    pub instances: Instances,
    /// The transport to the ERP.net APIs.
    pub upstream: UpstreamClient,
    /// Keeps access tokens fresh (refresh single-flight across execution environments).
    pub keeper: TokenKeeper,
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
        // The platform roots, read once, for every TLS client: the AWS SDK's and ours.
        let roots = crate::tls::Roots::load()?;
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .http_client(roots.sdk_http_client()?)
            .load()
            .await;
        let table = Table::new(aws_sdk_dynamodb::Client::new(&aws), config.session.table.clone());
        let sessions = Sessions::new(table.clone());
        let tls = roots.client_config()?;
        let idp_http = IdentityServer::http_client(&config.idp, tls.clone())?;
        let instances = Instances::new(&config, idp_http, Registry::new(table.clone()));
        let upstream = UpstreamClient::new(config.proxy.timeout, tls);
        let keeper = TokenKeeper::new(sessions.clone(), &config.session);
        let (logins, replays) = (PendingLogins::new(table.clone()), LogoutReplays::new(table));
        Ok(Self { config, sessions, logins, replays, instances, upstream, keeper })
    }

    /// The request's tenant: its ERP.net instance (by its host, when the registry is on), chosen once.
    pub async fn tenant(&self, req: &Request) -> Result<Tenant<'_>, BffError> {
        Ok(Tenant { app: self, instance: self.instances.for_request(req.headers()).await? })
    }

    /// [`App::tenant`] for a request the SPA makes: it must carry `X-CSRF: 1` and no `Origin` but the instance's.
    pub async fn tenant_for_spa(&self, req: &Request) -> Result<Tenant<'_>, BffError> {
        let tenant = self.tenant(req).await?;
        crate::http::gate::require_csrf(req.headers(), &tenant.instance.origin)?;
        Ok(tenant)
    }
}

/// The problem+json answer for `e`; a `session_expired` also clears the session and hint cookies (the session is
/// gone: the browser must not send its cookie again).
fn problem_response(e: &BffError) -> Response<Body> {
    let mut resp = e.to_response();
    if matches!(e, BffError::SessionExpired) {
        for c in [crate::http::cookies::clear_session(), crate::http::cookies::clear_hint()] {
            resp.headers_mut().append(lambda_http::http::header::SET_COOKIE, c);
        }
    }
    resp
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

/// This process's id, read once (each `std::process::id()` is a `getpid` system call).
fn process_id() -> u32 {
    static PID: std::sync::LazyLock<u32> = std::sync::LazyLock::new(std::process::id);
    *PID
}

/// A function's whole `main`: the runtime, logging, the [`App`] from the environment, then `run` (which
/// [`serve`]s or [`serve_streaming`]s it). One event at a time on a single thread (Lambda hands an execution
/// environment one event at a time: no cross-thread wake-ups), or, where Lambda Managed Instances set
/// `AWS_LAMBDA_MAX_CONCURRENCY` above 1, that many at once on a multi-thread runtime (the refresh is single-flight
/// within the process too: `session::refresh`).
pub fn launch<F, Fut>(run: F) -> Result<(), lambda_http::Error>
where
    F: FnOnce(App) -> Fut,
    Fut: Future<Output = Result<(), lambda_http::Error>>,
{
    let concurrent = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok().and_then(|v| v.parse::<u32>().ok()) > Some(1);
    let runtime = if concurrent {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    };
    runtime.block_on(async {
        crate::telemetry::init();
        run(App::from_env().await?).await
    })
}

/// Runs `handler` for every invocation. Errors become problem+json here and nowhere else; each request is logged
/// once with its method, path (never the query: it may hold a code or state), status and duration.
pub async fn serve<H, Fut>(app: App, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, BffError>> + Send + 'static,
{
    let app: &'static App = Box::leak(Box::new(app));
    // One invocation at a time, unless Lambda Managed Instances set `AWS_LAMBDA_MAX_CONCURRENCY` above 1.
    lambda_http::run_concurrent(service_fn(move |req: Request| invocation(app, handler, req, |r| r))).await
}

/// [`serve`] for a handler whose answer streams (the proxy; a function URL in `RESPONSE_STREAM` mode): the
/// status and headers leave first, then the body as it is produced. The log line's duration ends at the headers.
pub async fn serve_streaming<H, Fut>(app: App, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<ProxyBody>, BffError>> + Send + 'static,
{
    let app: &'static App = Box::leak(Box::new(app));
    let whole = |r: Response<Body>| r.map(crate::proxy::stream::whole);
    let service = service_fn(move |req: Request| invocation(app, handler, req, whole));
    lambda_http::run_with_streaming_response_concurrent(service).await
}

/// [`serve_streaming`]'s kind of handler with its answer read whole, within Lambda's 6 MB: a buffered Lambda
/// response (the proxy with `PROXY_STREAMING` off).
pub async fn serve_buffered<H, Fut>(app: App, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<ProxyBody>, BffError>> + Send + 'static,
{
    serve(app, move |app, req| async move {
        crate::proxy::body::buffered(handler(app, req).await?, app.config.proxy.buffered_limit).await
    })
    .await
}

/// One invocation: the front door's gate, the handler, its error as problem+json (`problem` turns that into the
/// handler's body type), the correlation id, the log line.
fn invocation<B, H, Fut>(
    app: &'static App,
    handler: H,
    req: Request,
    problem: fn(Response<Body>) -> Response<B>,
) -> impl Future<Output = Result<Response<B>, std::convert::Infallible>>
where
    H: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Result<Response<B>, BffError>>,
{
    let correlation_id = correlation_id(&req);
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    let deadline_ms = req.lambda_context_ref().map_or(0, |c| c.deadline);
    let span = tracing::info_span!("request", request_id = %request_id, correlation_id = %correlation_id);
    async move {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let result = match crate::http::gate::require_front_door(req.headers(), app.config.front_door.as_ref()) {
            Ok(()) => crate::time::within_invocation(deadline_ms, handler(app, req)).await,
            Err(e) => Err(e),
        };
        let mut resp = match result {
            Ok(resp) => resp,
            Err(e) => {
                if e.is_server_side() {
                    tracing::error!(code = e.code(), error = %e, "request failed");
                } else {
                    tracing::info!(code = e.code(), "request refused");
                }
                problem(problem_response(&e))
            }
        };
        if let Ok(v) = HeaderValue::from_str(&correlation_id) {
            resp.headers_mut().insert("x-correlation-id", v);
        }
        let status = resp.status().as_u16();
        let duration_ms = started.elapsed().as_millis() as u64;
        tracing::info!(method = %method, path = %path, status, pid = process_id(), duration_ms, "request");
        Ok(resp)
    }
    .instrument(span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::header::SET_COOKIE;

    #[test]
    fn session_expired_clears_the_cookies_and_upstream_unauthorized_keeps_them() {
        let r = problem_response(&BffError::SessionExpired);
        let set: Vec<_> = r.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
        assert!(set[0].starts_with("__Host-Http-bff-session=;"), "{set:?}");
        assert!(set[1].starts_with("__Host-bff-hint=;"), "{set:?}");
        let r = problem_response(&BffError::UpstreamUnauthorized);
        assert_eq!(r.status(), 401);
        assert!(r.headers().get(SET_COOKIE).is_none());
    }
}
