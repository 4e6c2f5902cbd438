//! The `logout` Lambda function: sign-out (`/auth/logout`) and back-channel logout (`/auth/backchannel-logout`).
//! All logic lives in `shared::routes::logout` and `shared::routes::backchannel`.

use shared::{App, BffError, routes};

// One event at a time per execution environment: a single-threaded runtime spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = App::from_env().await?;
    shared::serve(app, handle).await
}

async fn handle(
    app: &'static App,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, BffError> {
    if req.uri().path() == "/auth/backchannel-logout" {
        routes::backchannel::handle(app, req).await
    } else {
        routes::logout::handle(app, req).await
    }
}
