//! OData `$batch` through the real stack: the proxy's allowlist applies to every inner request of a JSON batch and
//! of a `multipart/mixed` batch (changesets too). Valid batches pass and the emulator answers them; a hostile inner
//! URL, host or an unreadable body is refused with its problem code, and nothing reaches the emulator.

use reqwest::Method;
use serde_json::{Value, json};
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
