//! A browser-like HTTP client: one cookie jar per host (ports do not separate cookies, hosts do), cookies expired
//! as RFC 6265 §5.2 says (`Max-Age` ≤ 0, or an `Expires` date in the past; `Max-Age` wins), and no automatic
//! redirects, so tests can look at every hop.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use url::Url;

/// A response with its body read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub url: Url,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }
    /// The problem+json `code`, asserting the content type.
    pub fn problem_code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "status {} body {}",
            self.status,
            self.text()
        );
        let code = self.json()["code"].as_str().unwrap().to_string();
        // The tests spell codes as the wire contract does; every code answered must be one the product lists.
        assert!(shared::error::CODES.iter().any(|(c, _)| *c == code), "unlisted problem code {code}");
        code
    }
}

/// Resolves `localhost` and every `*.localhost` name to the loopback address, as Chromium does (RFC 6761 §6.3;
/// glibc here resolves only `localhost` itself), and anything else as the system does.
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = if host == "localhost" || host.ends_with(".localhost") {
                vec![([127, 0, 0, 1], 0).into()]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A browser-like HTTP client: cookies per host, no automatic redirects.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    /// The cookie jar: host → name → value.
    pub jar: HashMap<String, BTreeMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(Loopback))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        Self { client, jar: HashMap::new() }
    }

    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.jar.get(host).and_then(|c| c.get(name)).cloned()
    }

    pub fn set_cookie(&mut self, host: &str, name: &str, value: &str) {
        self.jar.entry(host.into()).or_default().insert(name.into(), value.into());
    }

    /// The `Cookie` header value for `host`, if the jar holds any of its cookies.
    fn cookie_header(&self, host: &str) -> Option<String> {
        let cookies = self.jar.get(host).filter(|c| !c.is_empty())?;
        Some(cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    /// Stores (or, when expired, removes) every cookie a response from `host` sets: the jar's only writer.
    fn store(&mut self, host: &str, headers: &HeaderMap) {
        for sc in headers.get_all("set-cookie") {
            let Ok(sc) = sc.to_str() else { continue };
            let mut parts = sc.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else { continue };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            let jar = self.jar.entry(host.to_string()).or_default();
            if expired(parts, crate::now()) {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> Resp {
        self.request(Method::GET, url, &[], None).await
    }

    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.request(
            Method::POST,
            url,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
        .await
    }

    pub async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let parsed = Url::parse(url).unwrap();
        let host = parsed.host_str().unwrap().to_string();
        let mut req = self.client.request(method, parsed.clone());
        if let Some(cookie) = self.cookie_header(&host) {
            req = req.header("cookie", cookie);
        }
        for (k, v) in headers {
            req = req.header(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap().to_vec();
        self.store(&host, &headers);
        Resp { status, headers, body, url: parsed }
    }

    /// Sends a request exactly as written (no URL normalisation, no re-encoding): for byte-exact queries and
    /// hostile paths that an HTTP library would "fix". Cookies of the jar for the host are added.
    pub async fn raw(
        &mut self,
        origin: &str,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let base = Url::parse(origin).unwrap();
        let host = base.host_str().unwrap().to_string();
        let port = base.port_or_known_default().unwrap();
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
        let own_cookie = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("cookie"));
        if let Some(line) = self.cookie_header(&host).filter(|_| !own_cookie) {
            req.push_str(&format!("Cookie: {line}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(req.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut buf))
            .await
            .expect("raw response timed out")
            .unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let mut raw_body = buf[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let mut hm = HeaderMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                hm.append(
                    HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                    HeaderValue::from_str(v.trim()).unwrap(),
                );
            }
        }
        if hm.get("transfer-encoding").is_some_and(|v| v == "chunked") {
            raw_body = dechunk(&raw_body);
        }
        self.store(&host, &hm);
        Resp { status, headers: hm, body: raw_body, url: base.join("/").unwrap() }
    }
}

/// Whether a cookie with these attributes (the `Set-Cookie` parts after `name=value`) is already expired at `now`
/// (Unix seconds): RFC 6265 §5.2.2 (`Max-Age`, which wins over `Expires`) and §5.2.1 (`Expires`).
fn expired<'a>(attributes: impl Iterator<Item = &'a str>, now: i64) -> bool {
    let mut max_age = None;
    let mut expires = None;
    for attr in attributes {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("max-age") {
            // Only digits, optionally after a '-'; anything else: ignore the attribute.
            let digits = v.strip_prefix('-').unwrap_or(v);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                max_age = Some(if v.starts_with('-') { -1 } else { digits.parse::<i64>().unwrap_or(i64::MAX) });
            }
        } else if k.eq_ignore_ascii_case("expires") {
            expires = parse_cookie_date(v).or(expires);
        }
    }
    match (max_age, expires) {
        (Some(age), _) => age <= 0,
        (None, Some(at)) => at <= now,
        (None, None) => false,
    }
}

/// A cookie date (RFC 6265 §5.1.1: e.g. `Thu, 01 Jan 1970 00:00:00 GMT`) as Unix seconds.
fn parse_cookie_date(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in s.split(|c: char| !c.is_ascii_alphanumeric() && c != ':').filter(|t| !t.is_empty()) {
        let nums: Vec<Option<i64>> = token.split(':').map(|n| n.parse().ok()).collect();
        if time.is_none() && nums.len() == 3 && nums.iter().all(Option::is_some) {
            time = Some(nums[0]? * 3600 + nums[1]? * 60 + nums[2]?);
        } else if day.is_none() && token.len() <= 2 && token.bytes().all(|b| b.is_ascii_digit()) {
            day = token.parse::<i64>().ok();
        } else if month.is_none() && token.len() >= 3 && MONTHS.contains(&token[..3].to_ascii_lowercase().as_str()) {
            month = MONTHS.iter().position(|m| *m == token[..3].to_ascii_lowercase()).map(|m| m as i64 + 1);
        } else if year.is_none() && (2..=4).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit()) {
            let y: i64 = token.parse().ok()?;
            year = Some(match y {
                70..=99 => y + 1900,
                0..=69 => y + 2000,
                _ => y,
            });
        }
    }
    let (time, day, month, year) = (time?, day?, month?, year?);
    // Days from 1970-01-01 to year-month-day (the proleptic Gregorian calendar).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400 + time)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..nl]).split(';').next().unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[nl + 2..nl + 2 + size]);
        data = &data[nl + 2 + size + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{expired, parse_cookie_date};

    #[test]
    fn cookie_dates() {
        assert_eq!(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_cookie_date("nonsense"), None);
    }

    #[test]
    fn expiry_follows_rfc_6265() {
        let now = 1_000_000_000;
        let exp = |attrs: &str| expired(attrs.split(';').skip(1), now);
        assert!(exp("a=; Max-Age=0"));
        assert!(exp("a=b; Max-Age=-1"));
        assert!(!exp("a=b; Max-Age=60"));
        assert!(exp("a=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/"));
        assert!(!exp("a=b; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), "Max-Age wins");
        assert!(!exp("a=; Path=/"), "an empty value is a value");
        assert!(!exp("a=b; Max-Age=soon"), "an invalid Max-Age is ignored");
    }
}
