//! The floors under the proxy's CPU per call (BENCHMARKS.md, "Where the proxy's CPU goes"): the functions' runtime
//! loop with less and less work per call, run by `bench proxy --bin-dir` in the proxy's place (the bench's
//! `floor` script names it `proxy`). `FLOOR` chooses the work:
//! - `bare`: lambda_http alone, answering 200 at once (no logging, no configuration, no clients);
//! - `runtime`: the functions' own loop (`shared::launch` and `serve`: logging, the front-door gate, the request's
//!   log line), answering 200 at once;
//! - `session`: that, plus the proxy's work before the upstream call (instance, CSRF, cookie, the `GetItem` and
//!   the token set opened).
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::error::BffError;

fn main() -> Result<(), lambda_http::Error> {
    match std::env::var("FLOOR").as_deref() {
        Ok("bare") => bare(),
        Ok("runtime") | Ok("session") => shared::launch(|app| shared::serve(app, handle)),
        other => Err(format!("FLOOR must be bare, runtime or session, not {other:?}").into()),
    }
}

fn bare() -> Result<(), lambda_http::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(lambda_http::run(lambda_http::service_fn(|_: Request| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::from("{}")))
    })))
}

async fn handle(app: &App, req: Request) -> Result<Response<Body>, BffError> {
    if std::env::var("FLOOR").as_deref() == Ok("session") {
        let instance = app.instance_for_spa(&req).await?;
        app.current_session(&instance, req.headers()).await?.required()?;
    }
    Ok(Response::new(Body::from("{}")))
}
