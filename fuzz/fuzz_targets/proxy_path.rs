//! `ProxyPath::parse`: whatever it accepts stays under the allowlisted prefix, carries no traversal or encoded
//! trick, and appended to the API base it keeps the host and is not normalised by a URL parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::proxy::path::ProxyPath;

const PREFIX: &str = "domain/odata/";

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let allow = [PREFIX.to_string()];
    let Ok(p) = ProxyPath::parse(raw, &allow) else { return };
    let s = p.as_str();
    assert_eq!(s, raw, "parse must not rewrite the path");
    assert!(s.starts_with(PREFIX), "{s:?}");
    // Dot-segments (a `..` inside a name like `a..b` is no traversal; see the report).
    assert!(!s.split('/').any(|seg| seg == "." || seg == ".."), "{s:?}");
    for bad in ["//", "\\", "@"] {
        assert!(!s.contains(bad), "{s:?} contains {bad:?}");
    }
    let lower = s.to_ascii_lowercase();
    for bad in ["%2e", "%2f", "%5c", "%25"] {
        assert!(!lower.contains(bad), "{s:?} contains {bad:?}");
    }
    assert!(!s.bytes().any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii()), "{s:?}");

    let full = format!("https://erp.example/api/{s}");
    let url = url::Url::parse(&full).unwrap_or_else(|e| panic!("{full:?} does not parse: {e}"));
    assert_eq!(url.host_str(), Some("erp.example"), "{full:?}");
    assert!(url.username().is_empty() && url.password().is_none() && url.port().is_none(), "{full:?}");
    assert!(url.path().starts_with("/api/domain/odata/"), "{full:?} -> {:?}", url.path());
    // What passes is forwarded byte for byte: a URL parser must find nothing to normalise either.
    assert_eq!(url.path(), format!("/api/{s}"), "{full:?}");
    assert!(url.query().is_none() && url.fragment().is_none(), "{full:?}");
});
