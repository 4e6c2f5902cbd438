//! The functions' environment locally ([`crate::stack::BffConfig::env`]) against what template.yaml gives them with
//! its parameters' defaults (`Globals.Function.Environment` and each function's own, `!Ref` resolved to a
//! parameter's default where that is a plain value), so the local stack and AWS cannot part again. A variable that
//! must differ locally is in [`DIFFERS_LOCALLY`], with the reason.

use crate::stack::BffConfig;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The one allow-list: variables whose local value differs from the deployed one, or that only one side sets.
const DIFFERS_LOCALLY: &[(&str, &str)] = &[
    ("ERPNET_URL", "a required parameter without a default; locally the emulator's URL"),
    ("CLIENT_ID", "a required parameter without a default; locally the client the emulator registers"),
    ("CLIENT_SECRET_ARN", "AWS: the secret's ARN, read through the Secrets Manager extension (not there locally)"),
    ("CLIENT_SECRET", "locally the secret itself, in place of CLIENT_SECRET_ARN"),
    ("PUBLIC_ORIGIN", "https://{DomainName} in AWS; locally the app's origin on localhost"),
    ("SESSION_TABLE", "the stack's table; locally one table per stack in DynamoDB Local"),
    ("FRONT_DOOR_SECRET", "a generated secret (the proxy: empty, OAC signs); locally only behind the local front door"),
    (
        "BACKCHANNEL_LOGOUT",
        "template default false (whether ERP.net registers a back-channel URI is unknown); the emulator does, and the \
         tests of back-channel logout need it on",
    ),
    ("DBSC", "on by default in the code as in template.yaml; the local stack leaves it to the default"),
    (
        "DBSC_COOKIE_SECONDS",
        "600 by default in the code as in template.yaml; the tests that watch bound cookies expire set a few seconds",
    ),
    (
        "PROXY_BUFFERED_LIMIT_BYTES",
        "AWS: Lambda's 6 MiB (the code's default); locally 2 MiB, because cargo-lambda's watch (1.9.2) sometimes never \
         delivers a large buffered answer the function has sent (seen from about 4.9 MB of envelope): a buffered \
         answer between 2 and 6 MiB is a prompt 502 locally where AWS delivers it (the deployed default streams)",
    ),
    ("AWS_ENDPOINT_URL_DYNAMODB", "locally DynamoDB Local; AWS: the regional endpoint"),
    ("AWS_ACCESS_KEY_ID", "Lambda provides the role's credentials; DynamoDB Local takes dummy ones"),
    ("AWS_SECRET_ACCESS_KEY", "Lambda provides the role's credentials; DynamoDB Local takes dummy ones"),
    ("AWS_REGION", "Lambda sets the function's region; locally a fixed one for the SDK"),
];

/// A template value as the functions see it with the parameters' defaults; `None`: not a plain value (a resource,
/// `!Sub`, a parameter without a default).
fn resolve(v: &Value, defaults: &BTreeMap<String, String>) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) if t.tag == "!Ref" => defaults.get(t.value.as_str()?).cloned(),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref").and_then(|r| defaults.get(r.as_str()?).cloned()),
        _ => None,
    }
}

/// Every variable template.yaml gives any function, with the values (resolved, or `None`) it gives it per function.
fn deployed() -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let text = std::fs::read_to_string(crate::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let defaults: BTreeMap<String, String> = doc["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .iter()
        .filter_map(|(k, p)| {
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.as_str()?.to_string(), default))
        })
        .collect();
    let globals = doc["Globals"]["Function"]["Environment"]["Variables"].as_mapping().expect("Globals env").clone();
    let mut out: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    let functions = doc["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect::<Vec<_>>();
    assert_eq!(functions.len(), 6, "the six functions");
    for (id, f) in functions {
        let mut env = globals.clone();
        for (k, v) in f["Properties"]["Environment"]["Variables"].as_mapping().into_iter().flatten() {
            env.insert(k.clone(), v.clone());
        }
        for (k, v) in env {
            let name = k.as_str().expect("a variable name").to_string();
            out.entry(name).or_default().insert(id.as_str().unwrap().to_string(), resolve(&v, &defaults));
        }
    }
    out
}

fn local() -> BTreeMap<String, String> {
    let config = BffConfig {
        erpnet_url: "http://127.0.0.1:5005".into(),
        client_id: crate::stack::CLIENT_ID.into(),
        client_secret: "local-secret".into(),
        public_origin: "http://localhost:9000".into(),
        session_table: "sessions-local".into(),
        dynamodb_endpoint: "http://127.0.0.1:8000".into(),
        backchannel_logout: true,
        extra_env: vec![],
    };
    config.env().into_iter().collect()
}

#[test]
fn the_local_functions_get_the_environment_template_yaml_deploys_by_default() {
    let deployed = deployed();
    let local = local();
    let allowed: BTreeSet<&str> = DIFFERS_LOCALLY.iter().map(|(k, _)| *k).collect();
    let mut problems = vec![];
    for (name, per_function) in &deployed {
        if allowed.contains(name.as_str()) {
            continue;
        }
        // One environment for all six locally: a variable must mean the same wherever the template sets it.
        let values: BTreeSet<&Option<String>> = per_function.values().collect();
        match (values.into_iter().collect::<Vec<_>>().as_slice(), local.get(name)) {
            ([Some(value)], Some(l)) if l == value => {}
            ([Some(value)], l) => problems.push(format!("{name}: template.yaml's default {value:?}, locally {l:?}")),
            (values, _) => problems.push(format!("{name}: no one plain default in template.yaml ({values:?})")),
        }
    }
    for name in local.keys().filter(|k| !deployed.contains_key(*k) && !allowed.contains(k.as_str())) {
        problems.push(format!("{name}: set locally, not by template.yaml"));
    }
    for name in allowed.iter().filter(|k| !deployed.contains_key(**k) && !local.contains_key(**k)) {
        problems.push(format!("{name}: allow-listed but neither side sets it (drop it from DIFFERS_LOCALLY)"));
    }
    assert!(problems.is_empty(), "the local stack and template.yaml differ:\n{}", problems.join("\n"));
    assert_eq!(local["PROXY_STREAMING"], "true", "the proxy streams, as deployed by default");
    assert_eq!(deployed["PROXY_STREAMING"]["ProxyFunction"].as_deref(), Some("true"));
}

#[test]
fn refs_resolve_to_plain_parameter_defaults_only() {
    let defaults = BTreeMap::from([("A".to_string(), "1".to_string())]);
    let tagged = |tag: &str, v: &str| {
        Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: serde_yaml::value::Tag::new(tag),
            value: Value::String(v.into()),
        }))
    };
    assert_eq!(resolve(&tagged("!Ref", "A"), &defaults).as_deref(), Some("1"));
    assert_eq!(resolve(&tagged("!Ref", "SessionsTable"), &defaults), None);
    assert_eq!(resolve(&tagged("!Sub", "https://${A}"), &defaults), None);
    assert_eq!(resolve(&Value::String(String::new()), &defaults).as_deref(), Some(""));
}
