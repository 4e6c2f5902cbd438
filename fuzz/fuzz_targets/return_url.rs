//! `ReturnUrl::parse` on arbitrary UTF-8: whatever it accepts is a path on this origin, at every level of
//! percent-decoding, and `with_param` keeps it one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::login::return_url::ReturnUrl;

/// A browser (or a router in front of the SPA) reading this as something other than a local path.
fn leaves_origin(b: &[u8]) -> bool {
    b.starts_with(b"//") || b.starts_with(b"/\\")
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    // The tail after the first NUL (if any) is the value given to `with_param`.
    let (raw, value) = raw.split_once('\0').unwrap_or((raw, "access_denied"));
    let Some(u) = ReturnUrl::parse(raw) else { return };
    let s = u.as_str();
    assert_eq!(s, raw, "parse must not rewrite the path");
    assert!(s.starts_with('/'), "{s:?}");
    assert!(!leaves_origin(s.as_bytes()), "{s:?}");
    assert!(!s.bytes().any(|b| b.is_ascii_control() || b == b'\\'), "{s:?}");

    // Percent-decode until nothing changes (each round that changes it is strictly shorter, so this ends).
    let mut cur: Vec<u8> = s.as_bytes().to_vec();
    let mut rounds = 0;
    loop {
        let next: Vec<u8> = percent_encoding::percent_decode(&cur).collect();
        if next == cur {
            break;
        }
        rounds += 1;
        assert!(!leaves_origin(&next), "{s:?} decodes ({rounds}x) to {:?}", String::from_utf8_lossy(&next));
        cur = next;
    }

    let with = u.with_param("login_error", value);
    assert!(with.starts_with(s.split('#').next().unwrap()), "{with:?}");
    assert!(!leaves_origin(with.as_bytes()), "{with:?}");
    assert!(!with.bytes().any(|b| b.is_ascii_control() || b == b'\\' || b == b' ' || !b.is_ascii()), "{with:?}");
});
