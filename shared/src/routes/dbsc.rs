//! `POST /auth/dbsc/{register,refresh}`: device-bound sessions, called by the browser itself (`session::bound`).

use crate::app::App;
use lambda_http::Request;
use lambda_http::http::Method;

pub async fn handle(app: &App, req: Request) -> super::Answer {
    crate::http::gate::require_method(&req, &[Method::POST], "POST")?;
    app.tenant(&req).await?.device_bound(req.uri().path(), req.headers()).await
}
