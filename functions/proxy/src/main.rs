//! The `proxy` Lambda function (its answers stream with `PROXY_STREAMING=true`). All logic lives in
//! `shared::routes::proxy`.
#![recursion_limit = "256"]

// One event at a time per execution environment: a single-threaded runtime spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    if app.config.proxy.streaming {
        shared::serve_streaming(app, shared::routes::proxy::handle).await
    } else {
        shared::serve(app, shared::routes::proxy::handle_buffered).await
    }
}
