//! The JSON reader of the batch check: members in order (repeats too), strings unescaped, values' raw bytes kept.

use super::super::{MAX_PARTS, is_clean_value, is_token};
use super::{BAD, MEMBERS, Request, Result};
use crate::error::BffError;
use serde::de::IgnoredAny;

/// A JSON reader over the body that keeps members in order (repeats too) and values' raw bytes.
pub(super) struct Json<'a> {
    pub(super) s: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Json<'a> {
    pub(super) fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    pub(super) fn eat(&mut self, c: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    pub(super) fn expect(&mut self, c: u8) -> Result<()> {
        if self.eat(c) { Ok(()) } else { Err(BAD) }
    }

    /// A string, decoded (escapes, surrogate pairs); no control characters, no lone surrogates.
    pub(super) fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let &b = self.s.get(self.i).ok_or(BAD)?;
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|_| BAD),
                b'\\' => {
                    let &e = self.s.get(self.i).ok_or(BAD)?;
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(BAD);
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(BAD);
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or(BAD)?
                        }
                        _ => return Err(BAD),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                0..0x20 => return Err(BAD),
                _ => out.push(b),
            }
        }
    }

    pub(super) fn hex4(&mut self) -> Result<u32> {
        let digits = self.s.get(self.i..self.i + 4).ok_or(BAD)?;
        let text = std::str::from_utf8(digits).map_err(|_| BAD)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BAD);
        }
        self.i += 4;
        u32::from_str_radix(text, 16).map_err(|_| BAD)
    }

    /// Any value's raw bytes, validated as JSON without recursion (a deep body exhausts no stack).
    pub(super) fn raw_value(&mut self) -> Result<&'a [u8]> {
        self.ws();
        let start = self.i;
        let mut depth = 0usize;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'"' => self.skip_string()?,
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => {
                    depth -= 1;
                    self.i += 1;
                }
                b',' if depth == 0 => break,
                _ => self.i += 1,
            }
        }
        let raw = self.s[start..self.i].trim_ascii_end();
        serde_json::from_slice::<IgnoredAny>(raw).map_err(|_| BAD)?;
        Ok(raw)
    }

    /// Past a string (its content is validated with the value it is in).
    pub(super) fn skip_string(&mut self) -> Result<()> {
        self.i += 1;
        loop {
            match self.s.get(self.i).ok_or(BAD)? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => self.i += 1,
            }
        }
    }

    /// A string value.
    pub(super) fn string_value(&mut self) -> Result<String> {
        self.ws();
        self.string()
    }

    /// One request object: known members only, each once.
    pub(super) fn request(&mut self) -> Result<Request<'a>> {
        let mut r = Request::default();
        let mut seen = [false; MEMBERS.len()];
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Ok(r);
        }
        loop {
            self.ws();
            let name = self.string()?;
            let index = name
                .is_ascii()
                .then(|| MEMBERS.iter().position(|(lower, _)| name.eq_ignore_ascii_case(lower)))
                .flatten()
                .ok_or(BffError::InvalidBatch("A request in the JSON batch has a member ERP.net does not read."))?;
            if std::mem::replace(&mut seen[index], true) {
                return Err(BffError::InvalidBatch("A request in the JSON batch has a member twice."));
            }
            self.expect(b':')?;
            match index {
                0 => r.id = Some(self.string_value()?),
                1 => r.atomicity_group = Some(self.string_value()?),
                2 => r.depends_on = Some(self.strings()?),
                3 => r.method = Some(self.string_value()?.to_ascii_uppercase()),
                4 => r.url = Some(self.string_value()?),
                5 => r.headers = Some(self.headers()?),
                _ => r.body = Some(self.raw_value()?),
            }
            if self.eat(b'}') {
                return Ok(r);
            }
            self.expect(b',')?;
        }
    }

    /// `[string, …]`.
    pub(super) fn strings(&mut self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(out);
        }
        loop {
            out.push(self.string_value()?);
            if out.len() > MAX_PARTS {
                return Err(BAD);
            }
            if self.eat(b']') {
                return Ok(out);
            }
            self.expect(b',')?;
        }
    }

    /// `{name: string, …}`: token names, clean string values (repeats are refused once every `Host` is checked).
    pub(super) fn headers(&mut self) -> Result<Vec<(String, String)>> {
        const HEADER: BffError =
            BffError::InvalidBatch("A header in the JSON batch must be a token name with a string value, once.");
        let mut out: Vec<(String, String)> = Vec::new();
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Ok(out);
        }
        loop {
            self.ws();
            let name = self.string()?;
            self.expect(b':')?;
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(BffError::InvalidBatch("A header value must be a string."));
            }
            let value = self.string()?;
            let trimmed = value.trim_matches([' ', '\t']);
            if !is_token(&name) || !is_clean_value(trimmed) {
                return Err(HEADER);
            }
            out.push((name, value));
            if out.len() > 1000 {
                return Err(HEADER);
            }
            if self.eat(b'}') {
                return Ok(out);
            }
            self.expect(b',')?;
        }
    }
}
