//! The identity server as the BFF sees it: discovery (fetched lazily, cached for the life of the execution
//! environment), the JWKS (refetched on an unknown `kid`, for key rotation), and ID-token validation.

use crate::config::Config;
use crate::crypto::{b64url, ct_eq, sha256};
use crate::error::BffError;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, RwLock};

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Allowed clock skew for `iat`/`exp` of ID tokens.
const SKEW_SECS: u64 = 30;
/// A `kid` still unknown after a refetch is not looked up again for this long (a forged token must not make us
/// hammer the IdP; a freshly rotated key is found at once, since it was never missed).
const JWKS_MISS_TTL: Duration = Duration::from_secs(10);

pub struct IdentityServer {
    pub(crate) http: reqwest::Client,
    issuer: String,
    client_id: String,
    discovery: OnceCell<Discovery>,
    jwks: RwLock<Option<JwkSet>>,
    misses: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
}

/// Maps a transport failure of a call to the identity server.
pub(crate) fn idp_transport_error(e: reqwest::Error) -> BffError {
    if e.is_timeout() { BffError::IdpTimeout } else { BffError::IdpUnavailable(e.without_url().to_string()) }
}

impl IdentityServer {
    pub fn new(config: &Config, http: reqwest::Client) -> Self {
        Self {
            http,
            issuer: config.issuer.clone(),
            client_id: config.client_id.clone(),
            discovery: OnceCell::new(),
            jwks: RwLock::new(None),
            misses: Default::default(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The discovery document. A failure is not cached: the next call tries again.
    pub async fn discovery(&self) -> Result<&Discovery, BffError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let resp = self.http.get(&url).send().await.map_err(idp_transport_error)?;
                if !resp.status().is_success() {
                    return Err(BffError::IdpUnavailable(format!("discovery answered {}", resp.status())));
                }
                let d: Discovery = resp.json().await.map_err(|e| {
                    BffError::IdpUnavailable(format!("discovery is not valid JSON: {}", e.without_url()))
                })?;
                if d.issuer != self.issuer {
                    return Err(BffError::Misconfigured(format!(
                        "discovery issuer {} differs from configured {}",
                        d.issuer, self.issuer
                    )));
                }
                Ok(d)
            })
            .await
    }

    async fn fetch_jwks(&self) -> Result<JwkSet, BffError> {
        let uri = self.discovery().await?.jwks_uri.clone();
        let resp = self.http.get(&uri).send().await.map_err(idp_transport_error)?;
        if !resp.status().is_success() {
            return Err(BffError::IdpUnavailable(format!("JWKS answered {}", resp.status())));
        }
        resp.json().await.map_err(|e| BffError::IdpUnavailable(format!("JWKS is not valid JSON: {}", e.without_url())))
    }

    /// The key for `kid`, refetching the JWKS once if it is unknown (the IdP may have rotated its keys).
    async fn key_for(&self, kid: Option<&str>) -> Result<jsonwebtoken::jwk::Jwk, BffError> {
        let find = |set: &JwkSet| -> Option<jsonwebtoken::jwk::Jwk> {
            match kid {
                Some(k) => set.find(k).cloned(),
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        if let Some(k) = self.jwks.read().await.as_ref().and_then(find) {
            return Ok(k);
        }
        let miss_key = kid.unwrap_or("").to_string();
        let recently_missed = {
            let mut misses = self.misses.lock().expect("misses lock");
            misses.retain(|_, at| at.elapsed() < JWKS_MISS_TTL);
            misses.contains_key(&miss_key)
        };
        if !recently_missed {
            let set = self.fetch_jwks().await?;
            let found = find(&set);
            *self.jwks.write().await = Some(set);
            if let Some(k) = found {
                return Ok(k);
            }
            self.misses.lock().expect("misses lock").insert(miss_key, Instant::now());
        }
        Err(invalid_id_token("the ID token's signing key is unknown"))
    }

    /// Validates an ID token: signature from the JWKS (asymmetric algorithms only), `iss`, `aud` (and `azp` when
    /// several audiences), `exp` and `iat` with a small skew, `nonce`; and, when given, `c_hash` over the code and
    /// `s_hash` over the state (hybrid flow). Returns the claims.
    pub async fn validate_id_token(
        &self,
        token: &str,
        nonce: &str,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<Map<String, Value>, BffError> {
        let header = decode_header(token).map_err(|_| invalid_id_token("the ID token is malformed"))?;
        let alg = header.alg;
        if !matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
        ) {
            return Err(invalid_id_token("the ID token's algorithm is not allowed"));
        }
        let jwk = self.key_for(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid_id_token("the signing key is unusable"))?;
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.client_id]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.leeway = SKEW_SECS;
        let data = decode::<Map<String, Value>>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            invalid_id_token(match e.kind() {
                InvalidSignature => "the ID token's signature is invalid",
                ExpiredSignature => "the ID token has expired",
                InvalidIssuer => "the ID token's issuer is wrong",
                InvalidAudience => "the ID token's audience is wrong",
                _ => "the ID token is invalid",
            })
        })?;
        let claims = data.claims;

        let now = crate::time::now();
        let iat =
            claims.get("iat").and_then(Value::as_i64).ok_or_else(|| invalid_id_token("the ID token has no iat"))?;
        if iat > now + SKEW_SECS as i64 {
            return Err(invalid_id_token("the ID token is issued in the future"));
        }
        if let Some(Value::Array(auds)) = claims.get("aud")
            && auds.len() > 1
            && claims.get("azp").and_then(Value::as_str) != Some(self.client_id.as_str())
        {
            return Err(invalid_id_token("the ID token's azp is wrong"));
        }
        let got_nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !ct_eq(got_nonce.as_bytes(), nonce.as_bytes()) {
            return Err(invalid_id_token("the ID token's nonce does not match"));
        }
        for (claim, value) in [("c_hash", code), ("s_hash", state)] {
            if let Some(value) = value {
                let expected = half_hash(alg, value);
                let got = claims.get(claim).and_then(Value::as_str).unwrap_or("");
                if !ct_eq(got.as_bytes(), expected.as_bytes()) {
                    return Err(invalid_id_token(if claim == "c_hash" {
                        "the ID token's c_hash does not match the code"
                    } else {
                        "the ID token's s_hash does not match the state"
                    }));
                }
            }
        }
        Ok(claims)
    }
}

fn invalid_id_token(detail: &'static str) -> BffError {
    BffError::LoginFailed { error: "invalid_id_token".into(), detail }
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
