//! `http::params::Params` on an arbitrary callback query / form body, the parameters the callback reads, and the store
//! key of the `state`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::http::params::Params;

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    for name in ["state", "code", "iss", "error"] {
        let n = url::form_urlencoded::parse(data).filter(|(k, _)| k == name).count();
        match params.single(name) {
            Ok(None) => assert_eq!(n, 0, "{name}"),
            Ok(Some(v)) => {
                assert_eq!(n, 1, "{name}");
                if name == "state" {
                    let key = shared::idp::pkce::state_store_key(v);
                    assert!(key.starts_with("login#") && key.len() == "login#".len() + 43, "{key:?}");
                }
            }
            Err(_) => assert!(n > 1, "{name}"),
        }
    }
    // The error description and session state reach logs/redirects only via these; reading them must not panic.
    let _ = params.single("error_description");
    let _ = params.single("session_state");
});
