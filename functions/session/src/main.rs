//! The `session` Lambda function: `/auth/session` and the user's sessions, `/auth/sessions[/{id}]`. All logic lives
//! in `shared::routes::session` and `shared::routes::sessions`.

use shared::{App, BffError, routes};

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(|app| shared::serve(app, handle))
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
