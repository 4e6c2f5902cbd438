//! `proxy::batch::check_body`, both formats: any body is answered (accepted, `path_not_allowed` or
//! `invalid_batch`) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::proxy::batch::{Scope, check_body};

fuzz_target!(|data: &[u8]| {
    let allowlist = ["domain/odata/".to_string()];
    let scope = Scope { base: "https://erp.example/api", root: "domain/odata/", allowlist: &allowlist };
    for content_type in ["application/json", "multipart/mixed; boundary=b"] {
        if let Err(e) = check_body(content_type, data, &scope) {
            assert!(matches!(e.code(), "path_not_allowed" | "invalid_batch"), "{}", e.code());
        }
    }
});
