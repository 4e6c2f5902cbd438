//! `proxy::batch::check_body`, both formats: any body is answered (accepted, `path_not_allowed` or
//! `invalid_batch`) without a panic, and a body that passes is rebuilt into one that passes again with the same
//! inner requests (what is forwarded is what was checked). The dictionary (fuzz/dict/batch.dict) holds the pieces
//! of the smuggling cases: delimiters inside lines, bare CRs, other whitespace, JSON members in other cases.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::proxy::batch::{Scope, check_body};

fuzz_target!(|data: &[u8]| {
    let allowlist = ["domain/odata/".to_string()];
    let scope = Scope { base: "https://erp.example/api", root: "domain/odata/", allowlist: &allowlist };
    for content_type in ["application/json", "multipart/mixed; boundary=b"] {
        match check_body(content_type, data, &scope) {
            Ok(checked) => {
                let again = check_body(&checked.content_type, &checked.body, &scope).expect("the rebuilt body passes");
                assert_eq!(again.requests, checked.requests);
                assert_eq!(again.body.len(), checked.body.len());
            }
            Err(e) => assert!(matches!(e.code(), "path_not_allowed" | "invalid_batch"), "{}", e.code()),
        }
    }
});
