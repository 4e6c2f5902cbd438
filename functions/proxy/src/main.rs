//! The `proxy` Lambda function (its answers stream with `PROXY_STREAMING=true`). All logic lives in
//! `shared::routes::proxy`.
#![recursion_limit = "256"]

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(|app| async move {
        if app.config.proxy.streaming {
            shared::serve_streaming(app, shared::routes::proxy::handle).await
        } else {
            shared::serve_buffered(app, shared::routes::proxy::handle).await
        }
    })
}
