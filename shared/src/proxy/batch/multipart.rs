//! The `multipart/mixed` batch format (OData 4.0): parts of `Content-Type: application/http` holding
//! `METHOD URL HTTP/1.1`, headers and a body, or a changeset (`multipart/mixed` again, one level deep: changesets
//! do not nest). Lines end in CRLF or LF; a bare CR, a folded header, an encoded part (`Content-Transfer-Encoding`
//! other than binary) or a part that is neither kind is refused, so no other reader can find a request line this
//! one did not check.

use super::{MAX_PARTS, Scope, check_method, essence};
use crate::error::BffError;

type Result<T> = std::result::Result<T, BffError>;

/// Checks every part of a multipart body; `depth` is 0 for the batch, 1 inside a changeset.
pub(super) fn check(content_type: &str, body: &[u8], scope: &Scope, depth: usize) -> Result<()> {
    if depth > 1 {
        return Err(BffError::InvalidBatch("A changeset cannot hold another changeset."));
    }
    let boundary = boundary(content_type)?;
    let parts = split(body, boundary)?;
    if parts.len() > MAX_PARTS {
        return Err(BffError::InvalidBatch("The batch holds too many parts."));
    }
    for part in parts {
        let (head, content) = split_head(part);
        let headers = header_lines(head)?;
        let mut types = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        let part_type = match (types.next(), types.next()) {
            (Some((_, t)), None) => *t,
            _ => return Err(BffError::InvalidBatch("Each part needs exactly one Content-Type.")),
        };
        let encoded = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("content-transfer-encoding")
                && !["binary", "7bit", "8bit"].contains(&v.to_ascii_lowercase().as_str())
        });
        if encoded {
            return Err(BffError::InvalidBatch("A part must not be encoded (Content-Transfer-Encoding: binary)."));
        }
        match essence(part_type).as_str() {
            "application/http" => check_request(content, scope)?,
            "multipart/mixed" => check(part_type, content, scope, depth + 1)?,
            _ => return Err(BffError::InvalidBatch("A part must be application/http or multipart/mixed.")),
        }
    }
    Ok(())
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

/// The parts between `--boundary` lines, up to the closing `--boundary--` (required); preamble and epilogue are
/// ignored, as RFC 2046 says.
fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = body[pos..].iter().position(|&b| b == b'\n').map_or(body.len(), |i| pos + i + 1);
        if let Some(rest) = body[pos..end].strip_prefix(delimiter.as_bytes()) {
            let rest = rest.trim_ascii_end();
            if rest.is_empty() || rest == b"--" {
                if let Some(s) = start {
                    parts.push(strip_line_end(&body[s..pos]));
                }
                if rest == b"--" {
                    return Ok(parts);
                }
                start = Some(end);
            }
        }
        pos = end;
    }
    Err(BffError::InvalidBatch("The multipart body has no closing boundary."))
}

/// Without the line break that belongs to the next delimiter.
fn strip_line_end(part: &[u8]) -> &[u8] {
    let part = part.strip_suffix(b"\n").unwrap_or(part);
    part.strip_suffix(b"\r").unwrap_or(part)
}

/// Headers and the rest, split at the first empty line (no empty line: all headers, no body).
fn split_head(part: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while pos < part.len() {
        let end = part[pos..].iter().position(|&b| b == b'\n').map_or(part.len(), |i| pos + i + 1);
        if matches!(&part[pos..end], b"\r\n" | b"\n") {
            return (&part[..pos], &part[end..]);
        }
        pos = end;
    }
    (part, &[])
}

/// `Name: value` lines. No folding, no bare CR, no line without a colon.
fn header_lines(head: &[u8]) -> Result<Vec<(&str, &str)>> {
    const BAD: BffError = BffError::InvalidBatch("A part's headers cannot be read.");
    let text = std::str::from_utf8(head).map_err(|_| BAD)?;
    let mut out = Vec::new();
    for line in text.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains('\r') || line.starts_with([' ', '\t']) {
            return Err(BAD);
        }
        let (name, value) = line.split_once(':').ok_or(BAD)?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(BAD);
        }
        out.push((name, value.trim()));
    }
    Ok(out)
}

/// One `application/http` part: `METHOD URL HTTP/1.x`, headers (an inner `Host` must be the API's), a body.
fn check_request(content: &[u8], scope: &Scope) -> Result<()> {
    const NO_LINE: BffError = BffError::InvalidBatch("An application/http part needs a request line.");
    let line_end = content.iter().position(|&b| b == b'\n').unwrap_or(content.len());
    let line = std::str::from_utf8(&content[..line_end]).map_err(|_| NO_LINE)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut words = line.split(' ');
    let (Some(method), Some(url), Some(version), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(NO_LINE);
    };
    if !version.starts_with("HTTP/1.") {
        return Err(NO_LINE);
    }
    check_method(method)?;
    let (head, _body) = split_head(content.get(line_end + 1..).unwrap_or_default());
    for (name, value) in header_lines(head)? {
        if name.eq_ignore_ascii_case("host") {
            scope.check_host(value)?;
        }
    }
    scope.check_url(url)
}
