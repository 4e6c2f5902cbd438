//! Which host a request was sent to: `X-Forwarded-Host` (CloudFront sets it from the viewer's `Host`, overwriting
//! whatever the viewer sent; a request around CloudFront is refused by the front-door gate) or else `Host` (the
//! local stack, where the Vite proxy keeps the browser's `Host`).

use super::key::InstanceKey;
use lambda_http::http::HeaderMap;

#[derive(Debug, PartialEq, Eq)]
pub enum Host {
    /// The app's own host: the environment's instance.
    App,
    /// `<key>.<app host>`.
    Instance(InstanceKey),
    /// Anything else (another domain, a deeper subdomain, an IP address, none at all).
    Other,
}

impl Host {
    pub fn of(headers: &HeaderMap, app_host: &str) -> Host {
        let sent = headers.get("x-forwarded-host").or_else(|| headers.get("host"));
        let Some(host) = sent.and_then(|v| v.to_str().ok()) else { return Host::Other };
        // A proxy chain may list several: the first is the viewer's.
        let host = host.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        if host == app_host {
            return Host::App;
        }
        let label = host.strip_suffix(app_host).and_then(|h| h.strip_suffix('.'));
        // `default.<app host>` is no instance: the environment's instance has the app's own host, and its sessions
        // must not be reachable under a registry entry of that name.
        let key = label.and_then(InstanceKey::parse).filter(|k| !k.is_default());
        key.map_or(Host::Other, Host::Instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pairs: &[(&'static str, &str)]) -> Host {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        Host::of(&h, "localhost:5173")
    }

    #[test]
    fn the_first_label_before_the_app_host_names_the_instance() {
        let key = |k: &str| Host::Instance(InstanceKey::parse(k).unwrap());
        assert_eq!(of(&[("host", "localhost:5173")]), Host::App);
        assert_eq!(of(&[("host", "acme.localhost:5173")]), key("acme"));
        assert_eq!(of(&[("host", "GLOBEX.localhost:5173")]), key("globex"));
        assert_eq!(of(&[("host", "x"), ("x-forwarded-host", "acme.localhost:5173")]), key("acme"));
        for other in
            ["a.b.localhost:5173", "acme.localhost:5174", "localhost", "evil.example", "acme.localhost:5173.evil"]
        {
            assert_eq!(of(&[("host", other)]), Host::Other, "{other}");
        }
        assert_eq!(of(&[]), Host::Other);
    }
}
