//! The JSON batch format (OData 4.01): `{"requests":[{"id","atomicityGroup","dependsOn","method","url","headers",
//! "body"}]}`.
//!
//! Read strictly, so that no other reader can find a request this one did not check. Microsoft.OData (ERP.net's
//! reader) matches member names without regard to case (its own upper-casing, which maps some non-ASCII letters
//! onto ASCII ones), takes the first member of the batch object as `requests`, and refuses a request object with
//! an unknown or repeated member. So here: the batch object has exactly one member, `requests` in any ASCII case;
//! a request object's members are the seven above in any ASCII case, each at most once; a non-ASCII member name,
//! an unknown member, a repeated member or header (in any case), a header name that is not a token or a header
//! value that is not a clean string is refused; `method` and `url` are required strings. What passes is re-emitted
//! from the parsed values ([`Checked::body`]); a `body` is copied as the JSON value it is (numbers untouched).

use super::{Checked, InnerRequest, MAX_PARTS, Scope, check_method, is_clean_value, is_token};
use crate::error::BffError;
use serde::de::IgnoredAny;

type Result<T> = std::result::Result<T, BffError>;

const BAD: BffError =
    BffError::InvalidBatch("The JSON batch must be {\"requests\":[…]} with a string method and url in each.");

/// The members a request object may have, by their lower-case names, and how each is written back.
const MEMBERS: [(&str, &str); 7] = [
    ("id", "id"),
    ("atomicitygroup", "atomicityGroup"),
    ("dependson", "dependsOn"),
    ("method", "method"),
    ("url", "url"),
    ("headers", "headers"),
    ("body", "body"),
];

/// One request object as read.
#[derive(Default)]
struct Request<'a> {
    id: Option<String>,
    atomicity_group: Option<String>,
    depends_on: Option<Vec<String>>,
    method: Option<String>,
    url: Option<String>,
    headers: Option<Vec<(String, String)>>,
    /// The raw JSON value.
    body: Option<&'a [u8]>,
}

pub(super) fn check(content_type: &str, body: &[u8], scope: &Scope) -> Result<Checked> {
    let requests = read(body)?;
    if requests.len() > MAX_PARTS {
        return Err(BffError::InvalidBatch("The batch holds too many requests."));
    }
    check_groups(&requests)?;
    let mut checked = Vec::with_capacity(requests.len());
    for r in &requests {
        let (Some(method), Some(url)) = (&r.method, &r.url) else { return Err(BAD) };
        check_method(method)?;
        for (name, value) in r.headers.iter().flatten() {
            if name.eq_ignore_ascii_case("host") {
                scope.check_host(value)?;
            }
        }
        let headers = r.headers.as_deref().unwrap_or_default();
        if headers.iter().enumerate().any(|(i, (n, _))| headers[..i].iter().any(|(m, _)| m.eq_ignore_ascii_case(n))) {
            return Err(BffError::InvalidBatch("A header appears twice in one request."));
        }
        scope.check_url(url)?;
        checked.push(InnerRequest { method: method.clone(), url: url.clone() });
    }
    Ok(Checked { requests: checked, body: rebuild(&requests), content_type: content_type.to_string() })
}

/// Microsoft.OData's rules for `atomicityGroup` and `dependsOn` (it refuses the rest of the batch where one is
/// broken, so a body that breaks one is refused here): a group's requests are adjacent; `dependsOn` names an
/// earlier request or group, not the request itself or its own group, and not a request in another group.
fn check_groups(requests: &[Request]) -> Result<()> {
    const BAD_GROUP: BffError =
        BffError::InvalidBatch("An atomicityGroup or dependsOn in the JSON batch is not one ERP.net accepts.");
    let mut seen: Vec<(Option<&str>, Option<&str>)> = Vec::new();
    for r in requests {
        let (id, group) = (r.id.as_deref(), r.atomicity_group.as_deref());
        let last_group = seen.last().and_then(|(_, g)| *g);
        if group.is_some() && group != last_group && seen.iter().any(|(_, g)| *g == group) {
            return Err(BAD_GROUP);
        }
        for d in r.depends_on.iter().flatten().map(String::as_str) {
            if Some(d) == id || Some(d) == group {
                return Err(BAD_GROUP);
            }
            match seen.iter().find(|(i, _)| *i == Some(d)) {
                Some((_, Some(g))) if Some(*g) != group => return Err(BAD_GROUP),
                Some(_) => {}
                None if seen.iter().any(|(_, g)| *g == Some(d)) => {}
                None => return Err(BAD_GROUP),
            }
        }
        seen.push((id, group));
    }
    Ok(())
}

/// `{"requests":[…]}` and nothing else (whitespace aside).
fn read(body: &[u8]) -> Result<Vec<Request<'_>>> {
    let mut j = Json { s: body, i: 0 };
    j.expect(b'{')?;
    let name = j.string()?;
    if !name.eq_ignore_ascii_case("requests") {
        return Err(BAD);
    }
    j.expect(b':')?;
    j.expect(b'[')?;
    let mut requests = Vec::new();
    if !j.eat(b']') {
        loop {
            requests.push(j.request()?);
            if requests.len() > MAX_PARTS {
                return Err(BffError::InvalidBatch("The batch holds too many requests."));
            }
            if j.eat(b']') {
                break;
            }
            j.expect(b',')?;
        }
    }
    j.expect(b'}')?;
    j.ws();
    if j.i != body.len() {
        return Err(BAD);
    }
    Ok(requests)
}

/// A JSON reader over the body that keeps members in order (repeats too) and values' raw bytes.
struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Json<'a> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.eat(c) { Ok(()) } else { Err(BAD) }
    }

    /// A string, decoded (escapes, surrogate pairs); no control characters, no lone surrogates.
    fn string(&mut self) -> Result<String> {
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

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.s.get(self.i..self.i + 4).ok_or(BAD)?;
        let text = std::str::from_utf8(digits).map_err(|_| BAD)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BAD);
        }
        self.i += 4;
        u32::from_str_radix(text, 16).map_err(|_| BAD)
    }

    /// Any value's raw bytes, validated as JSON without recursion (a deep body exhausts no stack).
    fn raw_value(&mut self) -> Result<&'a [u8]> {
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
    fn skip_string(&mut self) -> Result<()> {
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
    fn string_value(&mut self) -> Result<String> {
        self.ws();
        self.string()
    }

    /// One request object: known members only, each once.
    fn request(&mut self) -> Result<Request<'a>> {
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
    fn strings(&mut self) -> Result<Vec<String>> {
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
    fn headers(&mut self) -> Result<Vec<(String, String)>> {
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

/// The canonical batch: members in one order with their canonical names, strings re-escaped, bodies as read.
fn rebuild(requests: &[Request]) -> Vec<u8> {
    let text = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = Vec::from(&b"{\"requests\":["[..]);
    for (i, r) in requests.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut members: Vec<String> = Vec::new();
        if let Some(id) = &r.id {
            members.push(format!("\"id\":{}", text(id)));
        }
        if let Some(group) = &r.atomicity_group {
            members.push(format!("\"atomicityGroup\":{}", text(group)));
        }
        if let Some(ids) = &r.depends_on {
            let ids: Vec<String> = ids.iter().map(|s| text(s)).collect();
            members.push(format!("\"dependsOn\":[{}]", ids.join(",")));
        }
        if let Some(method) = &r.method {
            members.push(format!("\"method\":{}", text(method)));
        }
        if let Some(url) = &r.url {
            members.push(format!("\"url\":{}", text(url)));
        }
        if let Some(headers) = &r.headers {
            let h: Vec<String> = headers.iter().map(|(n, v)| format!("{}:{}", text(n), text(v))).collect();
            members.push(format!("\"headers\":{{{}}}", h.join(",")));
        }
        out.push(b'{');
        out.extend_from_slice(members.join(",").as_bytes());
        if let Some(body) = r.body {
            if !members.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"body\":");
            out.extend_from_slice(body);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}
