//! The `logout` Lambda function: sign-out (`/auth/logout`) and back-channel logout (`/auth/backchannel-logout`).
//! All logic lives in `shared::routes::logout` and `shared::routes::backchannel`.

use shared::{App, BffError, routes};

fn main() -> Result<(), lambda_http::Error> {
    shared::launch(|app| shared::serve(app, handle))
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
