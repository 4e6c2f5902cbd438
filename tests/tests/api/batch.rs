//! OData `$batch` through the real stack: the proxy's allowlist applies to every inner request of a JSON batch and
//! of a `multipart/mixed` batch (changesets too). Valid batches pass and the emulator answers them; a hostile inner
//! URL, host or an unreadable body is refused with its problem code, and nothing reaches the emulator. The
//! emulator reads batches as ERP.net (Microsoft.OData) does, and its request log lists the inner requests it ran:
//! a body smuggling a request past the BFF's reading is refused, and for any body the BFF forwards, the requests
//! the emulator ran are the ones the BFF checked (the differential test).

use reqwest::Method;
use serde_json::{Value, json};
use shared::proxy::batch::{InnerRequest, Scope, check_body};
use tests::{Browser, TestApp, spawn_app};

const BATCH: &str = "/api/domain/odata/$batch";
const MP: &str = "multipart/mixed; boundary=batch_1";

fn get_part(url: &str) -> String {
    format!(
        "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET {url} HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
    )
}

fn multipart(urls: &[&str]) -> String {
    let parts: String = urls.iter().map(|u| get_part(u)).collect();
    format!("{parts}--batch_1--\r\n")
}

fn changeset(patch_url: &str) -> String {
    format!(
        "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs_1\r\n\r\n--cs_1\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPATCH {patch_url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{\"City\":\"Batchville\"}}\r\n--cs_1--\r\n"
    )
}

fn json_batch(urls: &[&str]) -> String {
    let requests: Vec<Value> =
        urls.iter().enumerate().map(|(i, u)| json!({"id": (i + 1).to_string(), "method": "GET", "url": u})).collect();
    json!({ "requests": requests }).to_string()
}

async fn post(app: &TestApp, b: &mut Browser, path: &str, content_type: &str, body: String) -> tests::Resp {
    app.api(b, Method::POST, path, Some(body.into_bytes()), &[("content-type", content_type)]).await
}

/// How many `$batch` requests the emulator received so far.
async fn batches_seen(app: &TestApp) -> usize {
    let seen = app.emulator_requests().await;
    seen.iter().filter(|r| r["rawUrl"].as_str().is_some_and(|u| u.contains("batch"))).count()
}

#[tokio::test]
async fn valid_json_and_multipart_batches_pass_through_and_answer_the_data() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let absolute = format!("{}/api/domain/odata/General_Products_Products?$top=1", app.emulator.origin());

    let r = post(&app, &mut b, BATCH, "application/json", json_batch(&["Crm_Sales_Customers?$top=2", &absolute])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answers = r.json()["responses"].as_array().cloned().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!((answers[0]["id"].as_str(), answers[0]["status"].as_u64()), (Some("1"), Some(200)));
    assert_eq!(answers[0]["body"]["value"].as_array().unwrap().len(), 2);
    assert_eq!(answers[0]["body"]["@emulator.user"], "demo", "the inner requests ran with the user's token");
    assert_eq!(answers[1]["body"]["value"][0]["PartNumber"], "P-1001");

    let customers = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await;
    let id = customers.json()["value"][0]["Id"].as_str().unwrap().to_string();
    let entity = format!("Crm_Sales_Customers({id})");
    // A GET (absolute path), a changeset with a PATCH, a GET of the patched entity.
    let first = get_part("/api/domain/odata/Crm_Sales_Customers?$top=2");
    let body = format!("{first}{}{}--batch_1--\r\n", changeset(&entity), get_part(&entity));
    let r = post(&app, &mut b, BATCH, MP, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("multipart/mixed; boundary="));
    let text = r.text();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert_eq!(text.matches("HTTP/1.1 204 No Content").count(), 1, "the changeset's PATCH: {text}");
    assert!(text.contains("\"City\":\"Batchville\""), "the GET after the PATCH sees it: {text}");
    assert_eq!(batches_seen(&app).await, 2, "both batches were forwarded once each");
}

#[tokio::test]
async fn hostile_batches_are_refused_and_nothing_is_forwarded() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let foreign = "https://evil.example/api/domain/odata/Crm_Sales_Customers";
    let host_header = r#"{"requests":[{"id":"1","method":"GET","url":"/api/domain/odata/Crm_Sales_Customers","headers":{"Host":"evil.example"}}]}"#;
    let cases: Vec<(&str, &str, &str, String, u16, &str)> = vec![
        (
            "json: foreign host",
            BATCH,
            "application/json",
            json_batch(&["Crm_Sales_Customers", foreign]),
            403,
            "path_not_allowed",
        ),
        (
            "json: ../ escape",
            BATCH,
            "application/json",
            json_batch(&["../../../id/connect/token"]),
            403,
            "path_not_allowed",
        ),
        (
            "json: encoded escape",
            BATCH,
            "application/json",
            json_batch(&["%2e%2e/%2e%2e/secret"]),
            403,
            "path_not_allowed",
        ),
        (
            "json: absolute path outside",
            BATCH,
            "application/json",
            json_batch(&["/id/connect/token"]),
            403,
            "path_not_allowed",
        ),
        ("json: foreign Host header", BATCH, "application/json", host_header.into(), 403, "path_not_allowed"),
        (
            "json: url not a string",
            BATCH,
            "application/json",
            r#"{"requests":[{"id":"1","method":"GET","url":42}]}"#.into(),
            400,
            "invalid_batch",
        ),
        ("json: not JSON", BATCH, "application/json", "{\"requests\":[".into(), 400, "invalid_batch"),
        ("multipart: foreign host", BATCH, MP, multipart(&["Crm_Sales_Customers", foreign]), 403, "path_not_allowed"),
        ("multipart: ../ escape", BATCH, MP, multipart(&["../admin"]), 403, "path_not_allowed"),
        ("multipart: encoded escape", BATCH, MP, multipart(&["..%2fadmin"]), 403, "path_not_allowed"),
        (
            "multipart: changeset with a bad URL",
            BATCH,
            MP,
            format!("{}--batch_1--\r\n", changeset("../../secret(1)")),
            403,
            "path_not_allowed",
        ),
        (
            "multipart: missing request line",
            BATCH,
            MP,
            "--batch_1\r\nContent-Type: application/http\r\n\r\nAccept: */*\r\n\r\n--batch_1--\r\n".into(),
            400,
            "invalid_batch",
        ),
        (
            "multipart: bad boundary",
            BATCH,
            "multipart/mixed; boundary=other",
            multipart(&["Crm_Sales_Customers"]),
            400,
            "invalid_batch",
        ),
        ("multipart: no boundary", BATCH, "multipart/mixed", multipart(&["Crm_Sales_Customers"]), 400, "invalid_batch"),
        ("other media type", BATCH, "text/plain", multipart(&["Crm_Sales_Customers"]), 400, "invalid_batch"),
        ("encoded $batch segment", "/api/domain/odata/%24batch", MP, multipart(&[foreign]), 403, "path_not_allowed"),
    ];
    for (name, path, content_type, body, status, code) in cases {
        let before = app.emulator_requests().await.len();
        let r = post(&app, &mut b, path, content_type, body).await;
        assert_eq!((r.status, r.problem_code().as_str()), (status, code), "{name}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{name}");
        assert_eq!(app.emulator_requests().await.len(), before, "{name}: nothing was forwarded");
    }
    assert_eq!(batches_seen(&app).await, 0);
    let r = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await;
    assert_eq!(r.status, 200, "the session is still good");
}

/// The issue's cases and their kin: each reads as one set of requests line by line, and as another to
/// Microsoft.OData (a delimiter with no line break before it, after a bare CR, or followed by other whitespace; a
/// bare CR in a request line; JSON members in another case, a second `requests`).
fn smuggled() -> Vec<(&'static str, &'static str, String)> {
    let hidden = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /api/domain/standardmodel HTTP/1.1\r\n\r\n";
    let carrier = |glue: &str| {
        format!(
            "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST Crm_Sales_Customers HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{}}{glue}{hidden}\r\n--batch_1--\r\n"
        )
    };
    vec![
        ("multipart: delimiter inside a line", MP, carrier("x--batch_1\r\n")),
        ("multipart: delimiter after a bare CR", MP, carrier("\r--batch_1\r\n")),
        ("multipart: VT after a delimiter", MP, carrier("\r\n--batch_1\x0b\r\n")),
        ("multipart: FF after a delimiter", MP, carrier("\r\n--batch_1\x0c\n")),
        (
            "multipart: bare CR in a request line",
            MP,
            "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\rHost:evil.example\r\n\r\n\r\n--batch_1--\r\n".into(),
        ),
        (
            "multipart: bare CR in a header",
            MP,
            "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET Crm_Sales_Customers HTTP/1.1\r\nAccept: */*\rHost: evil.example\r\n\r\n\r\n--batch_1--\r\n".into(),
        ),
        (
            "json: Headers in another case",
            "application/json",
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","Headers":{"Host":"evil.example"}}]}"#.into(),
        ),
        (
            "json: a second requests in another case",
            "application/json",
            r#"{"Requests":[{"id":"1","method":"GET","url":"/api/domain/standardmodel"}],"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers"}]}"#.into(),
        ),
        (
            "json: a url in two cases",
            "application/json",
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","URL":"/api/domain/standardmodel"}]}"#.into(),
        ),
        (
            "json: an unknown member",
            "application/json",
            r#"{"requests":[{"id":"1","method":"GET","url":"Crm_Sales_Customers","headerſ":{"Host":"evil.example"}}]}"#.into(),
        ),
    ]
}

#[tokio::test]
async fn smuggled_inner_requests_are_refused_and_never_reach_the_emulator() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    for (name, content_type, body) in smuggled() {
        let before = app.emulator_requests().await.len();
        let r = post(&app, &mut b, BATCH, content_type, body).await;
        assert!(
            matches!((r.status, r.problem_code().as_str()), (400, "invalid_batch") | (403, "path_not_allowed")),
            "{name}: {} {}",
            r.status,
            r.text()
        );
        assert_eq!(app.emulator_requests().await.len(), before, "{name}: nothing was forwarded");
    }
    assert_eq!(batches_seen(&app).await, 0);
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// One random edit: a piece inserted (delimiters, line ends, whitespace, members in other cases), a byte removed,
/// CR/LF swapped or a letter's case flipped, a slice duplicated or moved, the whole wrapped in a changeset.
fn mutate(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"\r",
        b"\n",
        b"\r\n",
        b" ",
        b"\t",
        b"\x0b",
        b"\x0c",
        b"\xc2\xa0",
        b"--batch_1",
        b"--batch_1--",
        b"--cs_1",
        b"\r\n--batch_1\r\n",
        b"x--batch_1\r\n",
        b"\"Requests\":[],",
        b"\"URL\":\"/api/x\",",
        b"\"Headers\":{\"Host\":\"e\"},",
        b"\"status\":1,",
        b"Host: evil.example\r\n",
        b"Content-Length: 2\r\n",
        b"Content-ID: 9\r\n",
        b"GET /api/domain/standardmodel HTTP/1.1\r\n",
        b"Content-Type: application/http\r\n\r\n",
    ];
    let mut out = body.to_vec();
    let at = rng.below(out.len() + 1);
    let end = (at + 1 + rng.below(60)).min(out.len()).max(at);
    match rng.below(6) {
        0 => drop(out.splice(at..at, PIECES[rng.below(PIECES.len())].iter().copied())),
        1 => drop(out.splice(at..end, [])),
        2 => {
            for c in out.iter_mut().skip(at).take(3) {
                *c = match *c {
                    b'\r' => b'\n',
                    b'\n' => b'\r',
                    c if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
                    c => c.to_ascii_lowercase(),
                };
            }
        }
        3 => {
            let piece = out[at..end].to_vec();
            drop(out.splice(end..end, piece));
        }
        4 => {
            let piece: Vec<u8> = out.splice(at..end, []).collect();
            let to = rng.below(out.len() + 1);
            drop(out.splice(to..to, piece));
        }
        _ => {
            let mut wrapped = b"--batch_1\r\nContent-Type: multipart/mixed; boundary=cs_1\r\n\r\n--cs_1\r\n".to_vec();
            wrapped.extend_from_slice(&out);
            wrapped.extend_from_slice(b"\r\n--cs_1--\r\n--batch_1--\r\n");
            out = wrapped;
        }
    }
    out
}

/// The inner requests the emulator ran for the last request it received (its log entry's `batch`).
fn ran(entry: &Value) -> Vec<InnerRequest> {
    entry["batch"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| InnerRequest {
                    method: r["method"].as_str().unwrap_or_default().to_string(),
                    url: r["url"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The differential test: for generated, adversarial and mutated bodies (the fuzz dictionary's pieces among the
/// mutations), either the BFF refuses the body and nothing reaches the emulator, or the requests the emulator ran
/// (reading the forwarded body as ERP.net would) are exactly the requests the BFF checked.
#[tokio::test]
async fn the_emulator_runs_exactly_the_requests_the_bff_checked() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let customers = app.api(&mut b, Method::GET, "/api/domain/odata/Crm_Sales_Customers?$top=1", None, &[]).await;
    let id = customers.json()["value"][0]["Id"].as_str().unwrap().to_string();
    let entity = format!("Crm_Sales_Customers({id})");
    let absolute = format!("{}/api/domain/odata/General_Products_Products?$top=1", app.emulator.origin());
    let base = format!("{}/api", app.emulator.origin());
    let allowlist = ["domain/odata/".to_string()];
    let scope = Scope { base: &base, root: "domain/odata/", allowlist: &allowlist };

    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (MP, multipart(&["Crm_Sales_Customers?$top=1", "/api/domain/odata/General_Products_Products?$top=1"]).into_bytes()),
        (MP, format!("{}{}--batch_1--\r\n", changeset(&entity), get_part(&entity)).into_bytes()),
        (MP, format!("preamble\n{}--batch_1--\nepilogue", get_part(&absolute)).replace("\r\n", "\n").into_bytes()),
        ("application/json", json_batch(&["Crm_Sales_Customers?$top=1", &absolute]).into_bytes()),
        (
            "application/json",
            json!({"requests": [
                {"id": "1", "atomicityGroup": "g", "method": "PATCH", "url": entity, "headers": {"Content-Type": "application/json"}, "body": {"City": "Diffville"}},
                {"id": "2", "dependsOn": ["g"], "method": "get", "url": entity, "headers": {"Accept": "application/json"}},
            ]})
            .to_string()
            .into_bytes(),
        ),
    ];
    let mut bodies: Vec<(&str, Vec<u8>)> = seeds.clone();
    bodies.extend(smuggled().into_iter().map(|(_, t, body)| (t, body.into_bytes())));
    let mut rng = Rng(0x0bad_5eed);
    for round in 0..600 {
        let (t, seed) = &seeds[round % seeds.len()];
        let mut body = seed.clone();
        for _ in 0..1 + rng.below(3) {
            body = mutate(&body, &mut rng);
        }
        bodies.push((t, body));
    }

    let (mut refused, mut forwarded, mut mismatches) = (0, 0, Vec::new());
    for (content_type, body) in &bodies {
        let checked = check_body(content_type, body, &scope);
        let last = app.emulator_requests().await.last().cloned();
        let r = app.api(&mut b, Method::POST, BATCH, Some(body.clone()), &[("content-type", content_type)]).await;
        let log = app.emulator_requests().await;
        let new: Vec<&Value> = match &last {
            Some(l) => log.iter().skip(log.iter().rposition(|e| e == l).map_or(0, |i| i + 1)).collect(),
            None => log.iter().collect(),
        };
        match checked {
            Err(e) => {
                refused += 1;
                assert_eq!((r.status, r.problem_code()), (e.status().as_u16(), e.code().to_string()), "{body:?}");
                assert!(new.is_empty(), "a refused body reached the emulator: {body:?}");
            }
            Ok(c) => {
                forwarded += 1;
                assert_eq!(new.len(), 1, "forwarded once: {body:?} ({} {})", r.status, r.text());
                if ran(new[0]) != c.requests {
                    mismatches.push((String::from_utf8_lossy(body).into_owned(), ran(new[0]), c.requests));
                }
            }
        }
    }
    eprintln!(
        "differential: {} bodies, {refused} refused, {forwarded} forwarded, {} mismatches",
        bodies.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(refused > 20 && forwarded > 20, "{refused} refused, {forwarded} forwarded");
}
