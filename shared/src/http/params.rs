//! Parameters of a request: `application/x-www-form-urlencoded` pairs from a query or a form body.

use crate::error::BffError;
use lambda_http::{Body, Request};

/// Parsed `application/x-www-form-urlencoded` pairs (a query string or a form body).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub fn from_query(req: &Request) -> Self {
        Self::parse(req.uri().query().unwrap_or("").as_bytes())
    }

    /// The single value of `name`. Given twice it is ambiguous, so it is refused rather than guessed.
    pub fn single(&self, name: &str) -> Result<Option<&str>, BffError> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(BffError::InvalidRequest("a parameter was given more than once"));
        }
        Ok(first)
    }
}

/// The request body as bytes (empty when there is none).
pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_params_are_refused() {
        let p = Params::parse(b"a=1&b=2&a=3");
        assert!(p.single("a").is_err());
        assert_eq!(p.single("b").unwrap(), Some("2"));
        assert_eq!(p.single("c").unwrap(), None);
    }
}
