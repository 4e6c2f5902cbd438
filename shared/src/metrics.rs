//! Metrics as CloudWatch Embedded Metric Format (EMF) log lines: one JSON line per data point on stdout, which
//! CloudWatch Logs turns into metrics in namespace `ErpNetBff` with the dimension `FunctionName` (and, where a
//! metric has one, a second dimension set with its detail, e.g. `Reason`). No network call, no agent.
//! Values are counts and durations only: never a token, code or user identifier.

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "ErpNetBff";

fn function_name() -> &'static str {
    static NAME: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into()));
    &NAME
}

/// One EMF line with `metrics` (name, value, unit) under `FunctionName` and, if given, `FunctionName` + `detail`.
pub fn line(metrics: &[(&str, f64, &str)], detail: Option<(&str, &str)>) -> String {
    let mut dims = vec![json!(["FunctionName"])];
    let mut root = Map::new();
    root.insert("FunctionName".into(), Value::String(function_name().into()));
    if let Some((k, v)) = detail {
        dims.push(json!(["FunctionName", k]));
        root.insert(k.into(), Value::String(v.into()));
    }
    let defs: Vec<Value> = metrics.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u})).collect();
    for (n, v, _) in metrics {
        root.insert((*n).into(), json!(v));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": crate::time::UnixMillis::now().millis(),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dims, "Metrics": defs}],
        }),
    );
    Value::Object(root).to_string()
}

fn emit(metrics: &[(&str, f64, &str)], detail: Option<(&str, &str)>) {
    println!("{}", line(metrics, detail));
}

/// Every counted event: its metric name is defined here and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    SignIns,
    SignInFailures,
    SignOuts,
    Refreshes,
    RefreshFailures,
    /// Sessions ended from elsewhere, by `Reason` (`user`, `backchannel`).
    SessionsEnded,
    /// A proxied call's latency (milliseconds), with its upstream status class.
    ProxyLatency,
    /// A proxied call's upstream answer, by status class.
    UpstreamResponses,
    /// A refresh's exposure (milliseconds): from the token request sent to the new token set stored. A runtime
    /// that dies in it after the identity server rotated the refresh token loses the session (RELIABILITY.md).
    RefreshExposure,
    /// Its part after the token answer arrived (milliseconds): the identity server has surely rotated by then.
    RefreshCommitLatency,
}

impl Metric {
    pub const fn name(self) -> &'static str {
        match self {
            Metric::SignIns => "SignIns",
            Metric::SignInFailures => "SignInFailures",
            Metric::SignOuts => "SignOuts",
            Metric::Refreshes => "Refreshes",
            Metric::RefreshFailures => "RefreshFailures",
            Metric::SessionsEnded => "SessionsEnded",
            Metric::ProxyLatency => "ProxyLatency",
            Metric::UpstreamResponses => "UpstreamResponses",
            Metric::RefreshExposure => "RefreshExposure",
            Metric::RefreshCommitLatency => "RefreshCommitLatency",
        }
    }

    /// One occurrence.
    pub fn count(self) {
        emit(&[(self.name(), 1.0, "Count")], None);
    }

    /// One occurrence, with its `Reason` dimension (a machine code, never user data).
    pub fn count_because(self, reason: &str) {
        emit(&[(self.name(), 1.0, "Count")], Some(("Reason", reason)));
    }
}

/// A proxied call: its latency and the upstream's status class.
pub fn proxied(latency_ms: f64, status: u16) {
    let class = match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    emit(
        &[(Metric::ProxyLatency.name(), latency_ms, "Milliseconds"), (Metric::UpstreamResponses.name(), 1.0, "Count")],
        Some(("StatusClass", class)),
    );
}

/// A committed refresh: how long the session was exposed (token request sent → stored) and the part of that after
/// the token answer arrived.
pub fn refresh_exposure(exposure: std::time::Duration, after_answer: std::time::Duration) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    emit(
        &[
            (Metric::RefreshExposure.name(), ms(exposure), "Milliseconds"),
            (Metric::RefreshCommitLatency.name(), ms(after_answer), "Milliseconds"),
        ],
        None,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn emf_line_shape() {
        let v: serde_json::Value = serde_json::from_str(&super::line(
            &[(super::Metric::RefreshFailures.name(), 1.0, "Count")],
            Some(("Reason", "idp_timeout")),
        ))
        .unwrap();
        assert_eq!(v["RefreshFailures"], 1.0);
        assert_eq!(v["Reason"], "idp_timeout");
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "ErpNetBff");
        assert_eq!(m["Dimensions"], serde_json::json!([["FunctionName"], ["FunctionName", "Reason"]]));
        assert_eq!(m["Metrics"][0]["Name"], "RefreshFailures");
        assert!(v["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    }
}
