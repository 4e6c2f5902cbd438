//! The `multipart/mixed` batch format (OData 4.0): parts of `Content-Type: application/http` holding
//! `METHOD URL HTTP/1.1`, headers and a body, or a changeset (`multipart/mixed` again, one level deep: changesets
//! do not nest).
//!
//! Read strictly, so that no other reader can find a request this one did not check. Microsoft.OData (ERP.net's
//! reader) takes `--boundary` as a delimiter wherever it starts, not only after a line break, ends lines at CR, LF
//! or CRLF, and allows any whitespace between a delimiter and its line end. So here: every occurrence of
//! `--boundary` anywhere in the body must be a whole delimiter line (at the start of a line, then `--` or nothing,
//! SP/HT, CRLF or LF); a bare CR in part headers, request lines or request headers, a header name that is not a
//! token, a repeated header, a folded header, an encoded part, a GET in a changeset or a `Content-Length` that is
//! not the body's length is refused. What passes is rebuilt ([`Checked::body`]) with CRLF line ends and
//! boundaries of our own that occur nowhere in the browser's body.

use super::{Checked, InnerRequest, MAX_PARTS, Scope, check_method, essence, is_clean_value, is_token};
use crate::error::BffError;

type Result<T> = std::result::Result<T, BffError>;

mod framing;
use framing::{contains, split, split_head};

/// One `application/http` part as read.
struct Request<'a> {
    /// `Content-ID` of the part (kept: `$1` references name it).
    content_id: Option<&'a str>,
    method: &'a str,
    url: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

/// A part of the batch: a request, or a changeset of requests.
enum Item<'a> {
    Request(Request<'a>),
    Changeset(Vec<Request<'a>>),
}

/// Checks every part of a multipart body and rebuilds it.
pub(super) fn check(content_type: &str, body: &[u8], scope: &Scope) -> Result<Checked> {
    let outer = boundary(content_type)?;
    let mut items = Vec::new();
    for part in split(body, outer)? {
        let (headers, content) = part_headers(part)?;
        if essence(headers.content_type) == "multipart/mixed" {
            let inner = boundary(headers.content_type)?;
            let mut requests = Vec::new();
            for part in split(content, inner)? {
                let (headers, content) = part_headers(part)?;
                if essence(headers.content_type) != "application/http" {
                    return Err(BffError::InvalidBatch("A changeset cannot hold another changeset."));
                }
                let request = request(content, headers.content_id)?;
                if request.method == "GET" {
                    return Err(BffError::InvalidBatch("A changeset cannot hold a GET."));
                }
                let has_id = request.content_id.is_some()
                    || request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-id"));
                if !has_id {
                    return Err(BffError::InvalidBatch("A request in a changeset needs a Content-ID."));
                }
                requests.push(request);
            }
            items.push(Item::Changeset(requests));
        } else {
            items.push(Item::Request(request(content, headers.content_id)?));
        }
    }
    let count: usize = items.iter().map(|i| if let Item::Changeset(r) = i { r.len().max(1) } else { 1 }).sum();
    if count > MAX_PARTS {
        return Err(BffError::InvalidBatch("The batch holds too many parts."));
    }
    let mut checked = Vec::with_capacity(count);
    for request in items.iter().flat_map(|i| match i {
        Item::Request(r) => std::slice::from_ref(r),
        Item::Changeset(rs) => rs.as_slice(),
    }) {
        check_method(request.method)?;
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("host") {
                scope.check_host(value)?;
            }
        }
        scope.check_url(request.url)?;
        checked.push(InnerRequest { method: request.method.to_string(), url: request.url.to_string() });
    }
    let batch = fresh_boundary(body, "batch_");
    let changeset = fresh_boundary(body, "changeset_");
    let body = rebuild(&items, &batch, &changeset);
    Ok(Checked { requests: checked, body, content_type: format!("multipart/mixed; boundary={batch}") })
}

/// The `boundary` parameter: present once, 1–70 characters of RFC 2046's `bchars`, not ending in a space.
fn boundary(content_type: &str) -> Result<&str> {
    const BAD: BffError = BffError::InvalidBatch("The multipart boundary is missing or malformed.");
    let mut found = None;
    for param in content_type.split(';').skip(1) {
        let (name, value) = param.split_once('=').ok_or(BAD)?;
        if name.trim().eq_ignore_ascii_case("boundary") {
            if found.is_some() {
                return Err(BAD);
            }
            let value = value.trim();
            found = Some(value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value));
        }
    }
    let b = found.ok_or(BAD)?;
    let bchar = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
    if b.is_empty() || b.len() > 70 || b.ends_with(' ') || !b.chars().all(bchar) {
        return Err(BAD);
    }
    Ok(b)
}

/// `Name: value` lines: CRLF or LF, no bare CR, no folding, token names, clean values, no name twice (in any case).
fn header_lines(head: &[u8]) -> Result<Vec<(&str, &str)>> {
    const BAD: BffError = BffError::InvalidBatch("A part's headers cannot be read.");
    let text = std::str::from_utf8(head).map_err(|_| BAD)?;
    let mut out: Vec<(&str, &str)> = Vec::new();
    for line in text.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (name, value) = line.split_once(':').ok_or(BAD)?;
        let value = value.trim_matches([' ', '\t']);
        if !is_token(name) || !is_clean_value(value) {
            return Err(BAD);
        }
        if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(BffError::InvalidBatch("A header appears twice in one part or request."));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// What a part's own headers say.
struct PartHeaders<'a> {
    content_type: &'a str,
    content_id: Option<&'a str>,
}

/// A part's headers (exactly one `Content-Type`, not encoded) and its content.
fn part_headers(part: &[u8]) -> Result<(PartHeaders<'_>, &[u8])> {
    let (head, content) = split_head(part);
    let headers = header_lines(head)?;
    let get = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
    let content_type =
        get("content-type").ok_or(BffError::InvalidBatch("Each part needs exactly one Content-Type."))?;
    if get("content-transfer-encoding")
        .is_some_and(|v| !["binary", "7bit", "8bit"].contains(&v.to_ascii_lowercase().as_str()))
    {
        return Err(BffError::InvalidBatch("A part must not be encoded (Content-Transfer-Encoding: binary)."));
    }
    if !matches!(essence(content_type).as_str(), "application/http" | "multipart/mixed") {
        return Err(BffError::InvalidBatch("A part must be application/http or multipart/mixed."));
    }
    Ok((PartHeaders { content_type, content_id: get("content-id") }, content))
}

/// One `application/http` part: `METHOD URL HTTP/1.1`, headers, a body (its `Content-Length`, if any, exact).
fn request<'a>(content: &'a [u8], content_id: Option<&'a str>) -> Result<Request<'a>> {
    const NO_LINE: BffError = BffError::InvalidBatch("An application/http part needs a request line.");
    let line_end = content.iter().position(|&b| b == b'\n').unwrap_or(content.len());
    let line = std::str::from_utf8(&content[..line_end]).map_err(|_| NO_LINE)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.chars().any(|c| c.is_control() || (c.is_whitespace() && c != ' ')) {
        return Err(NO_LINE);
    }
    let mut words = line.split(' ');
    let (Some(method), Some(url), Some("HTTP/1.1"), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(NO_LINE);
    };
    let (head, body) = split_head(content.get(line_end + 1..).unwrap_or_default());
    let headers = header_lines(head)?;
    let length = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| *v);
    if length.is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()) || l.parse::<usize>().ok() != Some(body.len())) {
        return Err(BffError::InvalidBatch("An inner Content-Length is not the length of its body."));
    }
    Ok(Request { content_id, method, url, headers, body })
}

/// A boundary that occurs nowhere in `body` (so nowhere in what is rebuilt from it).
fn fresh_boundary(body: &[u8], prefix: &str) -> String {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ body.len() as u64;
    loop {
        let candidate = format!("{prefix}{seed:016x}");
        if !contains(body, format!("--{candidate}").as_bytes()) {
            return candidate;
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    }
}

/// The canonical body: CRLF everywhere, our boundaries, the part headers ERP.net needs and nothing else.
fn rebuild(items: &[Item], batch: &str, changeset: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.extend_from_slice(format!("--{batch}\r\n").as_bytes());
        match item {
            Item::Request(r) => write_request(&mut out, r),
            Item::Changeset(requests) => {
                out.extend_from_slice(
                    format!("Content-Type: multipart/mixed; boundary={changeset}\r\n\r\n").as_bytes(),
                );
                for r in requests {
                    out.extend_from_slice(format!("--{changeset}\r\n").as_bytes());
                    write_request(&mut out, r);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(format!("--{changeset}--").as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{batch}--\r\n").as_bytes());
    out
}

fn write_request(out: &mut Vec<u8>, r: &Request) {
    out.extend_from_slice(b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = r.content_id {
        out.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("\r\n{} {} HTTP/1.1\r\n", r.method, r.url).as_bytes());
    for (name, value) in &r.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(r.body);
}
