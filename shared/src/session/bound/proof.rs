//! The browser's DBSC proof: a JWT (`typ` `dbsc+jwt`, ES256 only) whose `jti` is our challenge, signed by the
//! session's key. At registration the key comes with it (the header's `jwk`, or the payload's `key` as earlier
//! Chromium builds send it); at refresh it is the key stored with the session. Nothing here prints the proof.

use crate::crypto::b64url_decode;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::Value;

/// A proof whose signature checks out under `key`.
#[derive(Debug)]
pub struct Proof {
    /// The challenge it answers.
    pub jti: String,
    /// The registration header's `authorization`, when it had one.
    pub authorization: Option<String>,
    /// The key it was verified with (an uncompressed P-256 point).
    pub key: Vec<u8>,
}

/// Why a proof was refused (for the log line: never the proof itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Malformed,
    Algorithm,
    NoKey,
    Signature,
}

struct Parts {
    header: Value,
    payload: Value,
    signed: Vec<u8>,
    signature: Vec<u8>,
}

fn parts(raw: &str) -> Result<Parts, Refused> {
    // An sf-string (`"…"`) or the bare token.
    let raw = raw.trim();
    let raw = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    let mut it = raw.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(Refused::Malformed);
    };
    let json = |part: &str| {
        b64url_decode(part).and_then(|b| serde_json::from_slice::<Value>(&b).ok()).filter(Value::is_object)
    };
    Ok(Parts {
        header: json(h).ok_or(Refused::Malformed)?,
        payload: json(p).ok_or(Refused::Malformed)?,
        signed: format!("{h}.{p}").into_bytes(),
        signature: b64url_decode(s).ok_or(Refused::Malformed)?,
    })
}

/// An EC P-256 JWK as an uncompressed point (`04 || x || y`); `None` for anything else.
pub fn jwk_point(jwk: &Value) -> Option<Vec<u8>> {
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return None;
    }
    let coord = |k: &str| jwk[k].as_str().and_then(b64url_decode).filter(|c| c.len() == 32);
    let mut point = vec![4u8];
    point.extend(coord("x")?);
    point.extend(coord("y")?);
    Some(point)
}

/// Verifies `raw` with the key it carries (registration): the key must be a P-256 JWK.
pub fn verify_registration(raw: &str) -> Result<Proof, Refused> {
    let p = parts(raw)?;
    let jwk = if p.header["jwk"].is_object() { &p.header["jwk"] } else { &p.payload["key"] };
    let key = jwk_point(jwk).ok_or(Refused::NoKey)?;
    check(p, key)
}

/// Verifies `raw` with the session's stored key (refresh).
pub fn verify_refresh(raw: &str, key: &[u8]) -> Result<Proof, Refused> {
    check(parts(raw)?, key.to_vec())
}

fn check(p: Parts, key: Vec<u8>) -> Result<Proof, Refused> {
    if p.header["alg"] != "ES256" || !matches!(p.header["typ"].as_str(), None | Some("dbsc+jwt" | "jwt")) {
        return Err(Refused::Algorithm);
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
        .verify(&p.signed, &p.signature)
        .map_err(|_| Refused::Signature)?;
    let jti = p.payload["jti"].as_str().filter(|j| !j.is_empty()).ok_or(Refused::Malformed)?;
    let authorization = p.payload["authorization"].as_str().map(String::from);
    Ok(Proof { jti: jti.to_string(), authorization, key })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::b64url;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    pub(crate) fn key() -> EcdsaKeyPair {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()
    }

    pub(crate) fn jwk(k: &EcdsaKeyPair) -> Value {
        let p = k.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64url(&p[1..33]), "y": b64url(&p[33..])})
    }

    pub(crate) fn sign(k: &EcdsaKeyPair, header: Value, payload: Value) -> String {
        let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(payload.to_string().as_bytes()));
        let sig = k.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64url(sig.as_ref()))
    }

    #[test]
    fn a_registration_proof_verifies_with_the_key_it_carries_and_nothing_else() {
        let k = key();
        let header = json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk(&k)});
        let raw = sign(&k, header.clone(), json!({"jti": "c1", "authorization": "a"}));
        let p = verify_registration(&format!("\"{raw}\"")).unwrap();
        assert_eq!((p.jti.as_str(), p.authorization.as_deref()), ("c1", Some("a")));
        assert_eq!(p.key, k.public_key().as_ref());
        assert!(verify_refresh(&raw, k.public_key().as_ref()).is_ok());
        assert_eq!(verify_refresh(&raw, key().public_key().as_ref()).unwrap_err(), Refused::Signature);
        // Earlier Chromium builds: `typ: jwt`, the key in the payload.
        let old = sign(&k, json!({"alg": "ES256", "typ": "jwt"}), json!({"jti": "c", "key": jwk(&k)}));
        assert!(verify_registration(&old).is_ok());
        // Signed by another key than the one it names.
        let forged = sign(&key(), header, json!({"jti": "c1"}));
        assert_eq!(verify_registration(&forged).unwrap_err(), Refused::Signature);
    }

    #[test]
    fn other_algorithms_and_malformed_proofs_are_refused() {
        let k = key();
        let none = sign(&k, json!({"alg": "none", "jwk": jwk(&k)}), json!({"jti": "c"}));
        assert_eq!(verify_registration(&none).unwrap_err(), Refused::Algorithm);
        let rsa = sign(&k, json!({"alg": "RS256", "jwk": jwk(&k)}), json!({"jti": "c"}));
        assert_eq!(verify_registration(&rsa).unwrap_err(), Refused::Algorithm);
        let no_key = sign(&k, json!({"alg": "ES256"}), json!({"jti": "c"}));
        assert_eq!(verify_registration(&no_key).unwrap_err(), Refused::NoKey);
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(verify_registration(bad).unwrap_err(), Refused::Malformed, "{bad}");
        }
        let no_jti = sign(&k, json!({"alg": "ES256", "jwk": jwk(&k)}), json!({}));
        assert_eq!(verify_registration(&no_jti).unwrap_err(), Refused::Malformed);
    }
}
