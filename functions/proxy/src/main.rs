//! The `proxy` Lambda function. All logic lives in `shared::handlers::proxy`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve(app, shared::handlers::proxy::handle).await
}
