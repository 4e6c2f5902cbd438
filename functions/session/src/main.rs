//! The `session` Lambda function: `/auth/session` and the user's sessions, `/auth/sessions[/{id}]`. All logic lives
//! in `shared::routes::session` and `shared::routes::sessions`.

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
    if req.uri().path().starts_with("/auth/sessions") {
        routes::sessions::handle(app, req).await
    } else {
        routes::session::handle(app, req).await
    }
}
