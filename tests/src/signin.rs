//! The flows a browser goes through with the app: sign-in (login → the emulator's real login page → callback) and
//! the SPA's API calls.

use crate::{Browser, Resp, TestApp};
use reqwest::Method;
use serde_json::Value;
use url::Url;

impl TestApp {
    /// `GET /auth/login?returnUrl=…` → the authorize URL the BFF redirects to.
    pub async fn start_login(&self, b: &mut Browser, return_url: Option<&str>) -> Url {
        let url = match return_url {
            Some(r) => format!("{}/auth/login?returnUrl={}", self.origin(), enc(r)),
            None => format!("{}/auth/login", self.origin()),
        };
        let r = b.get(&url).await;
        assert_eq!(r.status, 302, "login should redirect: {}", r.text());
        Url::parse(r.location().expect("Location")).unwrap()
    }

    /// Drives the emulator's real login page from the authorize URL until it redirects back to the app; returns
    /// that callback URL without calling it.
    pub async fn authenticate_at_emulator(&self, b: &mut Browser, authorize: &Url, login: &str, password: &str) -> Url {
        let mut r = b.get(authorize.as_str()).await;
        for _ in 0..10 {
            if let Some(loc) = r.location() {
                let next = r.url.join(loc).unwrap();
                if next.as_str().starts_with(&self.origin()) {
                    return next;
                }
                r = b.get(next.as_str()).await;
                continue;
            }
            assert_eq!(r.status, 200, "unexpected page at {}: {}", r.url, r.text());
            let html = r.text();
            let action = form_action(&html, "login-form").unwrap_or_else(|| panic!("no login form in {html}"));
            let action = r.url.join(&action).unwrap();
            r = b.post_form(action.as_str(), &[("login", login), ("password", password)]).await;
        }
        panic!("the emulator did not redirect back to the app");
    }

    /// A full sign-in: login → emulator login page → callback. Returns the callback's response.
    pub async fn sign_in(&self, b: &mut Browser, login: &str, password: &str) -> Resp {
        let authorize = self.start_login(b, Some("/")).await;
        let callback = self.authenticate_at_emulator(b, &authorize, login, password).await;
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
        let mut h: Vec<(&str, &str)> = vec![("x-csrf", "1")];
        h.extend_from_slice(headers);
        b.request(method, &self.url(path), &h, body).await
    }

    pub async fn session_json(&self, b: &mut Browser) -> Value {
        let r = self.api(b, Method::GET, "/auth/session", None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
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
