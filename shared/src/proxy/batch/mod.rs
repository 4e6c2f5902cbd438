//! OData `$batch` bodies: every inner request's URL must pass the same checks as the outer path ([`ProxyPath`]:
//! normalised, under the allowlist, on the API's host), or nothing is forwarded. Both formats: the JSON batch
//! (OData 4.01, [`json`]) and `multipart/mixed` with `application/http` parts and changesets (OData 4.0,
//! [`multipart`]). An inner URL is absolute (under the API base), absolute-path (under the base's path) or
//! relative to the batch's service root (the batch path without its `$batch` segment). A foreign host or a path
//! outside the allowlist is `path_not_allowed`; a body that cannot be read is `invalid_batch`.
//!
//! Forward only what was checked: a body in which ERP.net's reader (Microsoft.OData) could find anything other
//! than what this module read is refused, and what passes is not forwarded as the browser sent it but rebuilt
//! from the parsed requests ([`Checked::body`]: multipart with CRLF and a boundary of our own, JSON re-emitted
//! from the parsed values). The rules are listed in docs/batch.md.

mod json;
mod multipart;

use super::path::ProxyPath;
use crate::error::BffError;
use crate::instance::Api;
use lambda_http::http::{HeaderMap, Method, header};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// At most this many parts (inner requests or changesets) in one batch or one changeset.
pub const MAX_PARTS: usize = 1000;

/// One inner request as this module read and checked it (its method, upper case, and its URL as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerRequest {
    pub method: String,
    pub url: String,
}

/// A batch that passed: the inner requests that were checked, in order, and the body to forward in place of the
/// browser's, with its media type.
#[derive(Debug, Clone)]
pub struct Checked {
    pub requests: Vec<InnerRequest>,
    pub body: Vec<u8>,
    pub content_type: String,
}

/// What inner URLs are checked against.
pub struct Scope<'a> {
    /// The API base, without a trailing slash (`https://x.my.erp.net/api`).
    pub base: &'a str,
    /// The batch's service root below the API base, where relative URLs resolve (`domain/odata/`).
    pub root: &'a str,
    pub allowlist: &'a [String],
}

/// Checks the body of a `POST …/$batch` against the request's instance's API (its base and allowlist): the
/// canonical body to forward instead. Any other request passes untouched (`None`: forward it as it is).
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    path: &ProxyPath,
    body: &[u8],
    api: &Api,
) -> Result<Option<Checked>, BffError> {
    let Some(root) = batch_root(method, path.as_str()) else { return Ok(None) };
    let scope = Scope { base: api.base.as_str(), root, allowlist: &api.allowlist };
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    match (types.next().and_then(|v| v.to_str().ok()), types.next()) {
        (Some(content_type), None) => check_body(content_type, body, &scope).map(Some),
        _ => Err(BffError::InvalidBatch("A $batch request needs exactly one Content-Type.")),
    }
}

/// Checks a batch body by its media type: `application/json` or `multipart/mixed`, nothing else (and no charset
/// but UTF-8: the canonical body is UTF-8).
pub fn check_body(content_type: &str, body: &[u8], scope: &Scope) -> Result<Checked, BffError> {
    if !charset_is_utf8(content_type) {
        return Err(BffError::InvalidBatch("A $batch body must be UTF-8."));
    }
    match essence(content_type).as_str() {
        "application/json" => json::check(content_type, body, scope),
        "multipart/mixed" => multipart::check(content_type, body, scope),
        _ => Err(BffError::InvalidBatch("A $batch body must be application/json or multipart/mixed.")),
    }
}

/// No `charset` parameter, or `utf-8`.
fn charset_is_utf8(content_type: &str) -> bool {
    content_type.split(';').skip(1).filter_map(|p| p.split_once('=')).all(|(name, value)| {
        !name.trim().eq_ignore_ascii_case("charset") || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

/// The media type without parameters, lower-cased.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// The service root (the path up to and including the last `/` before `$batch`) of a POST to `$batch`.
fn batch_root<'a>(method: &Method, raw: &'a str) -> Option<&'a str> {
    if method != Method::POST {
        return None;
    }
    let trimmed = raw.trim_end_matches('/');
    let cut = trimmed.rfind('/').map_or(0, |i| i + 1);
    is_batch_segment(&trimmed[cut..]).then(|| &raw[..cut])
}

/// `$batch`, also percent-encoded (`%24batch`), with a path parameter, or in another case: whatever the API
/// might route to its batch handler is treated as a batch.
fn is_batch_segment(segment: &str) -> bool {
    let bare = segment.split(';').next().unwrap_or("");
    percent_decode_str(bare).decode_utf8_lossy().eq_ignore_ascii_case("$batch")
}

/// Header names are RFC 9110 tokens: nothing another reader could trim, fold or read as a different name.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value: no control character but HT, no whitespace but SP and HT (another reader trims Unicode
/// whitespace), no leading or trailing SP/HT (trimmed by the caller).
fn is_clean_value(value: &str) -> bool {
    value.chars().all(|c| c == ' ' || c == '\t' || !(c.is_control() || c.is_whitespace()))
}

/// The methods an inner request may use (the outer proxy's).
fn check_method(method: &str) -> Result<(), BffError> {
    match method {
        "GET" | "POST" | "PATCH" | "PUT" | "DELETE" => Ok(()),
        _ => Err(BffError::InvalidBatch("An inner request's method is not one the BFF forwards.")),
    }
}

/// Whether `url` starts with a URI scheme (`http:`, `javascript:` …), i.e. is an absolute URI.
fn has_scheme(url: &str) -> bool {
    let Some(colon) = url.find(':') else { return false };
    let scheme = &url[..colon];
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn strip_prefix_ci<'u>(s: &'u str, prefix: &str) -> Option<&'u str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

impl Scope<'_> {
    /// `host[:port]` of the API base.
    fn authority(&self) -> &str {
        let after = self.base.split_once("://").map_or(self.base, |(_, a)| a);
        after.split('/').next().unwrap_or(after)
    }

    /// The API base's path (`/api`, or empty).
    fn base_path(&self) -> &str {
        let after = self.base.split_once("://").map_or(self.base, |(_, a)| a);
        after.find('/').map_or("", |i| &after[i..])
    }

    /// An inner `Host` header must name the API's host.
    fn check_host(&self, host: &str) -> Result<(), BffError> {
        if host.trim().eq_ignore_ascii_case(self.authority()) { Ok(()) } else { Err(BffError::PathNotAllowed) }
    }

    /// An inner URL: resolved to a path below the API base, then parsed exactly as the outer path is.
    fn check_url(&self, url: &str) -> Result<(), BffError> {
        if url.is_empty() || url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(BffError::PathNotAllowed);
        }
        let below_base: Cow<str> = if has_scheme(url) {
            strip_prefix_ci(url, self.base).and_then(|r| r.strip_prefix('/')).ok_or(BffError::PathNotAllowed)?.into()
        } else if url.starts_with("//") {
            return Err(BffError::PathNotAllowed);
        } else if url.starts_with('/') {
            let base_path = self.base_path();
            url.strip_prefix(base_path).and_then(|r| r.strip_prefix('/')).ok_or(BffError::PathNotAllowed)?.into()
        } else {
            format!("{}{url}", self.root).into()
        };
        let path = below_base.split(['?', '#']).next().unwrap_or("");
        if below_base[path.len()..].starts_with('#') {
            return Err(BffError::PathNotAllowed);
        }
        let path = ProxyPath::parse(path, self.allowlist)?;
        if batch_root(&Method::POST, path.as_str()).is_some() {
            return Err(BffError::InvalidBatch("A batch cannot hold another batch."));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://x.my.erp.net/api";

    fn allow() -> Vec<String> {
        vec!["domain/odata/".into()]
    }

    fn check_with(content_type: &str, body: &str) -> Result<Checked, BffError> {
        let allowlist = allow();
        let scope = Scope { base: BASE, root: "domain/odata/", allowlist: &allowlist };
        check_body(content_type, body.as_bytes(), &scope)
    }

    fn json(url: &str) -> Result<Checked, BffError> {
        let body = serde_json::json!({"requests": [
            {"id": "1", "method": "GET", "url": "Crm_Sales_Customers?$top=1"},
            {"id": "2", "method": "GET", "url": url},
        ]});
        check_with("application/json", &body.to_string())
    }

    const MP: &str = "multipart/mixed; boundary=batch_1";

    fn part(url: &str) -> String {
        format!(
            "--batch_1\r\nContent-Type: application/http\r\n\r\nGET {url} HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
        )
    }

    fn multipart(url: &str) -> Result<Checked, BffError> {
        check_with(MP, &format!("{}{}--batch_1--\r\n", part("Crm_Sales_Customers"), part(url)))
    }

    fn code<T>(r: Result<T, BffError>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    const GOOD: &[&str] = &[
        "Crm_Sales_Customers",
        "Crm_Sales_Customers?$top=2&$filter=Name%20eq%20'a:b'",
        "General_Products_Products(2b8e1f3a-0000-4000-8000-000000000001)",
        "https://x.my.erp.net/api/domain/odata/Crm_Sales_Customers",
        "HTTPS://X.MY.ERP.NET/api/domain/odata/Crm_Sales_Customers",
        "/api/domain/odata/Crm_Sales_Customers?$top=1",
        "$1/Name",
    ];

    const FOREIGN_OR_ESCAPING: &[&str] = &[
        "https://evil.example/api/domain/odata/Crm_Sales_Customers",
        "https://x.my.erp.net.evil.example/api/domain/odata/Crm_Sales_Customers",
        "https://x.my.erp.net@evil.example/api/domain/odata/x",
        "//evil.example/api/domain/odata/Crm_Sales_Customers",
        "../../secret",
        "../admin/x",
        "%2e%2e/%2e%2e/secret",
        "..%2fsecret",
        "./Crm_Sales_Customers",
        "Crm_Sales_Customers/../../../id/connect/token",
        "/id/connect/token",
        "/api/admin",
        "https://x.my.erp.net/api/admin",
        "https://x.my.erp.net/api",
        "file:///etc/passwd",
        "Crm_Sales_Customers#x",
        "Crm\\..\\x",
    ];

    #[test]
    fn a_batch_is_a_post_to_a_batch_segment() {
        let p = |s: &str| ProxyPath::parse(s, &allow()).unwrap();
        assert_eq!(batch_root(&Method::POST, p("domain/odata/$batch").as_str()), Some("domain/odata/"));
        assert_eq!(batch_root(&Method::POST, p("domain/odata/$batch/").as_str()), Some("domain/odata/"));
        assert_eq!(batch_root(&Method::POST, p("domain/odata/%24batch").as_str()), Some("domain/odata/"));
        assert_eq!(batch_root(&Method::POST, p("domain/odata/$Batch;x=1").as_str()), Some("domain/odata/"));
        assert_eq!(batch_root(&Method::GET, p("domain/odata/$batch").as_str()), None);
        assert_eq!(batch_root(&Method::POST, p("domain/odata/Crm_Sales_Customers").as_str()), None);
        assert_eq!(batch_root(&Method::POST, p("domain/odata/$batchx").as_str()), None);
    }

    #[test]
    fn a_batch_needs_exactly_one_content_type() {
        let proxy = Api { base: crate::config::BaseUrl::parse("API_BASE", BASE).unwrap(), allowlist: allow() };
        let path = ProxyPath::parse("domain/odata/$batch", &allow()).unwrap();
        let body = br#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers"}]}"#;
        let run = |types: &[&str]| {
            let mut headers = HeaderMap::new();
            for t in types {
                headers.append(header::CONTENT_TYPE, t.parse().unwrap());
            }
            code(check(&Method::POST, &headers, &path, body, &proxy))
        };
        assert_eq!(run(&["application/json"]), "ok");
        assert_eq!(run(&[]), "invalid_batch");
        assert_eq!(run(&["application/json", "multipart/mixed; boundary=x"]), "invalid_batch");
        let other = ProxyPath::parse("domain/odata/Crm_Sales_Customers", &allow()).unwrap();
        assert_eq!(code(check(&Method::POST, &HeaderMap::new(), &other, b"anything", &proxy)), "ok");
    }

    #[test]
    fn json_batches_pass_with_urls_under_the_allowlist() {
        for url in GOOD {
            assert_eq!(code(json(url)), "ok", "{url}");
        }
    }

    #[test]
    fn json_batches_with_a_foreign_or_escaping_url_are_refused() {
        for url in FOREIGN_OR_ESCAPING {
            assert_eq!(code(json(url)), "path_not_allowed", "{url}");
        }
    }

    #[test]
    fn multipart_batches_pass_with_urls_under_the_allowlist() {
        for url in GOOD {
            assert_eq!(code(multipart(url)), "ok", "{url}");
        }
        let lf_only = format!("{}--batch_1--", part("Crm_Sales_Customers")).replace("\r\n", "\n");
        assert_eq!(code(check_with(MP, &lf_only)), "ok");
        let quoted = format!("preamble\r\n{}--batch_1--\r\nepilogue", part("Crm_Sales_Customers"));
        assert_eq!(code(check_with("multipart/mixed; boundary=\"batch_1\"", &quoted)), "ok");
        let no_blank_line =
            "--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n--batch_1--";
        assert_eq!(code(check_with(MP, no_blank_line)), "ok");
    }

    #[test]
    fn multipart_batches_with_a_foreign_or_escaping_url_are_refused() {
        for url in FOREIGN_OR_ESCAPING {
            if url.contains(' ') {
                continue;
            }
            assert_eq!(code(multipart(url)), "path_not_allowed", "{url}");
        }
    }

    #[test]
    fn a_foreign_host_header_is_refused_in_both_formats() {
        let mp = "--batch_1\r\nContent-Type: application/http\r\n\r\nGET /api/domain/odata/Crm_Sales_Customers HTTP/1.1\r\nHost: evil.example\r\n\r\n\r\n--batch_1--";
        assert_eq!(code(check_with(MP, mp)), "path_not_allowed");
        assert_eq!(code(check_with(MP, &mp.replace("evil.example", "x.my.erp.net"))), "ok");
        let js = r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","headers":{"host":"x.my.erp.net","Host":"evil.example"}}]}"#;
        assert_eq!(code(check_with("application/json", js)), "path_not_allowed");
    }

    #[test]
    fn multipart_changesets_are_checked_and_do_not_nest() {
        let changeset = |url: &str| {
            format!(
                "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs_1\r\n\r\n--cs_1\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPATCH {url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{\"Name\":\"x\"}}\r\n--cs_1--\r\n--batch_1--\r\n"
            )
        };
        assert_eq!(code(check_with(MP, &changeset("Crm_Sales_Customers(1)"))), "ok");
        assert_eq!(code(check_with(MP, &changeset("../../secret"))), "path_not_allowed");
        assert_eq!(code(check_with(MP, &changeset("https://evil.example/x"))), "path_not_allowed");
        let nested = "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs_1\r\n\r\n--cs_1\r\nContent-Type: multipart/mixed; boundary=cs_2\r\n\r\n--cs_2\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n--cs_2--\r\n--cs_1--\r\n--batch_1--";
        assert_eq!(code(check_with(MP, nested)), "invalid_batch");
    }

    #[test]
    fn unreadable_multipart_bodies_are_refused() {
        let ok = format!("{}--batch_1--", part("Crm_Sales_Customers"));
        for (content_type, body) in [
            ("multipart/mixed", ok.clone()),
            ("multipart/mixed; boundary=", ok.clone()),
            ("multipart/mixed; boundary=a; boundary=batch_1", ok.clone()),
            ("multipart/mixed; boundary=bad\"quote", ok.clone()),
            ("multipart/mixed; boundary=other", ok.clone()),
            (MP, part("Crm_Sales_Customers")),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\n\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\nCrm_Sales_Customers\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\nGET  Crm_Sales_Customers HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers FTP/1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\nTRACE Crm_Sales_Customers HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: text/plain\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n X-Folded: x\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\nContent-Type: application/http\r\n\r\nGET x HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\nX\rHost: evil\r\n\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\n\r\nPOST $batch HTTP/1.1\r\n--batch_1--".into()),
            (MP, "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n\r\nR0VUIGh0dHBzOi8vZXZpbC8gSFRUUC8xLjE=\r\n--batch_1--".into()),
            ("text/plain", ok.clone()),
        ] {
            assert_eq!(code(check_with(content_type, &body)), "invalid_batch", "{content_type} {body:?}");
        }
    }

    #[test]
    fn unreadable_json_bodies_are_refused() {
        for body in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"requests":{}}"#,
            r#"{"requests":[{"id":"1","method":"GET","url":42}]}"#,
            r#"{"requests":[{"id":"1","method":"GET"}]}"#,
            r#"{"requests":[{"id":"1","url":"Crm_Sales_Customers"}]}"#,
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","url":"https://evil.example/"}]}"#,
            r#"{"requests":[{"id":"1","method":"OPTIONS","url":"Crm_Sales_Customers"}]}"#,
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","headers":{"Host":1}}]}"#,
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","headers":[]}]}"#,
            r#"{"requests":[{"id":"1","method":"POST","url":"$batch"}]}"#,
        ] {
            assert_eq!(code(check_with("application/json", body)), "invalid_batch", "{body}");
        }
        // A deep `body` is skipped without recursion (no stack to exhaust); a deep `url` is not a string.
        let deep = |member: &str| {
            let nested = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
            format!(r#"{{"requests":[{{"method":"GET","url":"Crm_Sales_Customers",{member}:{nested}}}]}}"#)
        };
        assert_eq!(code(check_with("application/json", &deep("\"body\""))), "ok");
        assert_eq!(code(check_with("application/json", &deep("\"url\""))), "invalid_batch");
    }

    #[test]
    fn batches_are_bounded() {
        let many = format!("{}--batch_1--", part("Crm_Sales_Customers").repeat(MAX_PARTS + 1));
        assert_eq!(code(check_with(MP, &many)), "invalid_batch");
        let one = r#"{"method":"GET","url":"Crm_Sales_Customers"}"#;
        let many = format!("{{\"requests\":[{}]}}", vec![one; MAX_PARTS + 1].join(","));
        assert_eq!(code(check_with("application/json", &many)), "invalid_batch");
    }

    fn check_bytes(content_type: &str, body: &[u8]) -> Result<Checked, BffError> {
        let allowlist = allow();
        let scope = Scope { base: BASE, root: "domain/odata/", allowlist: &allowlist };
        check_body(content_type, body, &scope)
    }

    /// What Microsoft.OData would read differently from a plain line-by-line reader: refused, every one.
    pub(crate) const SMUGGLED_MULTIPART: &[&[u8]] = &[
        // A delimiter without a line break before it, after a bare CR, or with other whitespace after it.
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\n\r\nx--batch_1\r\nContent-Type: application/http\r\n\r\nGET /api/domain/standardmodel HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\n\r\nx\r--batch_1\r\nContent-Type: application/http\r\n\r\nGET /api/domain/standardmodel HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\n\r\nx\r\n--batch_1\x0b\r\nContent-Type: application/http\r\n\r\nGET /api/domain/standardmodel HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\n\r\nx\r\n--batch_1\xa0\r\nContent-Type: application/http\r\n\r\nGET /api/domain/standardmodel HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\n\r\nx\r\n--batch_1\x85\r\n--batch_1--\r\n",
        b"--batch_1 \x0c\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        // A bare CR in a request line or in headers.
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\rHost:evil.example\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\nX: a\rContent-Type: text/plain\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\nAccept: x\rHost: evil.example\r\n\r\n\r\n--batch_1--\r\n",
        // A header name another reader trims, a repeated header, a body length that reaches into the next part.
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\nHost\xc2\xa0: evil.example\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\nAccept: a\r\naccept: b\r\n\r\n\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\nContent-Length: 90\r\n\r\nx\r\n--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n",
        // A changeset boundary that starts with the batch's; a GET or no Content-ID in a changeset; HTTP/1.0.
        b"--batch_1\r\nContent-Type: multipart/mixed; boundary=batch_1x\r\n\r\n--batch_1x\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nDELETE Crm_Sales_Customers(1) HTTP/1.1\r\n\r\n\r\n--batch_1x--\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\n\r\n\r\n--cs--\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\n\r\nDELETE Crm_Sales_Customers(1) HTTP/1.1\r\n\r\n\r\n--cs--\r\n--batch_1--\r\n",
        b"--batch_1\r\nContent-Type: application/http\r\n\r\nGET Crm_Sales_Customers HTTP/1.0\r\n\r\n\r\n--batch_1--\r\n",
    ];

    pub(crate) const SMUGGLED_JSON: &[&str] = &[
        r#"{"Requests":[{"method":"GET","url":"/api/domain/standardmodel"}],"requests":[{"method":"GET","url":"Crm_Sales_Customers"}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers"}],"Requests":[{"method":"GET","url":"/api/domain/standardmodel"}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","URL":"/api/domain/standardmodel"}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","headerſ":{"Host":"evil.example"}}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","Url ":"x"}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","status":200}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","headers":{"Accept":"a","ACCEPT":"b"}}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","headers":{"Host\u00a0":"evil.example"}}]}"#,
        r#"{"requests":[{"method":"GET","url":"Crm_Sales_Customers","headers":{"Host":"x.my.erp.net\u000bevil"}}]}"#,
        r#"{requests:[{method:'GET',url:'Crm_Sales_Customers'}]}"#,
    ];

    #[test]
    fn smuggled_multipart_requests_are_refused() {
        for body in SMUGGLED_MULTIPART {
            let r = check_bytes(MP, body);
            assert!(matches!(code(r), "invalid_batch" | "path_not_allowed"), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn smuggled_json_requests_are_refused() {
        for body in SMUGGLED_JSON {
            assert!(
                matches!(code(check_with("application/json", body)), "invalid_batch" | "path_not_allowed"),
                "{body}"
            );
        }
        // A header member in another case is read, and its Host checked.
        let other_case =
            r#"{"requests":[{"Method":"get","URL":"Crm_Sales_Customers","Headers":{"Host":"evil.example"}}]}"#;
        assert_eq!(code(check_with("application/json", other_case)), "path_not_allowed");
    }

    #[test]
    fn what_is_forwarded_is_rebuilt_from_what_was_checked() {
        let body = "preamble\n--batch_1 \nContent-Type: application/http\nContent-ID: 7\nX-Other: dropped\n\nGET Crm_Sales_Customers?$top=1 HTTP/1.1\nAccept: application/json\n\n\n--batch_1\nContent-Type: multipart/mixed; boundary=cs\n\n--cs\nContent-Type: application/http\nContent-ID: 1\n\nPATCH Crm_Sales_Customers(1) HTTP/1.1\nContent-Type: application/json\nContent-Length: 9\n\n{\"a\":1.0}\n--cs--\n--batch_1--\nepilogue";
        let c = check_with(MP, body).unwrap();
        let boundary = c.content_type.strip_prefix("multipart/mixed; boundary=").unwrap().to_string();
        assert!(boundary.starts_with("batch_"), "{boundary}");
        let text = String::from_utf8(c.body.clone()).unwrap();
        let cs = text.split("boundary=").nth(1).unwrap().split("\r\n").next().unwrap().to_string();
        let expected = format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 7\r\n\r\nGET Crm_Sales_Customers?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--{boundary}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPATCH Crm_Sales_Customers(1) HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{{\"a\":1.0}}\r\n--{cs}--\r\n--{boundary}--\r\n"
        );
        assert_eq!(text, expected);
        let methods: Vec<&str> = c.requests.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["GET", "PATCH"]);
        // Read again, the rebuilt body is the same requests, rebuilt alike (with other boundaries, as long).
        let again = check_bytes(&c.content_type, &c.body).unwrap();
        assert_eq!((again.requests, again.body.len()), (c.requests, c.body.len()));

        let js = r#" { "REQUESTS" : [ {"ID":"1","Method":"get","Url":"Crm_Sales_Customers","Headers":{"Accept":"application/json"},"Body":{"n":12345678901234567890.5}} ] } "#;
        let c = check_with("application/json", js).unwrap();
        assert_eq!(
            String::from_utf8(c.body.clone()).unwrap(),
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","headers":{"Accept":"application/json"},"body":{"n":12345678901234567890.5}}]}"#
        );
        assert_eq!(c.content_type, "application/json");
        let again = check_bytes(&c.content_type, &c.body).unwrap();
        assert_eq!((again.requests, again.body), (c.requests, c.body));
    }

    /// A small deterministic generator (xorshift), for mutations.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// One random edit of a batch body: a boundary moved, CR and LF swapped, whitespace or case changed, a piece
    /// duplicated, a part nested.
    pub(crate) fn mutate(body: &[u8], rng: &mut Rng) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"\r",
            b"\n",
            b"\r\n",
            b" ",
            b"\t",
            b"\x0b",
            b"\xc2\xa0",
            b"\x85",
            b"--batch_1",
            b"--batch_1--",
            b"--cs",
            b"x--batch_1\r\n",
            b"\"",
            b"\"Requests\":[]",
            b"\"URL\":\"/api/x\"",
            b"\"headers\":{\"Host\":\"evil\"}",
            b"{",
            b"}",
            b",",
            b"Host: evil.example\r\n",
            b"Content-Length: 2\r\n",
            b"HTTP/1.1",
            b"GET /api/domain/standardmodel",
        ];
        let mut out = body.to_vec();
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 => out.splice(at..at, PIECES[rng.below(PIECES.len())].iter().copied()).for_each(drop),
            1 => {
                if at < out.len() {
                    out.remove(at);
                }
            }
            2 => {
                for b in out.iter_mut().skip(at).take(1) {
                    *b = match *b {
                        b'\r' => b'\n',
                        b'\n' => b'\r',
                        c if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
                        c => c.to_ascii_lowercase(),
                    };
                }
            }
            3 => {
                let end = (at + 1 + rng.below(40)).min(out.len());
                let piece = out[at.min(end)..end].to_vec();
                out.splice(end..end, piece).for_each(drop);
            }
            4 => {
                let end = (at + 1 + rng.below(40)).min(out.len());
                let from = rng.below(out.len() + 1);
                let piece = out[at.min(end)..end].to_vec();
                out.splice(from..from, piece).for_each(drop);
            }
            _ => {
                let inner = format!(
                    "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\n{}\r\n--cs--\r\n",
                    String::from_utf8_lossy(&out)
                );
                out = inner.into_bytes();
            }
        }
        out
    }

    #[test]
    fn mutated_batches_are_refused_or_rebuilt_into_the_same_requests() {
        let seeds: Vec<(&str, Vec<u8>)> = vec![
            (MP, format!("{}{}--batch_1--\r\n", part("Crm_Sales_Customers"), part("$1/Name")).into_bytes()),
            (MP, b"--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPATCH Crm_Sales_Customers(1) HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"Name\":\"x\"}\r\n--cs--\r\n--batch_1--\r\n".to_vec()),
            ("application/json", br#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","headers":{"Accept":"application/json"}},{"id":"2","atomicityGroup":"g","method":"PATCH","url":"Crm_Sales_Customers(1)","body":{"Name":"x"}}]}"#.to_vec()),
        ];
        let mut rng = Rng(0x5eed);
        let (mut passed, mut refused) = (0, 0);
        for round in 0..20_000 {
            let (content_type, seed) = &seeds[round % seeds.len()];
            let mut body = seed.clone();
            for _ in 0..1 + rng.below(3) {
                body = mutate(&body, &mut rng);
            }
            match check_bytes(content_type, &body) {
                Ok(c) => {
                    passed += 1;
                    let again = check_bytes(&c.content_type, &c.body).expect("the rebuilt body passes");
                    assert_eq!(again.requests, c.requests, "{}", String::from_utf8_lossy(&body));
                    assert_eq!(again.body.len(), c.body.len(), "{}", String::from_utf8_lossy(&body));
                }
                Err(e) => {
                    refused += 1;
                    assert!(matches!(e.code(), "invalid_batch" | "path_not_allowed"));
                }
            }
        }
        assert!(passed > 100 && refused > 100, "{passed} passed, {refused} refused");
    }
}
