//! Sizes of the six functions as deployed: arm64 release binaries and zips (`cargo lambda build`), x86_64 for
//! comparison.

use crate::functions::{FUNCTIONS, venv_path};
use std::path::Path;
use std::process::Command;

pub enum Size {
    /// `cargo lambda build --release --arm64` failed.
    BuildFailed,
    Measured(Vec<SizeRow>),
}

/// Bytes; `None` where the file is missing.
pub struct SizeRow {
    pub function: &'static str,
    /// target/aarch64-unknown-linux-gnu/release/<fn>
    pub bootstrap: Option<u64>,
    /// target/lambda/<fn>/bootstrap.zip
    pub zip: Option<u64>,
    /// target/release/<fn>
    pub x86_64: Option<u64>,
}

pub fn run(build: bool) -> Size {
    let root = tests::repo_root();
    if build && !build_zips(&root) {
        return Size::BuildFailed;
    }
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    let rows = FUNCTIONS
        .iter()
        .map(|&f| SizeRow {
            function: f,
            bootstrap: size(&root.join("target/aarch64-unknown-linux-gnu/release").join(f)),
            zip: size(&root.join("target/lambda").join(f).join("bootstrap.zip")),
            x86_64: size(&root.join("target/release").join(f)),
        })
        .collect();
    Size::Measured(rows)
}

/// `cargo lambda build --release --arm64 --output-format zip` of the six functions: whether it succeeded.
fn build_zips(root: &Path) -> bool {
    eprintln!("bench: cargo lambda build --release --arm64 --output-format zip (a full cross build the first time)");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root).env("PATH", venv_path()).args([
        "lambda",
        "build",
        "--release",
        "--arm64",
        "--output-format",
        "zip",
    ]);
    for f in FUNCTIONS {
        cmd.args(["-p", f]);
    }
    cmd.status().expect("cargo lambda").success()
}
