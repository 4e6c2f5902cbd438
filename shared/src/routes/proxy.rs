//! `ANY /api/{path+}` (with `X-CSRF: 1`): forwards to the instance's `{API base}/{path}` with the user's bearer
//! token. tenant (gate) → path → `$batch` body → current session → fresh token → `proxy::call` (one refresh +
//! retry on a 401) → response.

use crate::app::App;
use crate::error::BffError;
use crate::http::params::body_bytes;
use crate::proxy::path::{ProxyPath, check_method};
use crate::proxy::stream::ProxyBody;
use crate::proxy::upstream::Outgoing;
use crate::proxy::{Call, call};
use lambda_http::{Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<ProxyBody>, BffError> {
    let tenant = app.tenant_for_spa(&req).await?;
    let api = &tenant.instance.api;
    check_method(req.method())?;
    let path = ProxyPath::of_request(&req, &api.allowlist)?;
    let body = body_bytes(&req);
    if body.len() > app.config.proxy.max_request_bytes {
        return Err(BffError::PayloadTooLarge);
    }
    // A `$batch` is forwarded as the canonical body rebuilt from the inner requests that were checked.
    let batch = crate::proxy::batch::check(req.method(), req.headers(), &path, body, api)?;

    let (secret, session) = tenant.current_session(req.headers()).await?.required()?;
    let keeper = tenant.keeper();
    let fresh = keeper.fresh(&secret, session).await?;
    // The session's own instance's API, whatever the path, host or headers say.
    let outgoing = match batch {
        Some(b) => Outgoing::new(&req, &api.base, &path, b.body.into()).with_content_type(&b.content_type)?,
        None => Outgoing::new(&req, &api.base, &path, bytes::Bytes::copy_from_slice(body)),
    };
    let up = call(&Call { upstream: &app.upstream, keeper: &keeper, secret: &secret }, fresh, &outgoing).await?;
    crate::proxy::body::respond(up, &api.base)
}
