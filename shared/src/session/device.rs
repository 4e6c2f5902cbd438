//! A coarse device label from the `User-Agent` of the browser that signed in: the browser's family and the OS, no
//! versions, nothing else ("Chrome on Windows"). Shown in "Your sessions" so a user can tell their devices apart.

/// `"<browser> on <OS>"`, or `"Unknown browser"` parts where the User-Agent says nothing recognisable.
pub fn label(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    format!("{} on {}", browser(ua), os(ua))
}

fn browser(ua: &str) -> &'static str {
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    BROWSERS.iter().find(|(needle, _)| ua.contains(needle)).map(|(_, name)| *name).unwrap_or("Unknown browser")
}

fn os(ua: &str) -> &'static str {
    const SYSTEMS: &[(&str, &str)] = &[
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS.iter().find(|(needle, _)| ua.contains(needle)).map(|(_, name)| *name).unwrap_or("unknown OS")
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn browser_and_os_only() {
        for (ua, expected) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 \
                 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 \
                 Safari/537.36",
                "Chrome on Linux",
            ),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on macOS"),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "Unknown browser on unknown OS"),
        ] {
            assert_eq!(label(Some(ua)), expected, "{ua}");
        }
        assert_eq!(label(None), "Unknown browser on unknown OS");
        assert!(!label(Some("Chrome/131.0.6778.86 (Windows)")).contains("131"), "no versions");
    }
}
