//! OpenID Connect Back-Channel Logout 1.0 (2.6, 2.7): a logout token the identity server sent, validated
//! (`idp::logout_token`), accepted once (its `jti` remembered until its `iat` window is over), ends every matching
//! session of this BFF. If the sessions cannot be ended, the token is forgotten again so the identity server's retry
//! is accepted.

use super::mine;
use super::replays::{LogoutReplays, logout_token_key};
use super::store::Sessions;
use crate::error::BffError;
use crate::idp::logout_token::MAX_AGE;
use crate::instance::Instance;

/// Validates `raw` (against the identity server of the instance whose host it was sent to) and ends the sessions
/// of that instance it names; returns how many ended.
pub async fn logout(
    sessions: &Sessions,
    replays: &LogoutReplays,
    instance: &Instance,
    raw: &str,
) -> Result<usize, BffError> {
    let idp = &instance.idp;
    let token = idp.validate_logout_token(raw).await?;
    let key = logout_token_key(idp.issuer(), &token.jti);
    if !replays.remember(&key, token.iat + MAX_AGE * 2).await? {
        return Err(BffError::InvalidLogoutToken("this logout token was already used"));
    }
    match mine::end_by_idp(sessions, &instance.key, token.sub.as_deref(), token.sid.as_deref()).await {
        Ok(ended) => Ok(ended),
        Err(e) => {
            let _ = replays.forget(&key).await;
            Err(e)
        }
    }
}
