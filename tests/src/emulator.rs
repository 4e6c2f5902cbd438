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

impl TestApp {
    /// The refresh tokens the identity server issued, oldest first.
    pub async fn issued_refresh_tokens(&self) -> Vec<String> {
        self.emulator_secrets().await["refreshTokens"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    /// Spends `refresh_token` at the identity server's token endpoint as the BFF would: whether it was accepted.
    /// (A live one is spent by this: call it only on a token expected to be dead, or as the very last check.)
    pub async fn refresh_token_accepted(&self, refresh_token: &str) -> bool {
        let r = self
            .http
            .post(format!("{}/connect/token", self.emulator.issuer()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", crate::CLIENT_ID),
                ("client_secret", crate::CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap();
        r.status().is_success()
    }

    /// How many times the identity server's revocation endpoint was called.
    pub async fn revocations(&self) -> i64 {
        self.emulator_stats().await["revocation"].as_i64().unwrap()
    }
}
