//! `ANY /api/{path+}` (with `X-CSRF: 1`): forwards to `{API_BASE}/{path}` with the user's bearer token.
//! gate → path → `$batch` body → current session → fresh token → upstream (one refresh + retry per token version
//! on a 401) → response.

use crate::app::App;
use crate::error::BffError;
use crate::http::params::body_bytes;
use crate::proxy::path::{ProxyPath, check_method};
use crate::proxy::stream::ProxyBody;
use crate::proxy::upstream::Outgoing;
use lambda_http::{Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<ProxyBody>, BffError> {
    let proxy = &app.config.proxy;
    let inst = app.instance_for_spa(&req).await?;
    check_method(req.method())?;
    let path = ProxyPath::of_request(&req, &proxy.allowlist)?;
    let body = body_bytes(&req);
    if body.len() > proxy.max_request_bytes {
        return Err(BffError::PayloadTooLarge);
    }
    crate::proxy::batch::check(req.method(), req.headers(), &path, body, proxy)?;

    let (secret, session) = app.current_session(&inst, req.headers()).await?.required()?;
    let loaded_version = session.version;
    let keeper = app.keeper.with(&inst.idp);
    let fresh = keeper.fresh(&secret, session).await?;
    let just_refreshed = fresh.0.version != loaded_version;
    // The session's own instance's API, whatever the path, host or headers say.
    let outgoing = Outgoing::new(&req, &inst.api_base, &path, body);
    let up = app.upstream.forward(&keeper, &secret, fresh, just_refreshed, &outgoing).await?;
    crate::proxy::body::respond(up, &inst.api_base)
}
