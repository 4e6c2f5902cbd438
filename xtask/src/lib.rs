//! Project automation shared by `cargo xtask`, the tests and the benchmarks: the local stack ([`stack`]), the
//! sessions table from template.yaml, the drift checks between Cargo.toml, template.yaml and openapi.yaml, and the
//! check of CONFORMANCE.md against the tests it names ([`conformance`]).

pub mod conformance;
#[cfg(test)]
mod instances_template;
pub mod peer;
pub mod stack;
#[cfg(test)]
mod template_abuse;
#[cfg(test)]
mod template_env;
pub mod tidy;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The repository root (this crate lives in `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The sessions table as `template.yaml` deploys it: key schema, attribute types, indexes and the TTL attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub attributes: Vec<(String, String)>,
    pub keys: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
}

/// A global secondary index: name, key schema, projection type and included attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub keys: Vec<(String, String)>,
    pub projection: String,
    pub non_key_attributes: Vec<String>,
}

fn key_schema(keys: &[(String, String)]) -> Result<Vec<KeySchemaElement>, String> {
    keys.iter()
        .map(|(attr, ty)| KeySchemaElement::builder().attribute_name(attr).key_type(KeyType::from(ty.as_str())).build())
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

pub fn table_definition() -> Result<TableDefinition, String> {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).map_err(|e| e.to_string())?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    let props = &doc["Resources"]["SessionsTable"]["Properties"];
    let pairs = |list: &Value, a: &str, b: &str| -> Vec<(String, String)> {
        list.as_sequence()
            .map(|s| s.iter().filter_map(|e| Some((e[a].as_str()?.to_string(), e[b].as_str()?.to_string()))).collect())
            .unwrap_or_default()
    };
    let indexes = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .map(|list| {
            list.iter()
                .map(|i| IndexDefinition {
                    name: i["IndexName"].as_str().unwrap_or_default().to_string(),
                    keys: pairs(&i["KeySchema"], "AttributeName", "KeyType"),
                    projection: i["Projection"]["ProjectionType"].as_str().unwrap_or("ALL").to_string(),
                    non_key_attributes: i["Projection"]["NonKeyAttributes"]
                        .as_sequence()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let def = TableDefinition {
        attributes: pairs(&props["AttributeDefinitions"], "AttributeName", "AttributeType"),
        keys: pairs(&props["KeySchema"], "AttributeName", "KeyType"),
        indexes,
        ttl_attribute: props["TimeToLiveSpecification"]["AttributeName"].as_str().map(String::from),
    };
    if def.keys.is_empty() {
        return Err("template.yaml: Resources.SessionsTable.Properties.KeySchema not found".into());
    }
    Ok(def)
}

/// Creates `name` from the template's definition (pay-per-request, TTL on). An existing table is left alone.
pub async fn create_table(client: &Client, name: &str) -> Result<(), String> {
    let def = table_definition()?;
    let mut req = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for (attr, ty) in &def.attributes {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(ty.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    req = req.set_key_schema(Some(key_schema(&def.keys)?));
    for index in &def.indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection.as_str()))
            .set_non_key_attributes((!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()))
            .build();
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.keys)?))
                .projection(projection)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e) if format!("{:?}", e).contains("ResourceInUseException") => return Ok(()),
        Err(e) => return Err(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string()),
    }
    if let Some(ttl) = def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())?;
    }
    Ok(())
}

/// A DynamoDB client for DynamoDB Local at `endpoint`, with the dummy credentials it accepts.
pub async fn local_dynamodb(endpoint: &str) -> Client {
    let creds = aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "xtask");
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .build();
    Client::from_conf(conf)
}

/// A route as `(path, function)`, with the catch-all spelled `{proxy+}` whatever the source's syntax.
pub type Route = (String, String);

fn normalise(path: &str) -> String {
    if let Some(prefix) = path.strip_suffix("{*path}").or_else(|| path.strip_suffix("{proxy+}")) {
        format!("{prefix}{{proxy+}}")
    } else {
        path.to_string()
    }
}

/// The routes `cargo lambda watch` serves locally: `[workspace.metadata.lambda.watch.router]` in Cargo.toml.
/// Every route must send every method to one function (the functions answer a wrong method themselves).
pub fn local_routes() -> Result<std::collections::BTreeSet<Route>, String> {
    let text = std::fs::read_to_string(repo_root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    let router = doc
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("lambda"))
        .and_then(|l| l.get("watch"))
        .and_then(|w| w.get("router"))
        .and_then(|r| r.as_table())
        .ok_or("Cargo.toml has no [workspace.metadata.lambda.watch.router]")?;
    router
        .iter()
        .map(|(path, f)| match f.as_str() {
            Some(function) => Ok((normalise(path), function.to_string())),
            None => Err(format!("route {path}: expected one function for every method")),
        })
        .collect()
}

/// A CloudFormation value without its short-form tag (`!Sub "…"`, `!GetAtt X.Arn` → the plain string).
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

/// The routes template.yaml deploys: every `AWS::ApiGatewayV2::Route` (or SAM `HttpApi` event), followed through
/// its integration to the function and that function's binary, as (path, binary).
pub fn deployed_routes() -> Result<std::collections::BTreeSet<Route>, String> {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).map_err(|e| e.to_string())?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    let resources = doc["Resources"].as_mapping().ok_or("template.yaml has no Resources")?;
    let resource = |id: &str| resources.get(Value::String(id.to_string()));
    let binary_of = |function_id: &str| -> Result<String, String> {
        let f = resource(function_id).ok_or(format!("no resource {function_id}"))?;
        f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .map(String::from)
            .ok_or(format!("{function_id} has no Metadata.BuildProperties.Binary"))
    };
    let check_method = |path: &str, method: &str| {
        if method.eq_ignore_ascii_case("ANY") {
            Ok(())
        } else {
            Err(format!("{path}: method {method}; routes take ANY so a wrong method gets a problem+json 405"))
        }
    };
    let mut out = std::collections::BTreeSet::new();
    for (id, res) in resources {
        let id = id.as_str().unwrap_or_default();
        match res["Type"].as_str() {
            Some("AWS::ApiGatewayV2::Route") => {
                let key = untag(&res["Properties"]["RouteKey"]).as_str().ok_or(format!("{id}: no RouteKey"))?;
                let (method, path) = key.split_once(' ').ok_or(format!("{id}: RouteKey {key}"))?;
                check_method(path, method)?;
                let target = untag(&res["Properties"]["Target"]).as_str().ok_or(format!("{id}: no Target"))?;
                let integration = target
                    .strip_prefix("integrations/${")
                    .and_then(|t| t.strip_suffix('}'))
                    .ok_or(format!("{id}: Target {target}"))?;
                let integ = resource(integration).ok_or(format!("no integration {integration}"))?;
                let uri = untag(&integ["Properties"]["IntegrationUri"])
                    .as_str()
                    .ok_or(format!("{integration}: IntegrationUri"))?;
                let function = uri.split('.').next().unwrap_or_default();
                out.insert((normalise(path), binary_of(function)?));
            }
            Some("AWS::Serverless::Function") => {
                for (_, ev) in res["Properties"]["Events"].as_mapping().into_iter().flatten() {
                    if ev["Type"].as_str() != Some("HttpApi") {
                        continue;
                    }
                    let path = ev["Properties"]["Path"].as_str().ok_or("an HttpApi event without Path")?;
                    check_method(path, ev["Properties"]["Method"].as_str().unwrap_or("ANY"))?;
                    out.insert((normalise(path), binary_of(id)?));
                }
            }
            _ => {}
        }
    }
    for (path, function) in function_url_routes(resources)? {
        out.insert((path, binary_of(&function)?));
    }
    Ok(out)
}

/// The CloudFront behaviours whose origin is a function's URL (`!GetAtt <Function>Url.FunctionUrl`), as
/// (path, function id): `/api/*` → `/api/{proxy+}`.
fn function_url_routes(resources: &serde_yaml::Mapping) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![];
    for (_, res) in resources.iter().filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudFront::Distribution")) {
        let config = &res["Properties"]["DistributionConfig"];
        let origins = config["Origins"].as_sequence().ok_or("a Distribution without Origins")?;
        for behaviour in config["CacheBehaviors"].as_sequence().into_iter().flatten() {
            let target = behaviour["TargetOriginId"].as_str().ok_or("a behaviour without TargetOriginId")?;
            let origin =
                origins.iter().find(|o| o["Id"].as_str() == Some(target)).ok_or(format!("no origin {target}"))?;
            let domain = serde_yaml::to_string(&origin["DomainName"]).map_err(|e| e.to_string())?;
            let Some(function) = domain.split_whitespace().find_map(|w| w.strip_suffix("Url.FunctionUrl")) else {
                continue;
            };
            let pattern = behaviour["PathPattern"].as_str().ok_or("a behaviour without PathPattern")?;
            let path = pattern.strip_suffix('*').map_or(pattern.to_string(), |p| format!("{p}{{proxy+}}"));
            out.push((path, function.to_string()));
        }
    }
    Ok(out)
}

/// The paths openapi.yaml documents (its catch-all `/api/{path}` spelled `{proxy+}`).
pub fn documented_paths() -> Result<std::collections::BTreeSet<String>, String> {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).map_err(|e| e.to_string())?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    Ok(doc["paths"]
        .as_mapping()
        .ok_or("openapi.yaml has no paths")?
        .keys()
        .filter_map(|k| k.as_str())
        .map(|p| if p == "/api/{path}" { "/api/{proxy+}".to_string() } else { p.to_string() })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_router_and_template_routes_never_drift_apart() {
        let local = super::local_routes().unwrap();
        let deployed = super::deployed_routes().unwrap();
        assert_eq!(
            local, deployed,
            "Cargo.toml's router table and template.yaml's routes (HttpApi, function URLs) differ"
        );
        assert_eq!(local.len(), 11);
    }

    #[test]
    fn openapi_lists_exactly_the_problem_codes_the_code_can_answer() {
        let in_code: std::collections::BTreeSet<String> =
            shared::error::CODES.iter().map(|(code, _)| code.to_string()).collect();
        let text = std::fs::read_to_string(super::repo_root().join("openapi.yaml")).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let documented: std::collections::BTreeSet<String> = doc["components"]["schemas"]["ProblemCode"]["enum"]
            .as_sequence()
            .expect("components.schemas.ProblemCode.enum")
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        assert!(in_code.len() >= 15, "{in_code:?}");
        assert_eq!(in_code, documented, "shared::error::CODES vs openapi.yaml ProblemCode");
    }

    #[test]
    fn openapi_documents_every_route() {
        let documented = super::documented_paths().unwrap();
        for (path, _) in super::local_routes().unwrap() {
            assert!(documented.contains(&path), "openapi.yaml does not document {path}");
        }
    }

    #[test]
    fn reads_the_table_from_the_template() {
        let def = super::table_definition().unwrap();
        assert_eq!(def.keys, vec![("pk".to_string(), "HASH".to_string())]);
        assert_eq!(def.ttl_attribute.as_deref(), Some("ttl"));
    }

    /// The indexes the store queries are the ones template.yaml (and so `create-table`) defines, with the same keys.
    #[test]
    fn the_templates_indexes_are_the_ones_the_store_queries() {
        use shared::session::store::{attr, index};
        let def = super::table_definition().unwrap();
        let keys = |name: &str| def.indexes.iter().find(|i| i.name == name).map(|i| i.keys.clone());
        let k = |a: &str, t: &str| (a.to_string(), t.to_string());
        assert_eq!(keys(index::BY_USER), Some(vec![k(attr::USER, "HASH"), k(attr::CREATED, "RANGE")]));
        assert_eq!(keys(index::BY_SUB), Some(vec![k(attr::SUB, "HASH")]));
        assert_eq!(keys(index::BY_IDP_SID), Some(vec![k(attr::IDP_SID, "HASH")]));
        let projected = |index: &str, attrs: &[&str]| {
            let i = def.indexes.iter().find(|i| i.name == index).unwrap();
            for a in attrs {
                assert!(i.non_key_attributes.iter().any(|n| n == a), "{a} is not projected into {index}");
            }
        };
        projected(index::BY_USER, &[attr::ID, attr::SEEN, attr::TTL, attr::DEVICE]);
        projected(index::BY_SUB, &[attr::USER]);
        projected(index::BY_IDP_SID, &[attr::USER, attr::SUB]);
        for (name, _) in def.indexes.iter().flat_map(|i| i.keys.iter()) {
            assert!(def.attributes.iter().any(|(a, _)| a == name), "{name} has no AttributeDefinition");
        }
    }

    /// The front door as template.yaml deploys it: every behaviour answers with the stack's security headers (a
    /// CSP without inline script or style, frame-ancestors 'none', HSTS, nosniff, Referrer-Policy), viewers need
    /// TLS 1.2, the HTTP API is throttled and locked to CloudFront, /api/* is the signed function URL, and the
    /// example SPA's page has nothing inline that the CSP would block.
    #[test]
    fn the_front_door_is_hardened() {
        let text = std::fs::read_to_string(super::repo_root().join("template.yaml")).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let r = &doc["Resources"];
        let dist = &r["Distribution"]["Properties"]["DistributionConfig"];
        assert_eq!(dist["ViewerCertificate"]["MinimumProtocolVersion"], "TLSv1.2_2021");
        assert!(
            dist["ViewerCertificate"]["CloudFrontDefaultCertificate"].is_null(),
            "the default certificate allows TLS 1.0"
        );
        let mut behaviours: Vec<&serde_yaml::Value> = vec![&dist["DefaultCacheBehavior"]];
        behaviours.extend(dist["CacheBehaviors"].as_sequence().unwrap());
        for b in &behaviours {
            let policy = serde_yaml::to_string(&b["ResponseHeadersPolicyId"]).unwrap();
            assert!(policy.contains("SecurityHeadersPolicy"), "{:?} without the security headers", b["PathPattern"]);
        }
        let headers = &r["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
        let csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"].as_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
        }
        assert!(!csp.contains("unsafe-"), "{csp}");
        assert!(headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"].as_u64().unwrap() >= 31_536_000);
        assert_eq!(headers["ContentTypeOptions"]["Override"], true);
        assert!(headers["ReferrerPolicy"]["ReferrerPolicy"].is_string());
        let stage = &r["HttpApiStage"]["Properties"]["DefaultRouteSettings"];
        assert!(!stage["ThrottlingRateLimit"].is_null() && !stage["ThrottlingBurstLimit"].is_null());
        let bff = dist["Origins"].as_sequence().unwrap().iter().find(|o| o["Id"] == "bff").unwrap();
        assert_eq!(bff["OriginCustomHeaders"][0]["HeaderName"], shared::http::gate::FRONT_DOOR_HEADER);
        let env = serde_yaml::to_string(&doc["Globals"]["Function"]["Environment"]["Variables"]["FRONT_DOOR_SECRET"])
            .unwrap();
        assert!(env.contains("FrontDoorSecret"), "the functions check the header CloudFront adds");
        assert_eq!(r["ProxyFunction"]["Properties"]["FunctionUrlConfig"]["AuthType"], "AWS_IAM");
        assert_eq!(
            r["ProxyOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"],
            "lambda"
        );
        // The per-client limits in detail: template_abuse.rs.
        let waf = serde_yaml::to_string(&r["WebAcl"]["Properties"]["Rules"]).unwrap();
        assert!(waf.contains("RateBasedStatement") && waf.contains("/auth/") && waf.contains("/api/"));
        let page = std::fs::read_to_string(super::repo_root().join("examples/spa/index.html")).unwrap();
        assert!(!page.contains("<style") && !page.contains(" style="), "inline styles need 'unsafe-inline'");
        for script in page.split("<script").skip(1) {
            assert!(script.split('>').next().unwrap().contains("src="), "an inline script needs 'unsafe-inline'");
        }
    }
}
