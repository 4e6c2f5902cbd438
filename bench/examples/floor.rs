//! The floors under the proxy's CPU per call (BENCHMARKS.md, "Where the proxy's CPU goes"): the functions' runtime
//! loop with less and less work per call, run by `bench proxy --bin-dir` in the proxy's place (the bench's
//! `floor` script names it `proxy`). `FLOOR` chooses the work:
//! - `bare`: lambda_http alone, answering 200 at once (no logging, no configuration, no clients);
//! - `runtime`: the functions' own loop (`shared::launch` and `serve`: logging, the front-door gate, the request's
//!   log line), answering 200 at once;
//! - `session`: that, plus the proxy's work before the upstream call (instance, CSRF, cookie, the `GetItem` and
//!   the session parsed);
//! - `raw-session`: the same, but the `GetItem` signed (aws-sigv4) and sent over a plain hyper client instead of the
//!   AWS SDK, and its answer parsed as JSON: what the SDK's own machinery costs (an experiment, not a design: it
//!   has no retries, no credential refresh, no endpoint rules).
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::error::BffError;
use shared::session::current::SessionCookie;

fn main() -> Result<(), lambda_http::Error> {
    match std::env::var("FLOOR").as_deref() {
        Ok("bare") => bare(),
        Ok("runtime") | Ok("session") | Ok("raw-session") => shared::launch(|app| shared::serve(app, handle)),
        other => Err(format!("FLOOR must be bare, runtime, session or raw-session, not {other:?}").into()),
    }
}

fn bare() -> Result<(), lambda_http::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(lambda_http::run(lambda_http::service_fn(|_: Request| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::from("{}")))
    })))
}

async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    static FLOOR: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| std::env::var("FLOOR").unwrap());
    match FLOOR.as_str() {
        "session" => {
            app.tenant_for_spa(&req).await?.current_session(req.headers()).await?.required()?;
        }
        "raw-session" => {
            app.tenant_for_spa(&req).await?;
            let SessionCookie::Valid(secret) = shared::session::current::cookie(req.headers())? else {
                return Err(BffError::NotAuthenticated);
            };
            raw::get_item(&app.config.session.table, secret.key().as_str()).await;
        }
        _ => {}
    }
    Ok(Response::new(Body::from("{}")))
}

mod raw {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use shared::session::store::attr::PK;
    use std::sync::LazyLock;

    type Http = Client<HttpConnector, Full<bytes::Bytes>>;
    static HTTP: LazyLock<Http> =
        LazyLock::new(|| Client::builder(hyper_util::rt::TokioExecutor::new()).build(HttpConnector::new()));
    static IDENTITY: LazyLock<aws_smithy_runtime_api::client::identity::Identity> = LazyLock::new(|| {
        let env = |k: &str| std::env::var(k).unwrap_or_default();
        let token = std::env::var("AWS_SESSION_TOKEN").ok();
        aws_credential_types::Credentials::new(
            env("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY"),
            token,
            None,
            "env",
        )
        .into()
    });

    /// One consistent `GetItem` of `pk`, SigV4-signed, its answer parsed; panics on anything but 200 with an item.
    pub async fn get_item(table: &str, pk: &str) -> serde_json::Value {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("a local DynamoDB endpoint");
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".into());
        let body = serde_json::json!({"TableName": table, "Key": {PK: {"S": pk}}, "ConsistentRead": true}).to_string();
        let mut req = http::Request::post(format!("{endpoint}/"))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .body(Full::new(bytes::Bytes::from(body.clone())))
            .unwrap();
        let headers = req.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap()));
        let signable =
            SignableRequest::new("POST", req.uri().to_string(), headers, SignableBody::Bytes(body.as_bytes())).unwrap();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&IDENTITY)
            .region(&region)
            .name("dynamodb")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
        let resp = HTTP.request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let item: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(item["Item"].is_object(), "no session item");
        item
    }
}
