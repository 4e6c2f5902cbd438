//! Which API paths may pass: [`ProxyPath`], parsed from the raw request path, and the methods the proxy forwards.

use crate::error::BffError;
use lambda_http::http::Method;

/// A path under the API base that is safe to append to it and falls under the allowlist. Parsing refuses
/// dot-segments, empty segments, backslashes, `@`, encoded `.` `/` `\` `%` (double encoding) and control
/// characters, and anything outside RFC 3986's path characters: what passes is forwarded byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPath(String);

pub const MAX_PATH_LEN: usize = 2048;

impl ProxyPath {
    /// The request's path after `/api/`, as the front door delivered it (still encoded), parsed.
    pub fn of_request(req: &lambda_http::Request, allowlist: &[String]) -> Result<Self, BffError> {
        use lambda_http::RequestExt;
        let raw = req.raw_http_path();
        Self::parse(raw.strip_prefix("/api/").ok_or(BffError::PathNotAllowed)?, allowlist)
    }

    /// `raw` is the request path after `/api/`, exactly as it came on the wire (not decoded).
    pub fn parse(raw: &str, allowlist: &[String]) -> Result<Self, BffError> {
        if raw.is_empty() || raw.len() > MAX_PATH_LEN {
            return Err(BffError::PathNotAllowed);
        }
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'%' => {
                    let hex = bytes.get(i + 1..i + 3).ok_or(BffError::PathNotAllowed)?;
                    let h = std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                    match h {
                        None => return Err(BffError::PathNotAllowed),
                        Some(b'.' | b'/' | b'\\' | b'%' | b'@' | b'?' | b'#') => {
                            return Err(BffError::PathNotAllowed);
                        }
                        Some(v) if v < 0x20 || v == 0x7f => return Err(BffError::PathNotAllowed),
                        Some(_) => {}
                    }
                    i += 3;
                    continue;
                }
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => {}
                b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';'
                | b'=' | b':' => {}
                b'/' => {}
                _ => return Err(BffError::PathNotAllowed),
            }
            i += 1;
        }
        let segments: Vec<&str> = raw.split('/').collect();
        let last = segments.len() - 1;
        for (n, seg) in segments.iter().enumerate() {
            // `..;x` is `..` to some servlet containers: a path parameter does not hide a dot-segment.
            let bare = seg.split(';').next().unwrap_or("");
            if (seg.is_empty() && n != last) || bare == "." || bare == ".." {
                return Err(BffError::PathNotAllowed);
            }
        }
        if !allowlist.iter().any(|prefix| raw.starts_with(prefix.as_str())) {
            return Err(BffError::PathNotAllowed);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const ALLOWED_METHODS: &str = "GET, POST, PATCH, PUT, DELETE";

pub fn check_method(m: &Method) -> Result<(), BffError> {
    match *m {
        Method::GET | Method::POST | Method::PATCH | Method::PUT | Method::DELETE => Ok(()),
        _ => Err(BffError::MethodNotAllowed { allow: ALLOWED_METHODS }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Vec<String> {
        vec!["domain/odata/".into()]
    }

    #[test]
    fn allows_odata_paths() {
        for ok in [
            "domain/odata/Crm_Sales_Customers",
            "domain/odata/",
            "domain/odata/$metadata",
            "domain/odata/Crm_Sales_Customers(2b8e1f3a-0000-4000-8000-000000000001)",
            "domain/odata/Crm_Sales_Customers('a%20b')",
            "domain/odata/Crm_Sales_SalesOrders(1)/ChangeState",
        ] {
            assert!(ProxyPath::parse(ok, &allow()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_traversal_and_tricks() {
        for bad in [
            "",
            "domain/odata/../../secret",
            "domain/odata/%2e%2e/x",
            "domain/odata/%2E%2E/x",
            "domain/odata/..%2fx",
            "domain/odata/%2fetc",
            "domain/odata/%5cx",
            "domain/odata\\..\\x",
            "domain/odata/%252e%252e/x",
            "domain/odata//x",
            "domain/odata/./x",
            "http://evil/domain/odata/",
            "//evil/domain/odata/",
            "domain/odata/x@evil",
            "domain/odata/%40",
            "domain/other/x",
            "Domain/OData/x",
            "domain/odata/%",
            "domain/odata/%zz",
            "domain/odata/%00",
            "domain/odata/a b",
            "domain/odata/\u{2025}",
            "admin",
            "domain/odata/x%0d%0aHost:evil",
            "domain/odata/..;/x",
            "domain/odata/.;x/y",
            "domain/odata/x\"",
            "domain/odata/x<",
            "domain/odata/%3f",
            "domain/odata/%23",
        ] {
            assert!(ProxyPath::parse(bad, &allow()).is_err(), "accepted {bad:?}");
        }
        assert!(ProxyPath::parse(&format!("domain/odata/{}", "a".repeat(3000)), &allow()).is_err());
    }
}
