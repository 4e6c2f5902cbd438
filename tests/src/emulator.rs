//! The ERP.net emulator's test hooks (`/__emulator/*`: counters, issued secrets, received requests, fault
//! switches), as seen from a [`TestApp`].

use crate::TestApp;
use serde_json::Value;

impl TestApp {
    /// A JSON document of the emulator's test hooks, e.g. `/__emulator/stats`.
    pub async fn emulator_json(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.emulator.origin());
        self.http.get(&url).send().await.unwrap().json().await.unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    pub async fn emulator_stats(&self) -> Value {
        self.emulator_json("/__emulator/stats").await
    }

    /// Every token, code, verifier and client secret the identity server issued or received.
    pub async fn emulator_secrets(&self) -> Value {
        self.emulator_json("/__emulator/secrets").await
    }

    /// The API requests the emulator received (method, rawUrl, headers, body base64), oldest first.
    pub async fn emulator_requests(&self) -> Vec<Value> {
        match self.emulator_json("/__emulator/requests").await {
            Value::Array(a) => a,
            Value::Object(mut o) => o.remove("requests").and_then(|r| r.as_array().cloned()).unwrap_or_default(),
            _ => vec![],
        }
    }

    /// Fault switches (the body replaces the whole set; `{}` switches all off).
    pub async fn emulator_control(&self, body: Value) {
        let r =
            self.http.post(format!("{}/__emulator/control", self.emulator.origin())).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "emulator control refused: {}", r.status());
    }
}
