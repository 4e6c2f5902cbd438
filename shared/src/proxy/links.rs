//! OData link annotations in a JSON answer, rewritten from the ERP.net API base to the BFF's `/api/…`, and nothing
//! else: a string is rewritten only when it is the value of a member whose name ends in a link annotation
//! (`@odata.nextLink`, `@odata.context`, `Items@odata.navigationLink`, … or the OData 4.01 short form `@nextLink`)
//! and starts with the API base. Entity fields pass byte for byte, whatever they hold.
//!
//! A streaming rewrite: bytes go out as they come in, except the start of a link value, held until it is known
//! whether it starts with the API base (at most the base's length, JSON-escaped). Memory does not grow with the body.

/// The annotation terms whose values are URLs (OData JSON Format 4.01 §4.5).
const LINK_TERMS: &[&[u8]] = &[
    b"nextLink",
    b"deltaLink",
    b"context",
    b"id",
    b"editLink",
    b"readLink",
    b"navigationLink",
    b"associationLink",
    b"mediaReadLink",
    b"mediaEditLink",
];
/// The longest member-name suffix kept while scanning a string (an annotation term after the last `@` is shorter).
const TAIL: usize = 64;

/// Whether a JSON member name (as written between the quotes) names an OData link annotation.
pub fn is_link_annotation(name: &[u8]) -> bool {
    let Some(at) = name.iter().rposition(|&b| b == b'@') else { return false };
    let term = &name[at + 1..];
    let term = term.strip_prefix(b"odata.").unwrap_or(term);
    LINK_TERMS.contains(&term)
}

/// The rewriter's state between chunks.
pub struct LinkRewriter {
    /// `"{base}/"` as JSON may spell it, and what replaces it: plain, and with escaped slashes.
    spellings: [(Vec<u8>, &'static [u8]); 2],
    in_string: bool,
    escape: bool,
    /// The last bytes of the current string (enough to recognise an annotation name).
    tail: Vec<u8>,
    /// The string just closed names a link annotation (if a `:` follows, it was a member name).
    closed_link_name: bool,
    /// A link annotation name and its `:` were seen: the next string is a link value.
    expect_link_value: bool,
    /// The start of a link value, while it may still be the API base.
    held: Option<Vec<u8>>,
}

impl LinkRewriter {
    pub fn new(api_base: &str) -> Self {
        let plain = format!("{api_base}/").into_bytes();
        let escaped = format!("{}\\/", api_base.replace('/', "\\/")).into_bytes();
        LinkRewriter {
            spellings: [(plain, b"/api/"), (escaped, b"\\/api\\/")],
            in_string: false,
            escape: false,
            tail: Vec::with_capacity(2 * TAIL),
            closed_link_name: false,
            expect_link_value: false,
            held: None,
        }
    }

    /// Rewrites one chunk of the body into `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len());
        for &b in chunk {
            if self.in_string {
                self.string_byte(b, out);
            } else {
                self.between_byte(b, out);
            }
        }
    }

    /// The end of the body: a held prefix (an unterminated string) goes out as it came.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(held) = self.held.take() {
            out.extend_from_slice(&held);
        }
    }

    fn between_byte(&mut self, b: u8, out: &mut Vec<u8>) {
        out.push(b);
        match b {
            b'"' => {
                self.in_string = true;
                self.tail.clear();
                if self.expect_link_value {
                    self.held = Some(Vec::with_capacity(self.spellings[1].0.len()));
                }
                self.closed_link_name = false;
                self.expect_link_value = false;
            }
            b':' => {
                self.expect_link_value = self.closed_link_name;
                self.closed_link_name = false;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                self.closed_link_name = false;
                self.expect_link_value = false;
            }
        }
    }

    fn string_byte(&mut self, b: u8, out: &mut Vec<u8>) {
        let closes = !self.escape && b == b'"';
        self.escape = !self.escape && b == b'\\';
        if closes {
            self.in_string = false;
            if let Some(held) = self.held.take() {
                out.extend_from_slice(&held);
            } else {
                self.closed_link_name = is_link_annotation(&self.tail);
            }
            out.push(b);
            return;
        }
        let Some(held) = self.held.as_mut() else {
            out.push(b);
            if self.tail.len() == 2 * TAIL {
                self.tail.drain(..TAIL);
            }
            self.tail.push(b);
            return;
        };
        held.push(b);
        if let Some((_, replacement)) = self.spellings.iter().find(|(s, _)| s == held) {
            out.extend_from_slice(replacement);
            self.held = None;
        } else if !self.spellings.iter().any(|(s, _)| s.starts_with(held)) {
            out.extend_from_slice(held);
            self.held = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites a whole JSON body, as the streaming answer does chunk by chunk.
    fn rewrite_links(body: &[u8], api_base: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len());
        let mut r = LinkRewriter::new(api_base);
        r.push(body, &mut out);
        r.finish(&mut out);
        out
    }
    const BASE: &str = "https://erp.example/api";

    fn rw(s: &str) -> String {
        String::from_utf8(rewrite_links(s.as_bytes(), BASE)).unwrap()
    }

    #[test]
    fn rewrites_link_annotations_only() {
        let body = r#"{"@odata.context":"https://erp.example/api/domain/odata/$metadata#X","value":[{"Name":"https://erp.example/api/domain/odata/X","Items@odata.navigationLink" : "https://erp.example/api/domain/odata/X(1)/Items","Note":"@odata.nextLink"}],"@odata.nextLink":"https://erp.example/api/domain/odata/X?$top=5&$skip=5","other":"https://erp.example/apix/y","@nextLink":"https://erp.example/api/a"}"#;
        let out = rw(body);
        assert!(out.contains(r#""@odata.context":"/api/domain/odata/$metadata#X""#), "{out}");
        assert!(out.contains(r#""Name":"https://erp.example/api/domain/odata/X""#), "entity data untouched: {out}");
        assert!(out.contains(r#""Items@odata.navigationLink" : "/api/domain/odata/X(1)/Items""#), "{out}");
        assert!(out.contains(r#""@odata.nextLink":"/api/domain/odata/X?$top=5&$skip=5""#));
        assert!(out.contains(r#""other":"https://erp.example/apix/y""#));
        assert!(out.contains(r#""@nextLink":"/api/a""#));
        assert_eq!(rw(r#"{"value":[]}"#), r#"{"value":[]}"#);
    }

    #[test]
    fn escaped_slashes_and_escapes_in_strings() {
        let escaped = r#"{"@odata.nextLink":"https:\/\/erp.example\/api\/domain\/odata\/X?$skip=5"}"#;
        assert_eq!(rw(escaped), r#"{"@odata.nextLink":"\/api\/domain\/odata\/X?$skip=5"}"#);
        // A value that is a quoted name, an array of link-like strings, a non-string link value: untouched.
        for same in [
            r#"{"Name":"x\"@odata.id","Other":"https://erp.example/api/x"}"#,
            r#"{"@odata.id":["https://erp.example/api/x"]}"#,
            r#"{"@odata.id":null,"A":"https://erp.example/api/x"}"#,
            r#"{"@odata.id":"https://erp.example/ap"}"#,
            r#"{"@odata.id":"https://erp.exa"#,
        ] {
            assert_eq!(rw(same), same);
        }
    }

    #[test]
    fn any_chunking_gives_the_same_answer() {
        let body = r#"{"@odata.context":"https://erp.example/api/$metadata","value":[{"Name":"https://erp.example/api/x","@odata.id":"https:\/\/erp.example\/api\/X(1)"}]}"#;
        let whole = rw(body);
        for size in 1..body.len() {
            let mut out = vec![];
            let mut r = LinkRewriter::new(BASE);
            for chunk in body.as_bytes().chunks(size) {
                r.push(chunk, &mut out);
            }
            r.finish(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), whole, "chunks of {size}");
        }
    }
}
