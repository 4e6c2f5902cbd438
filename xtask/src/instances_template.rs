//! template.yaml's part of the many-instances mode (docs/instances.md): the wildcard alias, the viewer-host
//! function on every behaviour (run under Node.js: it must overwrite what the viewer sent), the origin request
//! policies that forward its header, and the grants on the registered instances' secrets.

use super::{repo_root, untag};
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

/// `!If [cond, then, else]` → (cond, then, else).
fn branches(v: &Value) -> (&str, &Value, &Value) {
    let Value::Tagged(t) = v else { panic!("not an !If: {}", yaml(v)) };
    assert_eq!(t.tag.to_string(), "!If");
    let s = t.value.as_sequence().unwrap();
    (s[0].as_str().unwrap(), &s[1], &s[2])
}

const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

#[test]
fn the_registry_adds_the_wildcard_alias_and_the_functions_get_its_settings() {
    let doc = template();
    let cond = yaml(&doc["Conditions"]["HasInstanceRegistry"]);
    assert!(cond.contains("!Equals") && cond.contains("InstanceRegistry") && cond.contains("'true'"), "{cond}");
    assert_eq!(doc["Parameters"]["InstanceRegistry"]["Default"], "false", "single-instance unless asked for");
    let aliases = &doc["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Aliases"];
    let (cond, on, off) = branches(aliases);
    assert_eq!(cond, "HasInstanceRegistry");
    let names = |v: &Value| -> Vec<String> {
        v.as_sequence().unwrap().iter().map(|a| untag(a).as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(on), vec!["DomainName".to_string(), "*.${DomainName}".to_string()]);
    assert_eq!(names(off), vec!["DomainName".to_string()]);
    let env = &doc["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(untag(&env["INSTANCE_REGISTRY"]), "InstanceRegistry");
    assert_eq!(untag(&env["INSTANCE_CACHE_SECONDS"]), "InstanceCacheSeconds");
    // The secrets extension must not keep a rotated secret longer than the registry's cache time.
    assert_eq!(untag(&env["SECRETS_MANAGER_TTL"]), "InstanceCacheSeconds");
    assert!(doc["Parameters"]["InstanceCacheSeconds"]["MaxValue"].as_u64().unwrap() <= 300, "the extension's max");
}

/// Every behaviour runs a viewer-request function that sets x-forwarded-host from the viewer's Host; the ones that
/// reach the functions forward every viewer header but Host (so x-forwarded-host, not the viewer's Host, which
/// API Gateway and the OAC-signed function URL would refuse).
#[test]
fn every_behaviour_sets_x_forwarded_host_and_the_bff_origins_receive_it() {
    let doc = template();
    let r = &doc["Resources"];
    let dist = &r["Distribution"]["Properties"]["DistributionConfig"];
    let mut behaviours = vec![&dist["DefaultCacheBehavior"]];
    behaviours.extend(dist["CacheBehaviors"].as_sequence().unwrap());
    let mut bff_behaviours = 0;
    for b in behaviours {
        let name = b["PathPattern"].as_str().unwrap_or("default");
        let assoc = b["FunctionAssociations"].as_sequence().unwrap_or_else(|| panic!("{name}: no function"));
        let viewer = assoc.iter().find(|a| a["EventType"] == "viewer-request").expect("a viewer-request function");
        let function = untag(&viewer["FunctionARN"]).as_str().unwrap().split('.').next().unwrap().to_string();
        let code = r[function.as_str()]["Properties"]["FunctionCode"].as_str().unwrap();
        let out = run_function(code, Some("acme.app.example.com"), Some("evil.example.com"));
        assert_eq!(out["headers"]["x-forwarded-host"]["value"], "acme.app.example.com", "{name}: {out}");
        let out = run_function(code, None, Some("evil.example.com"));
        assert!(out["headers"]["x-forwarded-host"].is_null(), "{name}: a viewer's own value survived: {out}");
        if b["TargetOriginId"] != "spa" {
            assert_eq!(b["OriginRequestPolicyId"], ALL_VIEWER_EXCEPT_HOST, "{name}");
            bff_behaviours += 1;
        }
    }
    assert_eq!(bff_behaviours, 2, "/auth/* and /api/*");
    // The SPA routes function still does its own job.
    let spa = r["SpaRoutesFunction"]["Properties"]["FunctionCode"].as_str().unwrap();
    assert_eq!(run_function(spa, Some("app.example.com"), None)["uri"], "/index.html");
}

/// Runs a CloudFront Function's code under Node.js on a viewer request for `/orders/7` and returns the request it
/// hands on. Node.js is required (the browser tests need it too): without it this test fails, never skips.
fn run_function(code: &str, host: Option<&str>, sent_forwarded_host: Option<&str>) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    if let Some(h) = host {
        headers.insert("host".into(), serde_json::json!({ "value": h }));
    }
    if let Some(h) = sent_forwarded_host {
        headers.insert("x-forwarded-host".into(), serde_json::json!({ "value": h }));
    }
    let event = serde_json::json!({ "request": { "method": "GET", "uri": "/orders/7", "headers": headers } });
    let script = format!("{code}\nprocess.stdout.write(JSON.stringify(handler({event})));");
    let out = std::process::Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node (Node.js) runs the CloudFront Functions' code in this test");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The functions that call the token endpoint read the registered instances' secrets (by name, under
/// bff/instances/), only with the registry on; login reads the registry's entry.
#[test]
fn the_token_callers_may_read_the_instances_secrets_and_nothing_else() {
    let doc = template();
    let r = doc["Resources"].as_mapping().unwrap();
    let mut granted = vec![];
    for (id, res) in r.iter().filter(|(_, v)| v["Type"] == "AWS::Serverless::Function") {
        let id = id.as_str().unwrap();
        let statements = res["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
        let reads_client_secret = yaml(&res["Properties"]["Policies"]).contains("ClientSecret");
        let instance_grants: Vec<&Value> = statements.iter().filter(|s| yaml(s).contains("bff/instances")).collect();
        assert_eq!(instance_grants.len(), usize::from(reads_client_secret), "{id}");
        for g in instance_grants {
            let (cond, on, off) = branches(g);
            assert_eq!(cond, "HasInstanceRegistry", "{id}");
            assert_eq!(untag(off), "AWS::NoValue", "{id}");
            assert_eq!(yaml(&on["Action"]).trim(), "- secretsmanager:GetSecretValue", "{id}");
            assert_eq!(
                untag(&on["Resource"]),
                "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:bff/instances/*",
                "{id}"
            );
            granted.push(id.to_string());
        }
    }
    granted.sort();
    let expected = ["CallbackFunction", "LogoutFunction", "ProxyFunction", "RefreshFunction", "SessionFunction"];
    assert_eq!(granted, expected);
    let login = &doc["Resources"]["LoginFunction"]["Properties"]["Policies"][0]["Statement"][0]["Action"];
    let (cond, on, _) = branches(login);
    assert_eq!(cond, "HasInstanceRegistry");
    assert!(yaml(on).contains("dynamodb:GetItem"), "login reads the host's registry entry");
}
