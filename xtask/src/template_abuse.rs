//! template.yaml's abuse limits (docs/deploy.md, "Limits"): per-client (IP) AWS WAF rate limits on every /auth/*
//! route and on /api/*, matched on the URL-decoded path; the web ACL on the distribution in every deployment shape
//! (the stack's own in us-east-1, the companion's, infra/waf-us-east-1.yaml, by ARN elsewhere, and a stack outside
//! us-east-1 without it refused); the HTTP API's throttles as a cost ceiling above them; reserved concurrency wired
//! for every function; CloudFront's standard logs in a private bucket that expires them.
//!
//! The template is read as the existing tests read it (serde_yaml, short-form tags kept as tags), and the few
//! intrinsic functions that decide these things (!If, !Ref, !Equals, !Not, !And, !Or, !Condition) are evaluated
//! for given parameter values and region, as CloudFormation would.

use super::repo_root;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

/// An intrinsic function as (name, argument), short form (`!Equals [...]`) or long form (`{"Fn::Equals": [...]}`),
/// named as in the long form: `Ref`, `Condition`, `Fn::If` …
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = if name == "Ref" || name == "Condition" { name.to_string() } else { format!("Fn::{name}") };
            Some((name, &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then(|| (k.to_string(), arg))
        }
        _ => None,
    }
}

/// One deployment of a template: every parameter at its default unless given, and the region.
struct Deployment<'a> {
    doc: &'a Value,
    params: BTreeMap<String, String>,
}

impl<'a> Deployment<'a> {
    fn new(doc: &'a Value, region: &str, given: &[(&str, &str)]) -> Self {
        let mut params = BTreeMap::new();
        for (name, p) in doc["Parameters"].as_mapping().into_iter().flatten() {
            if let Some(default) = scalar(&p["Default"]) {
                params.insert(name.as_str().unwrap().to_string(), default);
            }
        }
        for (name, value) in given {
            assert!(doc["Parameters"].get(*name).is_some(), "no parameter {name}");
            params.insert(name.to_string(), value.to_string());
        }
        params.insert("AWS::Region".into(), region.into());
        params.insert("AWS::StackName".into(), "erpnet-bff".into());
        Deployment { doc, params }
    }

    /// A string-valued expression: a literal or a !Ref to a parameter.
    fn value(&self, v: &Value) -> String {
        if let Some(s) = scalar(v) {
            return s;
        }
        match intrinsic(v) {
            Some((f, arg)) if f == "Ref" => {
                let name = arg.as_str().unwrap();
                self.params.get(name).cloned().unwrap_or_else(|| panic!("!Ref {name}: no value"))
            }
            _ => panic!("not a value this test evaluates: {}", yaml(v)),
        }
    }

    /// A condition (Conditions, RuleCondition, Assert).
    fn holds(&self, v: &Value) -> bool {
        let (f, arg) = intrinsic(v).unwrap_or_else(|| panic!("not a condition: {}", yaml(v)));
        let args = || arg.as_sequence().unwrap_or_else(|| panic!("{f} without a list"));
        match f.as_str() {
            "Fn::Equals" => self.value(&args()[0]) == self.value(&args()[1]),
            "Fn::Not" => !self.holds(&args()[0]),
            "Fn::And" => args().iter().all(|c| self.holds(c)),
            "Fn::Or" => args().iter().any(|c| self.holds(c)),
            "Fn::Contains" => {
                let list = args()[0].as_sequence().unwrap();
                let needle = self.value(&args()[1]);
                list.iter().any(|x| self.value(x) == needle)
            }
            "Condition" => self.condition(arg.as_str().unwrap()),
            other => panic!("{other}: not a condition this test evaluates"),
        }
    }

    fn condition(&self, name: &str) -> bool {
        let c = &self.doc["Conditions"][name];
        assert!(!c.is_null(), "no condition {name}");
        self.holds(c)
    }

    /// Whether a resource exists in this deployment (its Condition, if any).
    fn exists(&self, id: &str) -> bool {
        let r = &self.doc["Resources"][id];
        assert!(!r.is_null(), "no resource {id}");
        r["Condition"].as_str().is_none_or(|c| self.condition(c))
    }

    /// A property's value in this deployment: !If followed, `None` for AWS::NoValue.
    fn pick<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        match intrinsic(v) {
            Some((f, arg)) if f == "Fn::If" => {
                let s = arg.as_sequence().unwrap();
                self.pick(if self.condition(s[0].as_str().unwrap()) { &s[1] } else { &s[2] })
            }
            Some((f, arg)) if f == "Ref" && arg.as_str() == Some("AWS::NoValue") => None,
            _ => Some(v),
        }
    }

    /// The Rules' assertions that refuse this deployment (their AssertDescription).
    fn refusals(&self) -> Vec<String> {
        let mut out = vec![];
        for (_, rule) in self.doc["Rules"].as_mapping().into_iter().flatten() {
            if !rule["RuleCondition"].is_null() && !self.holds(&rule["RuleCondition"]) {
                continue;
            }
            for a in rule["Assertions"].as_sequence().unwrap() {
                if !self.holds(&a["Assert"]) {
                    out.push(a["AssertDescription"].as_str().unwrap_or_default().to_string());
                }
            }
        }
        out
    }
}

/// A plain scalar as a string (numbers and booleans as CloudFormation passes them).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `!GetAtt X.Attr` → "X.Attr".
fn get_att(v: &Value) -> Option<String> {
    match intrinsic(v) {
        Some((f, arg)) if f == "Fn::GetAtt" => match arg {
            Value::String(s) => Some(s.clone()),
            Value::Sequence(s) => Some(format!("{}.{}", s[0].as_str()?, s[1].as_str()?)),
            _ => None,
        },
        _ => None,
    }
}

/// `!Ref X` → "X".
fn ref_name(v: &Value) -> Option<&str> {
    match intrinsic(v) {
        Some((f, arg)) if f == "Ref" => arg.as_str(),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------------------------------
// AWS WAF, as far as these rules use it: byte matches on the URI path after text transformations.
// ------------------------------------------------------------------------------------------------------------------

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// WAF's NORMALIZE_PATH: multiple slashes, `.` and `..` segments (not at the beginning) removed.
fn normalize_path(s: &str) -> String {
    let mut segments: Vec<&str> = vec![];
    for seg in s.split('/') {
        match seg {
            "" | "." => {}
            ".." if segments.last().is_some_and(|l| *l != "..") => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = format!("{}{}", if s.starts_with('/') { "/" } else { "" }, segments.join("/"));
    if s.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

fn statement_matches(statement: &Value, path: &str) -> bool {
    let m = statement.as_mapping().unwrap_or_else(|| panic!("a statement: {}", yaml(statement)));
    assert_eq!(m.len(), 1, "one statement: {}", yaml(statement));
    let (kind, s) = m.iter().next().unwrap();
    match kind.as_str().unwrap() {
        "ByteMatchStatement" => byte_match(s, path),
        "OrStatement" => s["Statements"].as_sequence().unwrap().iter().any(|x| statement_matches(x, path)),
        "AndStatement" => s["Statements"].as_sequence().unwrap().iter().all(|x| statement_matches(x, path)),
        "NotStatement" => !statement_matches(&s["Statement"], path),
        other => panic!("{other}: not a statement this test evaluates"),
    }
}

/// The transformations of a byte match, in the order WAF applies them (by priority).
fn transformations(byte_match: &Value) -> Vec<String> {
    let mut t: Vec<(u64, String)> = byte_match["TextTransformations"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| (t["Priority"].as_u64().unwrap(), t["Type"].as_str().unwrap().to_string()))
        .collect();
    t.sort();
    t.into_iter().map(|(_, ty)| ty).collect()
}

fn byte_match(s: &Value, path: &str) -> bool {
    assert!(s["FieldToMatch"]["UriPath"].is_mapping(), "matches the URI path: {}", yaml(s));
    let mut input = path.to_string();
    for t in transformations(s) {
        input = match t.as_str() {
            "NONE" => input,
            "URL_DECODE" => url_decode(&input),
            "NORMALIZE_PATH" => normalize_path(&input),
            "LOWERCASE" => input.to_lowercase(),
            other => panic!("{other}: not a transformation this test evaluates"),
        };
    }
    let needle = s["SearchString"].as_str().unwrap();
    match s["PositionalConstraint"].as_str().unwrap() {
        "EXACTLY" => input == needle,
        "STARTS_WITH" => input.starts_with(needle),
        "ENDS_WITH" => input.ends_with(needle),
        "CONTAINS" => input.contains(needle),
        other => panic!("{other}: not a constraint this test evaluates"),
    }
}

/// Every byte match in a statement.
fn byte_matches(statement: &Value) -> Vec<&Value> {
    let (kind, s) = statement.as_mapping().unwrap().iter().next().unwrap();
    match kind.as_str().unwrap() {
        "ByteMatchStatement" => vec![s],
        "OrStatement" | "AndStatement" => {
            s["Statements"].as_sequence().unwrap().iter().flat_map(byte_matches).collect()
        }
        "NotStatement" => byte_matches(&s["Statement"]),
        _ => vec![],
    }
}

/// A per-IP rate-based rule: its name, the parameter that sets its limit and that parameter's default.
struct RateRule<'a> {
    name: String,
    limit_parameter: String,
    default_limit: u64,
    scope: &'a Value,
}

const RATE_LIMITED: &str = r#"{"type":"about:blank","title":"Too Many Requests","status":429,"code":"rate_limited"}"#;

/// The web ACL's rules, each checked: rate-based per client IP, a parameter as its limit, a scope-down on the
/// URL-decoded path, and a block that answers 429 with the problem+json-shaped body.
fn rate_rules<'a>(doc: &'a Value, acl: &'a Value) -> Vec<RateRule<'a>> {
    let props = &acl["Properties"];
    assert_eq!(props["Scope"], "CLOUDFRONT");
    assert!(props["DefaultAction"]["Allow"].is_mapping(), "everything else is allowed");
    let mut out = vec![];
    for rule in props["Rules"].as_sequence().expect("Rules") {
        let name = rule["Name"].as_str().unwrap().to_string();
        let rate = &rule["Statement"]["RateBasedStatement"];
        assert!(rate.is_mapping(), "{name}: not rate-based");
        assert_eq!(rate["AggregateKeyType"], "IP", "{name}: counted per client IP");
        assert!([60, 120, 300, 600].contains(&rate["EvaluationWindowSec"].as_u64().unwrap_or(300)), "{name}");
        let param = ref_name(&rate["Limit"]).unwrap_or_else(|| panic!("{name}: the limit is a parameter"));
        let p = &doc["Parameters"][param];
        assert_eq!(p["Type"], "Number", "{param}");
        assert!(p["MinValue"].as_u64().unwrap() >= 10, "{param}: WAF's minimum is 10");
        let default_limit = p["Default"].as_u64().unwrap();
        assert!(default_limit >= p["MinValue"].as_u64().unwrap(), "{param}");
        let scope = &rate["ScopeDownStatement"];
        assert!(scope.is_mapping(), "{name}: a scope-down statement (which paths it counts)");
        for m in byte_matches(scope) {
            let t = transformations(m);
            assert_eq!(t.first().map(String::as_str), Some("URL_DECODE"), "{name}: the path is URL-decoded first");
            assert!(t.iter().any(|x| x == "LOWERCASE"), "{name}: case-insensitive");
        }
        let response = &rule["Action"]["Block"]["CustomResponse"];
        assert_eq!(response["ResponseCode"], 429, "{name}");
        let key = response["CustomResponseBodyKey"].as_str().unwrap();
        let body = &props["CustomResponseBodies"][key];
        assert_eq!(body["ContentType"], "APPLICATION_JSON", "{name}");
        let content: serde_json::Value = serde_json::from_str(body["Content"].as_str().unwrap()).unwrap();
        assert_eq!(content, serde_json::from_str::<serde_json::Value>(RATE_LIMITED).unwrap(), "{name}");
        assert_eq!(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"], true, "{name}: a metric per rule");
        out.push(RateRule { name, limit_parameter: param.to_string(), default_limit, scope });
    }
    assert!(!out.is_empty());
    out
}

/// The same path as a client could spell it: each letter percent-encoded on its own (lower- and upper-case hex),
/// all of them encoded, upper case, doubled slashes, `/./` and `/x/../`.
fn spellings(path: &str) -> Vec<String> {
    let mut out = vec![path.to_string(), path.to_uppercase()];
    let chars: Vec<char> = path.chars().collect();
    for (i, c) in chars.iter().enumerate().filter(|(_, c)| c.is_ascii_alphabetic()) {
        for upper_hex in [false, true] {
            let enc = if upper_hex { format!("%{:02X}", *c as u8) } else { format!("%{:02x}", *c as u8) };
            out.push(chars.iter().enumerate().map(|(j, d)| if j == i { enc.clone() } else { d.to_string() }).collect());
        }
    }
    out.push(
        chars
            .iter()
            .map(|c| if c.is_ascii_alphabetic() { format!("%{:02X}", *c as u8) } else { c.to_string() })
            .collect(),
    );
    out.push(path.replace('/', "//"));
    if let Some((first, rest)) = path[1..].split_once('/') {
        out.push(format!("/{first}/./{rest}"));
        out.push(format!("/{first}/x/../{rest}"));
        out.push(format!("/{}%2F{rest}", first));
    }
    out
}

/// A concrete request path for a route (`{id}`, `{proxy+}` filled in).
fn concrete(route: &str) -> String {
    route.replace("{id}", "3q2-7wVY8kq1n0Ggd2mRkA").replace("{proxy+}", "domain/odata/Crm_Customers")
}

fn matching<'a>(rules: &'a [RateRule], path: &str) -> BTreeSet<&'a str> {
    rules.iter().filter(|r| statement_matches(r.scope, path)).map(|r| r.name.as_str()).collect()
}

fn strictest(rules: &[RateRule], path: &str) -> u64 {
    rules.iter().filter(|r| statement_matches(r.scope, path)).map(|r| r.default_limit).min().unwrap()
}

/// Every route of the BFF (/auth/* at the HTTP API, /api/* at the proxy's function URL) is counted per client IP,
/// whatever way the path is spelled: the issue's /auth/%6Cogin counts as /auth/login. Sign-ins have the strictest
/// limit; the session check and the API more generous ones. The SPA's own files are not counted.
#[test]
fn every_route_is_rate_limited_per_ip_on_the_decoded_path() {
    let doc = load("template.yaml");
    let rules = rate_rules(&doc, &doc["Resources"]["WebAcl"]);
    let routes = super::deployed_routes().unwrap();
    assert!(routes.iter().any(|(p, _)| p.starts_with("/api/")), "{routes:?}");
    for (route, _) in &routes {
        assert!(route.starts_with("/auth/") || route.starts_with("/api/"), "{route}: a path outside the limits");
        let path = concrete(route);
        let plain = matching(&rules, &path);
        assert!(!plain.is_empty(), "{route}: no per-IP limit counts {path}");
        for spelled in spellings(&path) {
            assert_eq!(matching(&rules, &spelled), plain, "{route}: {spelled} escapes the limits of {path}");
        }
    }
    let issue = matching(&rules, "/auth/%6Cogin");
    assert!(issue.contains("sign-in-per-ip"), "{issue:?}");
    for sign_in in ["/auth/login", "/auth/callback"] {
        for other in ["/auth/session", "/auth/refresh", "/api/domain/odata/Crm_Customers"] {
            assert!(strictest(&rules, sign_in) < strictest(&rules, other), "{sign_in} is not stricter than {other}");
        }
    }
    for spa in ["/", "/index.html", "/assets/index-3f2a.js", "/customers/42", "/authors", "/apis"] {
        assert!(matching(&rules, spa).is_empty(), "{spa} is the SPA's, not limited");
    }
    // The defaults the docs state.
    let limits: BTreeMap<&str, u64> = rules.iter().map(|r| (r.limit_parameter.as_str(), r.default_limit)).collect();
    let deploy = std::fs::read_to_string(repo_root().join("docs/deploy.md")).unwrap();
    for (param, default) in &limits {
        assert!(deploy.contains(&format!("| `{param}` | `{default}` |")), "docs/deploy.md: {param} default {default}");
    }
}

const COMPANION_ARN: &str =
    "arn:aws:wafv2:us-east-1:123456789012:global/webacl/erpnet-bff-waf/a1b2c3d4-5678-90ab-cdef-1234567890ab";

/// Which web ACL the distribution gets in a deployment.
#[derive(Debug, PartialEq)]
enum Acl {
    /// The stack's own (a resource of this template).
    InStack(String),
    /// Another stack's, by ARN.
    ByArn(String),
    None,
}

fn distribution_acl(d: &Deployment) -> Acl {
    let config = &d.doc["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    match d.pick(&config["WebACLId"]) {
        None => Acl::None,
        Some(v) => {
            if let Some(att) = get_att(v) {
                let id = att.strip_suffix(".Arn").unwrap_or_else(|| panic!("WebACLId: {att}"));
                assert!(d.exists(id), "WebACLId names {id}, which this deployment does not create");
                assert_eq!(d.doc["Resources"][id]["Type"], "AWS::WAFv2::WebACL");
                Acl::InStack(id.to_string())
            } else {
                Acl::ByArn(d.value(v))
            }
        }
    }
}

/// The web ACL is on the distribution wherever the stack is deployed: in us-east-1 the stack's own; elsewhere the
/// companion's by ARN, and without that ARN the stack is refused (a Rule) rather than deployed without limits;
/// none only when asked for by name.
#[test]
fn the_web_acl_is_attached_in_every_deployment_shape() {
    let doc = load("template.yaml");
    assert_eq!(doc["Parameters"]["WebAclArn"]["Default"], "", "on by default");
    let pattern = doc["Parameters"]["WebAclArn"]["AllowedPattern"].as_str().unwrap();
    assert!(pattern.contains("wafv2:us-east-1:") && pattern.contains("global/webacl/"), "{pattern}");
    for region in ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"] {
        for arn in ["", COMPANION_ARN, "none"] {
            let d = Deployment::new(&doc, region, &[("WebAclArn", arn)]);
            let refused = d.refusals();
            let shape = format!("{region}, WebAclArn={arn:?}");
            if region != "us-east-1" && arn.is_empty() {
                assert_eq!(refused.len(), 1, "{shape}: must be refused");
                assert!(refused[0].contains("infra/waf-us-east-1.yaml"), "{shape}: the refusal says what to do");
                continue;
            }
            assert!(refused.is_empty(), "{shape}: refused: {refused:?}");
            let acl = distribution_acl(&d);
            let output = d.pick(&doc["Outputs"]["WebAclArn"]["Value"]).unwrap();
            match arn {
                "" => {
                    assert_eq!(acl, Acl::InStack("WebAcl".into()), "{shape}");
                    assert_eq!(get_att(output).as_deref(), Some("WebAcl.Arn"), "{shape}");
                }
                "none" => {
                    assert_eq!(acl, Acl::None, "{shape}");
                    assert_eq!(d.value(output), "none");
                }
                _ => {
                    assert_eq!(acl, Acl::ByArn(COMPANION_ARN.into()), "{shape}");
                    assert!(!d.exists("WebAcl"), "{shape}: no second web ACL");
                    assert_eq!(d.value(output), COMPANION_ARN);
                }
            }
        }
    }
    let deploy = std::fs::read_to_string(repo_root().join("docs/deploy.md")).unwrap();
    for needle in ["infra/waf-us-east-1.yaml", "WebAclArn=none", "--region us-east-1"] {
        assert!(deploy.contains(needle), "docs/deploy.md does not say {needle}");
    }
}

/// The companion (for stacks outside us-east-1) deploys only in us-east-1 and holds exactly the stack's own rules,
/// response body and limit parameters; its output is the ARN the stack takes.
#[test]
fn the_companion_has_the_same_rules_and_deploys_only_in_us_east_1() {
    let main = load("template.yaml");
    let companion = load("infra/waf-us-east-1.yaml");
    assert!(companion.get("Transform").is_none(), "plain CloudFormation: `aws cloudformation deploy` takes it");
    let resources = companion["Resources"].as_mapping().unwrap();
    let acls: Vec<_> = resources.iter().filter(|(_, r)| r["Type"] == "AWS::WAFv2::WebACL").collect();
    assert_eq!(acls.len(), 1);
    let (id, acl) = acls[0];
    let ours = &main["Resources"]["WebAcl"]["Properties"];
    for key in ["Scope", "DefaultAction", "CustomResponseBodies", "Rules"] {
        assert_eq!(acl["Properties"][key], ours[key], "infra/waf-us-east-1.yaml: {key} differs from template.yaml");
    }
    for rule in rate_rules(&companion, acl) {
        let p = &rule.limit_parameter;
        assert_eq!(companion["Parameters"][p.as_str()], main["Parameters"][p.as_str()], "parameter {p} differs");
    }
    assert_eq!(get_att(&companion["Outputs"]["WebAclArn"]["Value"]), Some(format!("{}.Arn", id.as_str().unwrap())));
    assert!(Deployment::new(&companion, "us-east-1", &[]).refusals().is_empty());
    assert!(!Deployment::new(&companion, "eu-west-1", &[]).refusals().is_empty(), "refused outside us-east-1");
}

/// Each function's reserved concurrency is a parameter of its own, wired through a condition: 0 (the documented
/// default) leaves it unreserved (never ReservedConcurrentExecutions 0, which would stop the function).
#[test]
fn every_function_has_its_reserved_concurrency_wired() {
    let doc = load("template.yaml");
    let deploy = std::fs::read_to_string(repo_root().join("docs/deploy.md")).unwrap();
    let mut params = BTreeSet::new();
    let functions: Vec<_> = doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), 6);
    for (id, f) in functions {
        let id = id.as_str().unwrap();
        let wired = &f["Properties"]["ReservedConcurrentExecutions"];
        assert!(!wired.is_null(), "{id}: no ReservedConcurrentExecutions");
        let unreserved = Deployment::new(&doc, "eu-west-1", &[("WebAclArn", "none")]);
        assert!(unreserved.pick(wired).is_none(), "{id}: reserved by default");
        let param = {
            let (_, arg) = intrinsic(wired).unwrap();
            ref_name(&arg.as_sequence().unwrap()[1]).unwrap_or_else(|| panic!("{id}: !If [c, !Ref P, NoValue]"))
        };
        let p = &doc["Parameters"][param];
        assert_eq!(
            (p["Type"].as_str(), p["Default"].as_u64(), p["MinValue"].as_u64()),
            (Some("Number"), Some(0), Some(0)),
            "{param}"
        );
        let reserved = Deployment::new(&doc, "eu-west-1", &[("WebAclArn", "none"), (param, "7")]);
        assert_eq!(reserved.pick(wired).map(|v| reserved.value(v)).as_deref(), Some("7"), "{id}");
        assert!(params.insert(param.to_string()), "{param} is shared");
        assert!(deploy.contains(&format!("`{param}`")), "docs/deploy.md does not document {param}");
    }
}

/// CloudFront's standard logs are on by default (one parameter turns them off), in a bucket of their own that is
/// private, encrypted, accepts CloudFront's ACL-based delivery and deletes them after CloudFrontLogsDays.
#[test]
fn cloudfront_logs_go_to_a_private_encrypted_bucket_that_expires_them() {
    let doc = load("template.yaml");
    let config = &doc["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let on = Deployment::new(&doc, "us-east-1", &[]);
    assert!(doc["Parameters"]["CloudFrontLogsDays"]["Default"].as_u64().unwrap() > 0, "on by default");
    let logging = on.pick(&config["Logging"]).expect("logging on by default");
    let bucket = get_att(&logging["Bucket"]).expect("Bucket: !GetAtt <bucket>.DomainName");
    let bucket = bucket.strip_suffix(".DomainName").unwrap();
    assert!(on.exists(bucket));
    assert_eq!(logging["IncludeCookies"], false, "the session cookie never goes into a log");
    let off = Deployment::new(&doc, "us-east-1", &[("CloudFrontLogsDays", "0")]);
    assert!(off.pick(&config["Logging"]).is_none() && !off.exists(bucket), "0 turns them off, bucket and all");

    let props = &doc["Resources"][bucket]["Properties"];
    let block = &props["PublicAccessBlockConfiguration"];
    for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[k], true, "{bucket}: {k}");
    }
    let ownership = props["OwnershipControls"]["Rules"][0]["ObjectOwnership"].as_str().unwrap();
    assert!(
        ["BucketOwnerPreferred", "ObjectWriter"].contains(&ownership),
        "{bucket}: {ownership}: CloudFront's standard logging needs ACLs enabled"
    );
    let sse = &props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert!(sse["SSEAlgorithm"].is_string(), "{bucket}: encrypted");
    let rules = props["LifecycleConfiguration"]["Rules"].as_sequence().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["Status"] == "Enabled" && ref_name(&r["ExpirationInDays"]) == Some("CloudFrontLogsDays")),
        "{bucket}: no lifecycle rule that expires the logs after CloudFrontLogsDays"
    );
    let policy = doc["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::S3::BucketPolicy" && ref_name(&r["Properties"]["Bucket"]) == Some(bucket))
        .unwrap_or_else(|| panic!("{bucket}: no bucket policy"));
    assert!(yaml(policy).contains("aws:SecureTransport"), "{bucket}: TLS only");
    assert_eq!(policy["Condition"], doc["Resources"][bucket]["Condition"]);
}

/// The HTTP API's route throttles are a ceiling on cost, shared by every client, far above one client's per-IP
/// allowance: at least 100 clients at their /auth/* limit fit under each route's ceiling.
#[test]
fn the_http_api_throttles_are_a_ceiling_above_the_per_client_limits() {
    let doc = load("template.yaml");
    let p = &doc["Parameters"];
    let stage = &doc["Resources"]["HttpApiStage"]["Properties"]["DefaultRouteSettings"];
    assert_eq!(ref_name(&stage["ThrottlingRateLimit"]), Some("AuthThrottlingRateLimit"));
    assert_eq!(ref_name(&stage["ThrottlingBurstLimit"]), Some("AuthThrottlingBurstLimit"));
    let rate = p["AuthThrottlingRateLimit"]["Default"].as_u64().unwrap();
    let burst = p["AuthThrottlingBurstLimit"]["Default"].as_u64().unwrap();
    let per_client = p["RateLimitAuth"]["Default"].as_u64().unwrap();
    assert!(burst >= rate);
    assert!(rate * 300 >= 100 * per_client, "{rate}/s per route against {per_client} per IP per 5 minutes");
}

/// Every parameter is in one of the console's groups and in docs/deploy.md's table; samconfig.toml sets only
/// parameters that exist.
#[test]
fn every_parameter_is_grouped_and_documented() {
    let doc = load("template.yaml");
    let deploy = std::fs::read_to_string(repo_root().join("docs/deploy.md")).unwrap();
    let mut grouped = BTreeMap::new();
    for g in doc["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"].as_sequence().unwrap() {
        for p in g["Parameters"].as_sequence().unwrap() {
            *grouped.entry(p.as_str().unwrap().to_string()).or_insert(0) += 1;
        }
    }
    let names: BTreeSet<String> =
        doc["Parameters"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_string()).collect();
    for name in &names {
        assert_eq!(grouped.get(name), Some(&1), "{name}: in no group, or in several");
        assert!(deploy.contains(&format!("`{name}`")), "docs/deploy.md does not document {name}");
    }
    assert_eq!(grouped.keys().cloned().collect::<BTreeSet<_>>(), names, "a group names a missing parameter");
    let samconfig: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo_root().join("samconfig.toml")).unwrap()).unwrap();
    let overrides = samconfig["default"]["deploy"]["parameters"]["parameter_overrides"].as_array().unwrap();
    for o in overrides {
        let name = o.as_str().unwrap().split('=').next().unwrap();
        assert!(names.contains(name), "samconfig.toml sets {name}, which template.yaml does not have");
    }
}

#[test]
fn the_evaluators_agree_with_waf_and_cloudformation_on_small_cases() {
    assert_eq!(url_decode("/auth/%6Cogin"), "/auth/login");
    assert_eq!(url_decode("/a%2"), "/a%2");
    assert_eq!(url_decode("%41%zz"), "A%zz");
    assert_eq!(normalize_path("//auth//./x/../login"), "/auth/login");
    assert_eq!(normalize_path("/auth/"), "/auth/");
    assert_eq!(normalize_path("/../auth/login"), "/../auth/login");
}
