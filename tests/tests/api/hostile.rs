//! The hostile-input suite: every route with missing, duplicated, oversized, malformed and hostile parameters,
//! headers, cookies and bodies. For every case: never a 5xx, the documented status and problem+json `code`, and the
//! live session of the same browser is unchanged afterwards.

use shared::http::cookies::SESSION;
use tests::{Browser, Options, spawn_app_with};

/// What a case must answer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// This status with a problem+json body carrying this code.
    Problem(u16, &'static str),
    /// One of these statuses (a success, a redirect, or a refusal by the HTTP layer before any handler).
    Status(&'static [u16]),
}
pub(crate) use Expect::*;

pub(crate) struct Case {
    pub(crate) name: String,
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    expect: Expect,
}

pub(crate) fn case(name: &str, method: &'static str, target: &str, headers: &[(&str, &str)], expect: Expect) -> Case {
    Case {
        name: name.into(),
        method,
        target: target.into(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: vec![],
        expect,
    }
}

const CSRF: (&str, &str) = ("X-CSRF", "1");
const API: &str = "/api/domain/odata/Crm_Sales_Customers";

fn cases(origin: &str, session: &str, sid: &str) -> Vec<Case> {
    let big = "x".repeat(10 * 1024);
    let real = format!("{SESSION}={session}");
    // The login cookie the callback looks for when state=b.
    let login = shared::http::cookies::login_name("b");
    let mut c = vec![
        // /auth/session: the CSRF gate and cookies.
        case("session without X-CSRF", "GET", "/auth/session", &[], Problem(403, "csrf_required")),
        case("session X-CSRF: 0", "GET", "/auth/session", &[("X-CSRF", "0")], Problem(403, "csrf_required")),
        case("session X-CSRF: true", "GET", "/auth/session", &[("X-CSRF", "true")], Problem(403, "csrf_required")),
        case("session X-CSRF: 1,1", "GET", "/auth/session", &[("X-CSRF", "1,1")], Problem(403, "csrf_required")),
        // Repeated header lines: API Gateway joins them with a comma (the next cases); cargo lambda keeps one line.
        case("session X-CSRF twice", "GET", "/auth/session", &[CSRF, CSRF], Status(&[200, 403])),
        case("session X-CSRF 10 KB", "GET", "/auth/session", &[("X-CSRF", &big)], Problem(403, "csrf_required")),
        case(
            "session foreign Origin",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", "https://evil.example")],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "session Origin null",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", "null")],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "session Origin suffix",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", &format!("{origin}.evil.example"))],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "session Origin trailing slash",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", &format!("{origin}/"))],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "session Origin https variant",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", &origin.replace("http://", "https://"))],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "session Origin twice",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", origin), ("Origin", "https://evil.example")],
            Status(&[200, 403]),
        ),
        case(
            "session Origin comma-joined",
            "GET",
            "/auth/session",
            &[CSRF, ("Origin", &format!("{origin},https://evil.example"))],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "session Sec-Fetch-Site cross-site",
            "GET",
            "/auth/session",
            &[CSRF, ("Sec-Fetch-Site", "cross-site")],
            Problem(403, "origin_not_allowed"),
        ),
        case("session POST", "POST", "/auth/session", &[CSRF], Problem(405, "method_not_allowed")),
        case("session DELETE", "DELETE", "/auth/session", &[CSRF], Problem(405, "method_not_allowed")),
        case("session PUT", "PUT", "/auth/session", &[CSRF], Problem(405, "method_not_allowed")),
        case(
            "session duplicate session cookies",
            "GET",
            "/auth/session",
            &[CSRF, ("Cookie", &format!("{real}; {SESSION}={}", "A".repeat(43)))],
            Problem(400, "invalid_request"),
        ),
        case(
            "session cookie 10 KB",
            "GET",
            "/auth/session",
            &[CSRF, ("Cookie", &format!("{SESSION}={big}"))],
            Status(&[200]),
        ),
        case(
            "session cookie traversal",
            "GET",
            "/auth/session",
            &[CSRF, ("Cookie", &format!("{SESSION}=../../../../etc/passwd"))],
            Status(&[200]),
        ),
        case(
            "session cookie look-alike",
            "GET",
            "/auth/session",
            &[CSRF, ("Cookie", &format!("{SESSION}={}", session.replace('A', "Α")))],
            Status(&[200]),
        ),
        case(
            "session cookie quoted",
            "GET",
            "/auth/session",
            &[CSRF, ("Cookie", &format!("{SESSION}=\"{session}\""))],
            Status(&[200]),
        ),
        case(
            "session 200 junk cookies around the real one",
            "GET",
            "/auth/session",
            &[
                CSRF,
                (
                    "Cookie",
                    &format!("{}; {real}", (0..200).map(|i| format!("junk{i}=v{i}")).collect::<Vec<_>>().join("; ")),
                ),
            ],
            Status(&[200]),
        ),
        case(
            "session cookie without prefix",
            "GET",
            "/auth/session",
            &[CSRF, ("Cookie", &format!("bff-session={session}"))],
            Status(&[200]),
        ),
        // /auth/refresh: gate and methods (a successful refresh would change the session on purpose).
        case("refresh without X-CSRF", "POST", "/auth/refresh", &[], Problem(403, "csrf_required")),
        case(
            "refresh foreign Origin",
            "POST",
            "/auth/refresh",
            &[CSRF, ("Origin", "https://evil.example")],
            Problem(403, "origin_not_allowed"),
        ),
        case("refresh GET", "GET", "/auth/refresh", &[CSRF], Problem(405, "method_not_allowed")),
        case("refresh PUT", "PUT", "/auth/refresh", &[CSRF], Problem(405, "method_not_allowed")),
        case(
            "refresh bogus session",
            "POST",
            "/auth/refresh",
            &[CSRF, ("Cookie", &format!("{SESSION}={}", "B".repeat(43)))],
            Problem(401, "session_expired"),
        ),
        case(
            "refresh no session",
            "POST",
            "/auth/refresh",
            &[CSRF, ("Cookie", "other=1")],
            Problem(401, "not_authenticated"),
        ),
        // /auth/login: hostile return URLs never fail a sign-in and never leave the origin.
        case("login //evil", "GET", "/auth/login?returnUrl=//evil.example", &[], Status(&[302])),
        case("login /\\evil", "GET", "/auth/login?returnUrl=/%5Cevil.example", &[], Status(&[302])),
        case("login javascript:", "GET", "/auth/login?returnUrl=javascript:alert(1)", &[], Status(&[302])),
        case("login encoded //", "GET", "/auth/login?returnUrl=%2F%2Fevil.example", &[], Status(&[302])),
        case("login double-encoded //", "GET", "/auth/login?returnUrl=/%252F%252Fevil.example", &[], Status(&[302])),
        case("login absolute URL", "GET", "/auth/login?returnUrl=https://evil.example/", &[], Status(&[302])),
        case("login CRLF", "GET", "/auth/login?returnUrl=/x%0d%0aSet-Cookie:%20a=b", &[], Status(&[302])),
        case("login NUL", "GET", "/auth/login?returnUrl=/x%00y", &[], Status(&[302])),
        case("login 10 KB returnUrl", "GET", &format!("/auth/login?returnUrl=/{big}"), &[], Status(&[302])),
        case("login returnUrl twice", "GET", "/auth/login?returnUrl=/a&returnUrl=//evil", &[], Status(&[302])),
        case("login unicode slash", "GET", "/auth/login?returnUrl=/%EF%BC%8Fevil.example", &[], Status(&[302])),
        case("login prompt=none", "GET", "/auth/login?prompt=none", &[], Status(&[302])),
        case(
            "login junk params",
            "GET",
            &format!("/auth/login?{}", (0..100).map(|i| format!("p{i}=v")).collect::<Vec<_>>().join("&")),
            &[],
            Status(&[302]),
        ),
        case("login POST", "POST", "/auth/login", &[], Problem(405, "method_not_allowed")),
        case("login DELETE", "DELETE", "/auth/login", &[], Problem(405, "method_not_allowed")),
        // /auth/callback.
        case("callback no params", "GET", "/auth/callback", &[], Problem(400, "invalid_request")),
        case("callback code only", "GET", "/auth/callback?code=abc", &[], Problem(400, "invalid_request")),
        case("callback unknown state", "GET", "/auth/callback?code=abc&state=nope", &[], Problem(400, "login_failed")),
        case("callback empty state", "GET", "/auth/callback?code=abc&state=", &[], Problem(400, "login_failed")),
        case(
            "callback state twice",
            "GET",
            "/auth/callback?code=abc&state=a&state=b",
            &[],
            Problem(400, "invalid_request"),
        ),
        case(
            "callback code twice",
            "GET",
            "/auth/callback?code=a&code=b&state=nope",
            &[],
            Problem(400, "login_failed"),
        ),
        case(
            "callback state 10 KB",
            "GET",
            &format!("/auth/callback?code=abc&state={big}"),
            &[],
            Problem(400, "login_failed"),
        ),
        case("callback state NUL", "GET", "/auth/callback?code=abc&state=a%00b", &[], Problem(400, "login_failed")),
        case(
            "callback error with unknown state",
            "GET",
            "/auth/callback?error=access_denied&state=nope",
            &[],
            Problem(400, "login_failed"),
        ),
        case(
            "callback error CRLF",
            "GET",
            "/auth/callback?error=x%0d%0aLocation:%20//evil&state=nope",
            &[],
            Problem(400, "login_failed"),
        ),
        case(
            "callback foreign iss",
            "GET",
            "/auth/callback?code=abc&state=nope&iss=https://evil.example",
            &[],
            Problem(400, "login_failed"),
        ),
        case(
            "callback POST in query mode",
            "POST",
            "/auth/callback",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Problem(405, "method_not_allowed"),
        ),
        case("callback DELETE", "DELETE", "/auth/callback?code=a&state=b", &[], Problem(405, "method_not_allowed")),
        case(
            "callback login cookie twice",
            "GET",
            "/auth/callback?code=a&state=b",
            &[("Cookie", &format!("{login}={}; {login}={}", "A".repeat(43), "B".repeat(43)))],
            Problem(400, "invalid_request"),
        ),
        case(
            "callback login cookie garbage",
            "GET",
            "/auth/callback?code=a&state=b",
            &[("Cookie", &format!("{login}=<script>"))],
            Problem(400, "login_failed"),
        ),
        case(
            "callback no login cookie",
            "GET",
            "/auth/callback?code=a&state=b",
            &[("Cookie", &real)],
            Problem(400, "login_failed"),
        ),
        // /auth/logout: without the session's own sid nothing happens.
        case("logout no sid", "GET", "/auth/logout", &[], Problem(400, "invalid_request")),
        case("logout empty sid", "GET", "/auth/logout?sid=", &[], Problem(400, "invalid_request")),
        case(
            "logout wrong sid",
            "GET",
            "/auth/logout?sid=AAAAAAAAAAAAAAAAAAAAAA",
            &[],
            Problem(400, "invalid_request"),
        ),
        case("logout sid twice", "GET", &format!("/auth/logout?sid={sid}&sid=x"), &[], Problem(400, "invalid_request")),
        case("logout sid 10 KB", "GET", &format!("/auth/logout?sid={big}"), &[], Problem(400, "invalid_request")),
        case("logout sid CRLF", "GET", "/auth/logout?sid=a%0d%0aSet-Cookie:x", &[], Problem(400, "invalid_request")),
        case(
            "logout sid prefix of the real one",
            "GET",
            &format!("/auth/logout?sid={}", &sid[..sid.len() - 1]),
            &[],
            Problem(400, "invalid_request"),
        ),
        case("logout POST", "POST", &format!("/auth/logout?sid={sid}"), &[], Problem(405, "method_not_allowed")),
        case("logout DELETE", "DELETE", &format!("/auth/logout?sid={sid}"), &[], Problem(405, "method_not_allowed")),
        // /api: paths.
        case("api %2e%2e", "GET", "/api/domain/odata/%2e%2e/%2e%2e/secret", &[CSRF], Problem(403, "path_not_allowed")),
        case("api %2E%2E upper", "GET", "/api/domain/odata/%2E%2E/x", &[CSRF], Problem(403, "path_not_allowed")),
        case("api ..%2f", "GET", "/api/domain/odata/..%2f..%2fx", &[CSRF], Problem(403, "path_not_allowed")),
        case("api %2f", "GET", "/api/domain%2fodata/x", &[CSRF], Problem(403, "path_not_allowed")),
        case("api double encoding", "GET", "/api/domain/odata/%252e%252e/x", &[CSRF], Problem(403, "path_not_allowed")),
        case("api %5c", "GET", "/api/domain/odata/x%5c..%5cy", &[CSRF], Problem(403, "path_not_allowed")),
        case(
            "api absolute URL",
            "GET",
            "/api/http://evil.example/domain/odata/",
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        case(
            "api scheme-relative",
            "GET",
            "/api//evil.example/domain/odata/",
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        case("api userinfo @", "GET", "/api/domain/odata/x@evil.example", &[CSRF], Problem(403, "path_not_allowed")),
        case(
            "api empty segment",
            "GET",
            "/api/domain/odata//Crm_Sales_Customers",
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        case(
            "api dot segment",
            "GET",
            "/api/domain/odata/./Crm_Sales_Customers",
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        case("api NUL", "GET", "/api/domain/odata/Crm_Sales_Customers%00", &[CSRF], Problem(403, "path_not_allowed")),
        case(
            "api CRLF",
            "GET",
            "/api/domain/odata/Crm%0d%0aX-Injected:%201",
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        case(
            "api case bypass",
            "GET",
            "/api/Domain/OData/Crm_Sales_Customers",
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        case("api outside allowlist", "GET", "/api/admin/users", &[CSRF], Problem(403, "path_not_allowed")),
        case("api bare prefix", "GET", "/api/domain/odata", &[CSRF], Problem(403, "path_not_allowed")),
        case("api malformed %", "GET", "/api/domain/odata/%u002e", &[CSRF], Problem(403, "path_not_allowed")),
        case("api encoded ?", "GET", "/api/domain/odata/x%3fy", &[CSRF], Problem(403, "path_not_allowed")),
        case(
            "api 3000-char path",
            "GET",
            &format!("/api/domain/odata/{}", "a".repeat(3000)),
            &[CSRF],
            Problem(403, "path_not_allowed"),
        ),
        // /api: methods, gate, bodies, sessions.
        case("api OPTIONS", "OPTIONS", API, &[CSRF], Problem(405, "method_not_allowed")),
        case("api TRACE", "TRACE", API, &[CSRF], Problem(405, "method_not_allowed")),
        case("api PROPFIND", "PROPFIND", API, &[CSRF], Problem(405, "method_not_allowed")),
        case("api without X-CSRF", "GET", API, &[], Problem(403, "csrf_required")),
        case(
            "api foreign Origin",
            "GET",
            API,
            &[CSRF, ("Origin", "https://evil.example")],
            Problem(403, "origin_not_allowed"),
        ),
        case(
            "api bogus session",
            "GET",
            API,
            &[CSRF, ("Cookie", &format!("{SESSION}={}", "B".repeat(43)))],
            Problem(401, "session_expired"),
        ),
        case(
            "api no session",
            "GET",
            API,
            &[CSRF, ("Cookie", "ErpContextParameters=x")],
            Problem(401, "not_authenticated"),
        ),
        case(
            "api duplicate session cookies",
            "GET",
            API,
            &[CSRF, ("Cookie", &format!("{real}; {SESSION}={}", "A".repeat(43)))],
            Problem(400, "invalid_request"),
        ),
        case(
            "api stolen Authorization ignored",
            "GET",
            &format!("{API}?$top=1"),
            &[CSRF, ("Authorization", "Bearer eyJhbGciOiJub25lIn0.e30.")],
            Status(&[200]),
        ),
        case(
            "api X-Forwarded-Host ignored",
            "GET",
            &format!("{API}?$top=1"),
            &[CSRF, ("X-Forwarded-Host", "evil.example")],
            Status(&[200]),
        ),
        case(
            "api 10 KB junk cookie beside the session",
            "GET",
            &format!("{API}?$top=1"),
            &[CSRF, ("Cookie", &format!("junk={big}; {real}"))],
            Status(&[200]),
        ),
        case(
            "api hostile query passes to the API",
            "GET",
            &format!("{API}?$filter=Name%20eq%20'%3Cscript%3E'&$top=1"),
            &[CSRF],
            Status(&[200]),
        ),
        case("api unparseable $filter is the API's 400", "GET", &format!("{API}?$filter=((("), &[CSRF], Status(&[400])),
    ];
    let mut json_body =
        case("api invalid JSON body", "POST", API, &[CSRF, ("Content-Type", "application/json")], Status(&[400]));
    json_body.body = b"{\"Name\": ".to_vec();
    c.push(json_body);
    let mut huge = case(
        "api body over the limit",
        "POST",
        API,
        &[CSRF, ("Content-Type", "application/json")],
        Problem(413, "payload_too_large"),
    );
    huge.body = vec![b' '; 2 * 1024 * 1024];
    c.push(huge);
    let mut form_json = case(
        "refresh with a JSON body",
        "POST",
        "/auth/refresh",
        &[("Content-Type", "application/json")],
        Problem(403, "csrf_required"),
    );
    form_json.body = b"{\"force\":true}".to_vec();
    c.push(form_json);
    c
}

#[tokio::test]
async fn hostile_input_never_breaks_anything() {
    hostile_input_never_breaks_anything_on(false).await;
}

/// The same cases through the local front door, as through CloudFront in AWS (plus the front door's own; where it
/// answers otherwise, `front_door::hostile_expectation` says what and why).
#[tokio::test]
async fn hostile_input_never_breaks_anything_behind_the_front_door() {
    hostile_input_never_breaks_anything_on(true).await;
}

async fn hostile_input_never_breaks_anything_on(front_door: bool) {
    let app = spawn_app_with(Options { front_door, ..Default::default() }).await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let session = b.cookie("localhost", SESSION).unwrap();
    let logout_url = app.session_json(&mut b).await["logoutUrl"].as_str().unwrap().to_string();
    let sid = logout_url.split("sid=").nth(1).unwrap().to_string();
    let before = app.only_session().await;

    let mut cases = cases(&app.origin(), &session, &sid);
    assert!(cases.len() >= 80, "only {} cases", cases.len());
    if front_door {
        crate::front_door::hostile_cases(&mut cases);
    }
    let mut failures = vec![];
    for c in &mut cases {
        let hashed = c.headers.iter().any(|(k, _)| k == "x-amz-content-sha256");
        if front_door && c.target.starts_with("/api") && !c.body.is_empty() && !hashed {
            // As the SPA does (examples/spa/src/bff.ts): the body's hash, without which the front door refuses it.
            c.headers.push(("x-amz-content-sha256".into(), tests::content_sha256(&c.body)));
        }
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = b.raw(&app.origin(), c.method, &c.target, &headers, &c.body).await;
        // A refusal may clear cookies in this jar; the real browser's session cookie is what we keep testing with.
        b.set_cookie("localhost", SESSION, &session);
        let ct = r.header("content-type").unwrap_or("").to_string();
        let expect = front_door.then(|| crate::front_door::hostile_expectation(&c.name)).flatten().unwrap_or(c.expect);
        let ok = match expect {
            _ if r.status >= 500 => false,
            Problem(status, code) => {
                r.status == status
                    && ct == "application/problem+json"
                    && serde_json::from_slice::<serde_json::Value>(&r.body)
                        .is_ok_and(|v| v["code"] == code && v["status"] == status)
            }
            Status(list) => list.contains(&r.status),
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {} {} {}",
                c.name,
                expect,
                r.status,
                ct,
                r.text().chars().take(200).collect::<String>()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

    // The live session is exactly as it was, and still works.
    let after = app.only_session().await;
    for attr in [
        shared::session::store::attr::TOK,
        shared::session::store::attr::VER,
        shared::session::store::attr::CLAIMS,
        shared::session::store::attr::AT_EXP,
        shared::session::store::attr::ABS_EXP,
    ] {
        assert_eq!(before[attr], after[attr], "{attr} changed");
    }
    let s = app.session_json(&mut b).await;
    assert_eq!(s["user"]["sub"], "demo");
    assert_eq!(app.emulator_stats().await["endSession"], 0);
    println!("hostile-input cases: {}", cases.len());
}
