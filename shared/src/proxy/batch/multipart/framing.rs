//! Multipart framing as the batch check reads it: every occurrence of `--boundary` must be a whole delimiter line
//! (Microsoft.OData finds a delimiter anywhere, so anything else is refused), parts end without the line break that
//! belongs to the next delimiter, and a part's head ends at its first empty line.

use super::Result;
use crate::error::BffError;

/// Whether `needle` occurs in `haystack`.
pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    occurrences(haystack, needle).next().is_some()
}

/// Every position where `needle` (which starts with `--`) starts in `haystack`, overlapping ones too.
pub(super) fn occurrences<'h>(haystack: &'h [u8], needle: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
    let first = needle[0];
    haystack
        .iter()
        .enumerate()
        .filter_map(move |(i, &b)| (b == first && haystack[i..].starts_with(needle)).then_some(i))
}

/// The parts between the delimiters, up to the closing `--boundary--` (required); preamble and epilogue are
/// dropped. Every occurrence of `--boundary` must be a whole delimiter line, wherever it is.
pub(super) fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>> {
    const INSIDE: BffError = BffError::InvalidBatch("A multipart boundary appears where it does not delimit a part.");
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut closed = false;
    for at in occurrences(body, delimiter.as_bytes()) {
        if closed || (at > 0 && body[at - 1] != b'\n') {
            return Err(INSIDE);
        }
        let mut end = at + delimiter.len();
        let close = body[end..].starts_with(b"--");
        if close {
            end += 2;
        }
        while matches!(body.get(end), Some(b' ' | b'\t')) {
            end += 1;
        }
        let line_end = match (body.get(end), body.get(end + 1)) {
            (Some(b'\n'), _) => end + 1,
            (Some(b'\r'), Some(b'\n')) => end + 2,
            (None, _) if close => end,
            _ => return Err(INSIDE),
        };
        if let Some(s) = start {
            parts.push(strip_line_end(&body[s..at]));
        }
        start = Some(line_end);
        closed = close;
    }
    if !closed {
        return Err(BffError::InvalidBatch("The multipart body has no closing boundary."));
    }
    Ok(parts)
}

/// Without the line break that belongs to the next delimiter.
pub(super) fn strip_line_end(part: &[u8]) -> &[u8] {
    match part.strip_suffix(b"\n") {
        Some(p) => p.strip_suffix(b"\r").unwrap_or(p),
        None => part,
    }
}

/// Headers and the rest, split at the first empty line (no empty line: all headers, no body).
pub(super) fn split_head(part: &[u8]) -> (&[u8], &[u8]) {
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
