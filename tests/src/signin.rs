//! The flows a browser goes through with the app: sign-in (login → the emulator's real login page → callback) and
//! the SPA's API calls.

use crate::{Browser, Resp, TestApp};
use reqwest::Method;
use serde_json::Value;
use url::Url;

impl TestApp {
    /// `GET /auth/login?returnUrl=…` → the authorize URL the BFF redirects to.
    pub async fn start_login(&self, b: &mut Browser, return_url: Option<&str>) -> Url {
        self.start_login_at(&self.origin(), b, return_url).await
    }

    /// [`TestApp::start_login`] on `origin` (an instance's host).
    pub async fn start_login_at(&self, origin: &str, b: &mut Browser, return_url: Option<&str>) -> Url {
        let url = match return_url {
            Some(r) => format!("{origin}/auth/login?returnUrl={}", enc(r)),
            None => format!("{origin}/auth/login"),
        };
        let r = b.get(&url).await;
        assert_eq!(r.status, 302, "login should redirect: {}", r.text());
        Url::parse(r.location().expect("Location")).unwrap()
    }

    /// Drives the emulator's real login page from the authorize URL until it redirects back to the app; returns
    /// that callback URL without calling it.
    pub async fn authenticate_at_emulator(&self, b: &mut Browser, authorize: &Url, login: &str, password: &str) -> Url {
        self.authenticate_for(&self.origin(), b, authorize, login, password).await
    }

    /// [`TestApp::authenticate_at_emulator`] for a sign-in that returns to `origin`.
    pub async fn authenticate_for(&self, origin: &str, b: &mut Browser, authorize: &Url, login: &str, pw: &str) -> Url {
        let mut r = b.get(authorize.as_str()).await;
        for _ in 0..10 {
            if let Some(loc) = r.location() {
                let next = r.url.join(loc).unwrap();
                if next.as_str().starts_with(origin) {
                    return next;
                }
                r = b.get(next.as_str()).await;
                continue;
            }
            assert_eq!(r.status, 200, "unexpected page at {}: {}", r.url, r.text());
            let html = r.text();
            let action = form_action(&html, "login-form").unwrap_or_else(|| panic!("no login form in {html}"));
            let action = r.url.join(&action).unwrap();
            r = b.post_form(action.as_str(), &[("login", login), ("password", pw)]).await;
        }
        panic!("the emulator did not redirect back to the app");
    }

    /// A full sign-in: login → emulator login page → callback. Returns the callback's response.
    pub async fn sign_in(&self, b: &mut Browser, login: &str, password: &str) -> Resp {
        self.sign_in_at(&self.origin(), b, login, password).await
    }

    /// [`TestApp::sign_in`] on `origin` (an instance's host).
    pub async fn sign_in_at(&self, origin: &str, b: &mut Browser, login: &str, password: &str) -> Resp {
        let authorize = self.start_login_at(origin, b, Some("/")).await;
        let callback = self.authenticate_for(origin, b, &authorize, login, password).await;
        let r = b.get(callback.as_str()).await;
        assert_eq!(r.status, 302, "callback failed: {}", r.text());
        r
    }

    /// A call from the SPA: `X-CSRF: 1` and the app's own Origin.
    pub async fn api(
        &self,
        b: &mut Browser,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.api_at(&self.origin(), b, method, path, body, headers).await
    }

    /// [`TestApp::api`] on `origin` (an instance's host).
    pub async fn api_at(
        &self,
        origin: &str,
        b: &mut Browser,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut h: Vec<(&str, &str)> = vec![("x-csrf", "1")];
        h.extend_from_slice(headers);
        // As examples/spa/src/bff.ts: the body's hash, which the front door of /api/* requires.
        let hash = body.as_deref().map(content_sha256);
        if let Some(hash) = &hash {
            h.push(("x-amz-content-sha256", hash));
        }
        b.request(method, &format!("{origin}{path}"), &h, body).await
    }

    pub async fn session_json(&self, b: &mut Browser) -> Value {
        let r = self.api(b, Method::GET, "/auth/session", None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

/// The hex SHA-256 of a request body: its `x-amz-content-sha256` (CloudFront OAC in front of a function URL).
pub fn content_sha256(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes everything but ASCII letters and digits (a query parameter's value).
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The `action` of `<form … id="{id}" …>` (or of the first form when there is no such id).
pub fn form_action(html: &str, id: &str) -> Option<String> {
    let forms: Vec<&str> = html.split("<form").skip(1).collect();
    let form =
        forms.iter().find(|f| f.split('>').next().unwrap_or("").contains(&format!("id=\"{id}\""))).or(forms.first())?;
    let tag = form.split('>').next()?;
    let start = tag.find("action=\"")? + 8;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}
