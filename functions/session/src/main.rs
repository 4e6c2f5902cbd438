//! The `session` Lambda function: `/auth/session`, the user's sessions, `/auth/sessions[/{id}]`, and device-bound
//! sessions, `/auth/dbsc/{register,refresh}`. All logic lives in `shared::routes::{session, sessions, dbsc}`.

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
    } else if req.uri().path().starts_with("/auth/dbsc/") {
        routes::dbsc::handle(app, req).await
    } else {
        routes::session::handle(app, req).await
    }
}
