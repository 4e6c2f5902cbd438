//! Project automation shared by `cargo xtask` and the tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The repository root (this crate lives in `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The sessions table as `template.yaml` deploys it: key schema, attribute types and the TTL attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub attributes: Vec<(String, String)>,
    pub keys: Vec<(String, String)>,
    pub ttl_attribute: Option<String>,
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
    let def = TableDefinition {
        attributes: pairs(&props["AttributeDefinitions"], "AttributeName", "AttributeType"),
        keys: pairs(&props["KeySchema"], "AttributeName", "KeyType"),
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
    for (attr, ty) in &def.keys {
        req = req.key_schema(
            KeySchemaElement::builder()
                .attribute_name(attr)
                .key_type(KeyType::from(ty.as_str()))
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

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_table_from_the_template() {
        let def = super::table_definition().unwrap();
        assert_eq!(def.keys, vec![("pk".to_string(), "HASH".to_string())]);
        assert_eq!(def.ttl_attribute.as_deref(), Some("ttl"));
    }
}
