//! The API proxy, in the order a request passes through it: [`path`] (which paths and methods may pass),
//! [`batch`] (the same checks for every request inside a `$batch` body), [`headers`] (allowlists both ways),
//! [`call`] (the one 401 rule) over [`upstream`] (the transport: one request with a bearer token), [`links`] (the
//! OData link annotations, and only they, rewritten to `/api/…`), [`body`] (the answer to the browser), [`stream`]
//! (its body, streamed as it arrives).

pub mod batch;
pub mod body;
pub mod headers;
pub mod links;
pub mod path;
pub mod stream;
pub mod upstream;

use crate::error::BffError;
use crate::session::refresh::{Fresh, Keeper};
use crate::session::secrets::SessionSecret;
use lambda_http::http::StatusCode;
use upstream::{Outgoing, UpstreamClient, UpstreamResponse};

/// What one proxied call needs: the transport, the session's keeper (its instance's identity server) and secret.
pub struct Call<'a> {
    pub upstream: &'a UpstreamClient,
    pub keeper: &'a Keeper<'a>,
    pub secret: &'a SessionSecret,
}

/// Sends `out` with the session's access token. A 401 means the token was refused before its time (revoked,
/// rotated keys …): one refresh (single-flight; another caller's newer token set is taken as it is) and one retry,
/// unless this request just refreshed or the token is younger than the refresh floor (an API that refuses every
/// call must not cost a refresh per call). Refused again: `upstream_unauthorized`, and the session is kept (only
/// the identity server's `invalid_grant` or its expiry end a session).
pub async fn call(c: &Call<'_>, fresh: Fresh, out: &Outgoing) -> Result<UpstreamResponse, BffError> {
    let started = std::time::Instant::now();
    let mut up = c.upstream.send(out, &fresh.tokens.access_token).await?;
    if up.status == StatusCode::UNAUTHORIZED {
        if fresh.refreshed || c.keeper.within_floor(&fresh.session) {
            tracing::warn!(version = fresh.session.version, "upstream refused a fresh token: no refresh, session kept");
            return Err(BffError::UpstreamUnauthorized);
        }
        let fresh = c.keeper.refresh(c.secret, fresh.session).await?;
        up = c.upstream.send(out, &fresh.tokens.access_token).await?;
        if up.status == StatusCode::UNAUTHORIZED {
            tracing::warn!(version = fresh.session.version, "upstream refused the refreshed token: session kept");
            return Err(BffError::UpstreamUnauthorized);
        }
    }
    crate::metrics::proxied(started.elapsed().as_secs_f64() * 1000.0, up.status.as_u16());
    Ok(up)
}
