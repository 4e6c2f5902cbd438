//! What the local stack counts: DynamoDB operations (the ddb-proxy, `infra/ddb-proxy.js`) and identity-server and
//! API calls (the emulator's stats), read into typed figures.

use crate::stack::Ctx;
use crate::stats::Samples;
use serde_json::Value;
use std::collections::BTreeMap;
use tests::runtime::Outcome;

/// The ddb-proxy's operation counters since its last reset.
#[derive(Debug, Default, Clone)]
pub struct DdbCounts {
    /// Per operation (`GetItem`, `UpdateItem`, …).
    pub ops: BTreeMap<String, u64>,
    pub total: u64,
}

impl DdbCounts {
    pub fn from_stats(stats: &Value) -> DdbCounts {
        let ops = stats["ops"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
            .unwrap_or_default();
        DdbCounts { ops, total: stats["total"].as_u64().unwrap_or(0) }
    }

    pub fn op(&self, name: &str) -> u64 {
        self.ops.get(name).copied().unwrap_or(0)
    }

    pub fn writes(&self) -> u64 {
        ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"].iter().map(|k| self.op(k)).sum()
    }
}

/// The emulator's counters between two stats snapshots.
#[derive(Debug, Default, Clone, Copy)]
pub struct Upstream {
    /// Identity-server calls: the token endpoint (any grant), authorize, userinfo, revocation, end session.
    pub idp: i64,
    /// Of which refresh-token grants.
    pub refresh_grants: i64,
    /// API calls.
    pub api: i64,
}

impl Upstream {
    pub fn between(a: &Value, b: &Value) -> Upstream {
        let n = |v: &Value, p: &[&str]| p.iter().fold(v, |v, k| &v[*k]).as_i64().unwrap_or(0);
        let d = |p: &[&str]| n(b, p) - n(a, p);
        let grants: i64 = ["authorization_code", "refresh_token", "other"].iter().map(|g| d(&["token", g])).sum();
        let others: i64 = ["authorize", "userinfo", "revocation", "endSession"].iter().map(|k| d(&[*k])).sum();
        Upstream { idp: grants + others, refresh_grants: d(&["token", "refresh_token"]), api: d(&["api"]) }
    }
}

/// DynamoDB and upstream calls over a stretch of calls.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub ddb: DdbCounts,
    pub upstream: Upstream,
}

/// A fresh process of one function against the counting ddb-proxy: its first call, then `n` warm ones, each
/// stretch counted on its own; every call must answer 200.
pub struct Counted {
    pub first: Outcome,
    pub first_counts: Counts,
    /// The warm calls' durations.
    pub warm: Samples,
    pub warm_counts: Counts,
    pub n: usize,
}

pub async fn counted(ctx: &Ctx, name: &str, ev: &Value, n: usize) -> Counted {
    ctx.app.ddb_reset().await;
    let s0 = ctx.app.emulator_stats().await;
    let p = ctx.start(name, &ctx.env_counted).await;
    let first = p.call(ev).await;
    assert_eq!(first.status(), 200, "{name}: {}", String::from_utf8_lossy(&first.body));
    let ddb_first = DdbCounts::from_stats(&ctx.app.ddb_stats().await);
    let s1 = ctx.app.emulator_stats().await;
    ctx.app.ddb_reset().await;
    let mut warm = Samples::default();
    for _ in 0..n {
        let o = p.call(ev).await;
        assert_eq!(o.status(), 200, "{name}: {}", String::from_utf8_lossy(&o.body));
        warm.push(o.duration());
    }
    let ddb_warm = DdbCounts::from_stats(&ctx.app.ddb_stats().await);
    let s2 = ctx.app.emulator_stats().await;
    Counted {
        first,
        first_counts: Counts { ddb: ddb_first, upstream: Upstream::between(&s0, &s1) },
        warm,
        warm_counts: Counts { ddb: ddb_warm, upstream: Upstream::between(&s1, &s2) },
        n,
    }
}
