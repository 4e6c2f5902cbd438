//! ID-token validation: signature from the JWKS (asymmetric algorithms only), `iss`, `aud`, `azp` (required with
//! several audiences, and whenever present it must be our client id: OIDC Core 3.1.3.7, steps 4 and 5), `exp` and
//! `iat` with a small skew, `nonce`; and, in the hybrid flow, `c_hash` over the code and `s_hash` over the state.

use super::IdentityServer;
use super::pkce::Nonce;
use crate::crypto::{b64url, ct_eq, sha256};
use crate::error::BffError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

/// Allowed clock skew for `iat`/`exp` of ID tokens.
const SKEW_SECS: u64 = 30;

type Claims = Map<String, Value>;

impl IdentityServer {
    /// Validates an ID token and returns its claims. `code` and `state`, when given, must match `c_hash` and
    /// `s_hash` (the front-channel ID token of the hybrid flow).
    pub async fn validate_id_token(
        &self,
        token: &str,
        nonce: &Nonce,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<Claims, BffError> {
        let header = decode_header(token).map_err(|_| invalid_id_token("the ID token is malformed"))?;
        let alg = allowed_alg(header.alg)?;
        // A token that cannot be ours (its unverified `iss`, `aud`) costs no JWKS fetch.
        let unverified =
            super::unverified_claims(token).ok_or_else(|| invalid_id_token("the ID token is malformed"))?;
        super::addressed_to_us(&self.config, &unverified).map_err(|why| match why {
            super::Unaddressed::Issuer => invalid_id_token("the ID token's issuer is wrong"),
            super::Unaddressed::Audience => invalid_id_token("the ID token's audience is wrong"),
        })?;
        let jwk = self.key_for(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid_id_token("the signing key is unusable"))?;
        let claims = self.decode_claims(token, &key, alg)?;
        self.check_claims(&claims, nonce)?;
        for (claim, value) in [("c_hash", code), ("s_hash", state)] {
            if let Some(value) = value {
                check_half_hash(&claims, alg, claim, value)?;
            }
        }
        Ok(claims)
    }

    /// Signature, `iss`, `aud`, `exp` (with skew) and the presence of the required claims.
    fn decode_claims(&self, token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Claims, BffError> {
        let mut v = Validation::new(alg);
        v.set_issuer(&[self.config.issuer.as_str()]);
        v.set_audience(&[&self.config.client_id]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.leeway = SKEW_SECS;
        let data = decode::<Claims>(token, key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            invalid_id_token(match e.kind() {
                InvalidSignature => "the ID token's signature is invalid",
                ExpiredSignature => "the ID token has expired",
                InvalidIssuer => "the ID token's issuer is wrong",
                InvalidAudience => "the ID token's audience is wrong",
                _ => "the ID token is invalid",
            })
        })?;
        Ok(data.claims)
    }

    /// `iat` not in the future, `azp` (when present or several audiences), and the `nonce` of this sign-in.
    fn check_claims(&self, claims: &Claims, nonce: &Nonce) -> Result<(), BffError> {
        let now = crate::time::UnixTime::now().secs();
        let iat =
            claims.get("iat").and_then(Value::as_i64).ok_or_else(|| invalid_id_token("the ID token has no iat"))?;
        if iat > now + SKEW_SECS as i64 {
            return Err(invalid_id_token("the ID token is issued in the future"));
        }
        let azp = claims.get("azp");
        let several_audiences = matches!(claims.get("aud"), Some(Value::Array(auds)) if auds.len() > 1);
        if (azp.is_some() || several_audiences) && azp.and_then(Value::as_str) != Some(self.config.client_id.as_str()) {
            return Err(invalid_id_token("the ID token's azp is wrong"));
        }
        let got_nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !ct_eq(got_nonce.as_bytes(), nonce.expose().as_bytes()) {
            return Err(invalid_id_token("the ID token's nonce does not match"));
        }
        Ok(())
    }
}

pub(super) fn allowed_alg(alg: Algorithm) -> Result<Algorithm, BffError> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 => Ok(alg),
        _ => Err(invalid_id_token("the ID token's algorithm is not allowed")),
    }
}

fn check_half_hash(claims: &Claims, alg: Algorithm, claim: &str, value: &str) -> Result<(), BffError> {
    let expected = half_hash(alg, value);
    let got = claims.get(claim).and_then(Value::as_str).unwrap_or("");
    if ct_eq(got.as_bytes(), expected.as_bytes()) {
        return Ok(());
    }
    Err(invalid_id_token(if claim == "c_hash" {
        "the ID token's c_hash does not match the code"
    } else {
        "the ID token's s_hash does not match the state"
    }))
}

pub(super) fn invalid_id_token(detail: &'static str) -> BffError {
    BffError::login_failed("invalid_id_token", detail)
}

/// OIDC `c_hash`/`s_hash`/`at_hash`: base64url of the left half of the hash named by the JWS algorithm.
fn half_hash(alg: Algorithm, value: &str) -> String {
    use aws_lc_rs::digest;
    let d = match alg {
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => digest::digest(&digest::SHA384, value.as_bytes()),
        Algorithm::RS512 | Algorithm::PS512 => digest::digest(&digest::SHA512, value.as_bytes()),
        _ => return b64url(&sha256(value.as_bytes())[..16]),
    };
    let bytes = d.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

#[cfg(test)]
mod tests {
    #[test]
    fn half_hash_matches_the_oidc_example() {
        // OpenID Connect Core, A.4: code "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk" → c_hash.
        assert_eq!(
            super::half_hash(
                jsonwebtoken::Algorithm::RS256,
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
            ),
            "LDktKdoQak3Pk0cnXxCltA"
        );
    }
}
