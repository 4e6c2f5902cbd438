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

use super::{Checked, InnerRequest, MAX_PARTS, Scope, check_method};
use crate::error::BffError;

mod reader;
use reader::Json;

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
