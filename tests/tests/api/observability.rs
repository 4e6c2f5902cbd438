//! Logs and metrics: JSON lines with the Lambda request id and a correlation id; CloudWatch EMF metric lines.

use reqwest::Method;
use tests::{Browser, spawn_app};

#[tokio::test]
async fn log_lines_carry_ids_and_metrics_are_emf() {
    let app = spawn_app().await;
    let mut b = Browser::new();
    app.sign_in(&mut b, "demo", "demo").await;
    let r = app
        .api(
            &mut b,
            Method::GET,
            "/api/domain/odata/Crm_Sales_Customers?$top=1",
            None,
            &[("x-correlation-id", "trace-abc-123")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-correlation-id"), Some("trace-abc-123"), "echoed to the caller");
    // A hostile correlation id is replaced, not echoed.
    let r = app.api(&mut b, Method::GET, "/auth/session", None, &[("x-correlation-id", "<script>")]).await;
    assert_ne!(r.header("x-correlation-id"), Some("<script>"));

    let logs = app.bff_logs();
    let lines: Vec<serde_json::Value> =
        logs.lines().filter(|l| l.starts_with('{')).filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ours: Vec<&serde_json::Value> =
        lines.iter().filter(|v| v["span"]["correlation_id"] == "trace-abc-123").collect();
    assert!(!ours.is_empty(), "the proxied call's lines carry the correlation id");
    assert!(ours.iter().all(|v| v["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty())));
    let request_lines: Vec<_> = lines.iter().filter(|v| v["message"] == "request").collect();
    assert!(request_lines.iter().all(|v| v["span"]["correlation_id"].as_str().is_some()), "every request line has one");

    let emf = |name: &str| lines.iter().filter(|v| v.get("_aws").is_some() && v.get(name).is_some()).count();
    assert_eq!(emf("SignIns"), 1);
    assert!(emf("ProxyLatency") >= 1);
    let proxy = lines.iter().find(|v| v.get("ProxyLatency").is_some()).unwrap();
    assert_eq!(proxy["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ErpNetBff");
    assert_eq!(proxy["StatusClass"], "2xx");
    assert_eq!(proxy["FunctionName"], "proxy");
}
