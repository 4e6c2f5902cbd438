//! OpenID Connect Back-Channel Logout 1.0, 2.6: validating a logout token the identity server POSTs to
//! `/auth/backchannel-logout`. Signature from the JWKS (the ID token's allowed algorithms), `iss`, `aud`, `exp` when
//! present, `iat` within [`MAX_AGE`], the back-channel logout `events` member, no `nonce`, `sub` and/or `sid`, a
//! `jti` (the caller remembers it: a token is accepted once). `typ`, when present, is `logout+jwt` (2.4).
//!
//! Header (`typ`, `alg`) and claims are checked on the unverified token before its key is looked up, so a forged
//! token that could not be the identity server's for us is refused without a JWKS fetch (`super::jwks`).

use super::IdentityServer;
use crate::error::BffError;
use crate::time::UnixTime;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};
use std::time::Duration;

/// The `events` member a logout token must carry.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token's `iat` may be (it is remembered by `jti` for longer than this).
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// Clock skew allowed on `iat` and `exp`.
const SKEW_SECS: u64 = 30;

/// A validated logout token: whose sessions end (`sub`, ERP.net's `sid`), and its `jti` and `iat`.
#[derive(Debug)]
pub struct LogoutToken {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
    pub iat: UnixTime,
}

fn invalid(why: &'static str) -> BffError {
    BffError::InvalidLogoutToken(why)
}

impl IdentityServer {
    pub async fn validate_logout_token(&self, token: &str) -> Result<LogoutToken, BffError> {
        let header = decode_header(token).map_err(|_| invalid("the logout token is malformed"))?;
        let typ = header.typ.as_deref().map(str::to_ascii_lowercase);
        if !matches!(typ.as_deref(), None | Some("logout+jwt" | "application/logout+jwt" | "jwt")) {
            return Err(invalid("the logout token's typ is not logout+jwt"));
        }
        let alg = super::id_token::allowed_alg(header.alg).map_err(|_| invalid("its algorithm is not allowed"))?;
        // Everything that can be told without the key first: a token that cannot be ours costs no JWKS fetch.
        let unverified = super::unverified_claims(token).ok_or_else(|| invalid("the logout token is malformed"))?;
        super::addressed_to_us(&self.config, &unverified).map_err(|why| match why {
            super::Unaddressed::Issuer => invalid("the logout token's issuer is wrong"),
            super::Unaddressed::Audience => invalid("the logout token's audience is wrong"),
        })?;
        check_claims(&unverified, UnixTime::now())?;
        let jwk = self.key_for(header.kid.as_deref()).await.map_err(|e| match e {
            BffError::LoginFailed { .. } => invalid("the logout token's signing key is unknown"),
            other => other,
        })?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("the signing key is unusable"))?;
        let mut v = Validation::new(alg);
        v.set_issuer(&[self.config.issuer.as_str()]);
        v.set_audience(&[&self.config.client_id]);
        v.set_required_spec_claims(&["iss", "aud", "iat"]);
        v.leeway = SKEW_SECS;
        let claims = decode::<Map<String, Value>>(token, &key, &v)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind::*;
                invalid(match e.kind() {
                    InvalidSignature => "the logout token's signature is invalid",
                    ExpiredSignature => "the logout token has expired",
                    InvalidIssuer => "the logout token's issuer is wrong",
                    InvalidAudience => "the logout token's audience is wrong",
                    _ => "the logout token is invalid",
                })
            })?
            .claims;
        check_claims(&claims, UnixTime::now())
    }
}

/// The claims' rules beyond the signature, `iss`, `aud` and `exp`.
fn check_claims(claims: &Map<String, Value>, now: UnixTime) -> Result<LogoutToken, BffError> {
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or_else(|| invalid("the logout token has no iat"))?;
    if iat > now.secs() + SKEW_SECS as i64 || iat < (now - MAX_AGE).secs() - SKEW_SECS as i64 {
        return Err(invalid("the logout token's iat is outside the accepted window"));
    }
    if !claims.get("events").and_then(Value::as_object).is_some_and(|e| e.get(EVENT).is_some_and(Value::is_object)) {
        return Err(invalid("the logout token has no back-channel logout event"));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not have a nonce"));
    }
    let text = |k: &str| claims.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
    let (sub, sid) = (text("sub"), text("sid"));
    if sub.is_none() && sid.is_none() {
        return Err(invalid("the logout token names neither sub nor sid"));
    }
    let jti = text("jti").filter(|j| j.len() <= 256).ok_or_else(|| invalid("the logout token has no jti"))?;
    Ok(LogoutToken { sub, sid, jti, iat: UnixTime::from_secs(iat) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claims_rules_of_section_2_6() {
        let now = UnixTime::from_secs(1_800_000_000);
        let good = json!({"iat": now.secs(), "jti": "j1", "sub": "demo", "sid": "s1", "events": {EVENT: {}}});
        let t = check_claims(&claims(good.clone()), now).unwrap();
        assert_eq!((t.sub.as_deref(), t.sid.as_deref(), t.jti.as_str()), (Some("demo"), Some("s1"), "j1"));
        let with = |k: &str, v: Value| {
            let mut c = claims(good.clone());
            c.insert(k.into(), v);
            c
        };
        let without = |k: &str| {
            let mut c = claims(good.clone());
            c.remove(k);
            c
        };
        for (what, c) in [
            ("nonce", with("nonce", json!("n"))),
            ("no events", without("events")),
            ("another event", with("events", json!({"http://schemas.openid.net/event/other": {}}))),
            ("event not an object", with("events", json!({EVENT: "yes"}))),
            ("no jti", without("jti")),
            ("iat too old", with("iat", json!(now.secs() - 400))),
            ("iat in the future", with("iat", json!(now.secs() + 120))),
            ("no iat", without("iat")),
        ] {
            assert!(matches!(check_claims(&c, now), Err(BffError::InvalidLogoutToken(_))), "{what}");
        }
        let mut neither = without("sub");
        neither.remove("sid");
        assert!(check_claims(&neither, now).is_err(), "neither sub nor sid");
        assert!(check_claims(&without("sub"), now).is_ok(), "sid alone");
        assert!(check_claims(&without("sid"), now).is_ok(), "sub alone");
    }
}
