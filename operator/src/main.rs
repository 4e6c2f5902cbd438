//! `bff-operator`: see the library (`cargo install --path operator`, docs/operate.md).

use clap::Parser;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = bff_operator::Cli::parse();
    let table = bff_operator::table(&cli).await;
    match bff_operator::run(&table, &cli.command, &mut std::io::stdout()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bff-operator: {e}");
            ExitCode::FAILURE
        }
    }
}
