//! `cargo xtask <command>`: project chores the Makefile calls.
//!
//! - `create-table [--endpoint URL] [--name NAME]`: creates the sessions table in DynamoDB Local from the
//!   definition in template.yaml (default endpoint http://127.0.0.1:8000, name `bff-sessions`).

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    match args.first().map(String::as_str) {
        Some("create-table") => {
            let endpoint = flag("--endpoint").unwrap_or_else(|| "http://127.0.0.1:8000".into());
            let name = flag("--name").unwrap_or_else(|| "bff-sessions".into());
            let client = xtask::local_dynamodb(&endpoint).await;
            match xtask::create_table(&client, &name).await {
                Ok(()) => {
                    println!("table {name} ready at {endpoint}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("create-table failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: cargo xtask create-table [--endpoint URL] [--name NAME]");
            ExitCode::from(2)
        }
    }
}
