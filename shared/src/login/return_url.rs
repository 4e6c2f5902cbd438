//! [`ReturnUrl`]: where to send the browser after sign-in or sign-out. It can only ever be a path on this origin.

use percent_encoding::percent_decode_str;

const MAX_LEN: usize = 2048;

/// A local path like `/orders?id=7#top`. Parsing refuses anything a browser could read as another origin:
/// `//host`, `/\host`, schemes, control characters, backslashes, non-ASCII, and any of these hidden behind
/// (repeated) percent-encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    pub fn root() -> Self {
        Self("/".into())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > MAX_LEN || !is_local_path(raw) {
            return None;
        }
        // Whatever decodes out of it must be just as local: `/%2F%2Fevil` is `//evil` to some router.
        // Decode until nothing changes (each change shortens the string, so this ends): however many times some
        // router decodes it, it stays local. (Found by fuzzing: a fixed number of rounds let `/%252525252F` through.)
        let mut current = raw.to_string();
        loop {
            let decoded = percent_decode_str(&current).decode_utf8_lossy().into_owned();
            if decoded == current {
                break;
            }
            if !is_local_path_decoded(&decoded) {
                return None;
            }
            current = decoded;
        }
        Some(Self(raw.to_string()))
    }

    /// Parses, falling back to `/` for anything missing or unsafe.
    pub fn parse_or_root(raw: Option<&str>) -> Self {
        raw.and_then(Self::parse).unwrap_or_else(Self::root)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This path with `key=value` added to its query (before any fragment), value percent-encoded.
    pub fn with_param(&self, key: &str, value: &str) -> String {
        let (path, frag) = match self.0.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (self.0.as_str(), None),
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        let enc: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        match frag {
            Some(f) => format!("{path}{sep}{key}={enc}#{f}"),
            None => format!("{path}{sep}{key}={enc}"),
        }
    }
}

fn is_local_path(s: &str) -> bool {
    s.starts_with('/') && !s.starts_with("//") && s.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'\\')
}

fn is_local_path_decoded(s: &str) -> bool {
    s.starts_with('/')
        && !s.starts_with("//")
        && !s.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace() && c != ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_local_paths() {
        for ok in ["/", "/orders", "/a/b?x=1&y=%20z#frag", "/search?q=a%2Fb", "/x/../y"] {
            assert_eq!(ReturnUrl::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_anything_that_can_leave_the_origin() {
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/%2F%2Fevil.example",
            "/%2fevil",
            "%2F%2Fevil",
            "/%5Cevil",
            "/%252F%252Fevil",
            "/ok\r\nSet-Cookie: x=1",
            "/ok%0d%0aSet-Cookie:x",
            "/tab\there",
            "/\u{ff0f}evil",
            "/a b",
            "/%00",
            "data:text/html,x",
        ] {
            assert!(ReturnUrl::parse(bad).is_none(), "accepted {bad:?}");
        }
        assert!(ReturnUrl::parse(&format!("/{}", "a".repeat(3000))).is_none());
    }

    #[test]
    fn falls_back_to_root() {
        assert_eq!(ReturnUrl::parse_or_root(Some("//evil")).as_str(), "/");
        assert_eq!(ReturnUrl::parse_or_root(None).as_str(), "/");
    }

    #[test]
    fn adds_params_before_fragment() {
        let r = ReturnUrl::parse("/a?x=1#f").unwrap();
        assert_eq!(r.with_param("login_error", "access_denied"), "/a?x=1&login_error=access_denied#f");
        assert_eq!(ReturnUrl::root().with_param("k", "a b"), "/?k=a+b");
    }
}
