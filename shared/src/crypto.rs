//! Small, named wrappers over aws-lc-rs: randomness, hashing, key derivation, AES-256-GCM sealing.
//!
//! Nothing here logs or formats secret material.

use aws_lc_rs::{aead, digest, hmac, rand::SecureRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `Debug` for a secret-holding newtype: prints `Name(..)`, never the value (tokens, `state`, `nonce`, verifier).
#[macro_export]
macro_rules! redacted_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

/// `N` bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut out).expect("system RNG failed");
    out
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A purpose-bound 32-byte value derived from a secret: HMAC-SHA256(secret, label).
/// Different labels give independent keys (store key, encryption key, logout token, …).
pub fn derive(secret: &[u8], label: &str) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, label.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Constant-time equality.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
#[error("sealed data could not be opened")]
pub struct OpenError;

/// AES-256-GCM: `nonce || ciphertext || tag`, with `aad` bound in.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).expect("key length"));
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce_bytes), aead::Aad::from(aad), &mut buf)
        .expect("seal");
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&buf);
    out
}

pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < NONCE_LEN + aead::AES_256_GCM.tag_len() {
        return Err(OpenError);
    }
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| OpenError)?);
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
    let mut buf = ct.to_vec();
    let plain = key.open_in_place(nonce, aead::Aad::from(aad), &mut buf).map_err(|_| OpenError)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_key_and_aad() {
        let k = random_bytes::<32>();
        let sealed = seal(&k, b"pk-1", b"refresh-token-value");
        assert!(!sealed.windows(5).any(|w| w == b"refre"));
        assert_eq!(open(&k, b"pk-1", &sealed).unwrap(), b"refresh-token-value");
        assert!(open(&k, b"pk-2", &sealed).is_err());
        assert!(open(&random_bytes::<32>(), b"pk-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(open(&k, b"pk-1", &tampered).is_err());
        assert!(open(&k, b"pk-1", &sealed[..10]).is_err());
    }

    #[test]
    fn derive_is_label_separated() {
        let s = b"secret";
        assert_ne!(derive(s, "a"), derive(s, "b"));
        assert_eq!(derive(s, "a"), derive(s, "a"));
    }
}
