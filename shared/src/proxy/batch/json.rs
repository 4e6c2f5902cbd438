//! The JSON batch format (OData 4.01): `{"requests":[{"id","method","url","headers","body",…}]}`. Every request
//! needs a string `method` and `url`; a duplicated member is refused (another parser might read the other copy),
//! and so is every `Host` header that does not name the API's host, however many there are.

use super::{MAX_PARTS, Scope, check_method};
use crate::error::BffError;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

#[derive(Deserialize)]
struct Batch {
    requests: Vec<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    method: String,
    url: String,
    #[serde(default)]
    headers: Option<Headers>,
}

/// A `headers` object read as its entries, repeats kept.
struct Headers(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Headers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of headers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

pub(super) fn check(body: &[u8], scope: &Scope) -> Result<(), BffError> {
    let batch: Batch = serde_json::from_slice(body).map_err(|_| {
        BffError::InvalidBatch("The JSON batch must be {\"requests\":[…]} with a string method and url in each.")
    })?;
    if batch.requests.len() > MAX_PARTS {
        return Err(BffError::InvalidBatch("The batch holds too many requests."));
    }
    for inner in &batch.requests {
        check_method(&inner.method)?;
        for (name, value) in inner.headers.iter().flat_map(|h| &h.0) {
            if name.eq_ignore_ascii_case("host") {
                let host = value.as_str().ok_or(BffError::InvalidBatch("A header value must be a string."))?;
                scope.check_host(host)?;
            }
        }
        scope.check_url(&inner.url)?;
    }
    Ok(())
}
