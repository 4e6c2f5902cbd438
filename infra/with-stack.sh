#!/usr/bin/env bash
# Runs a command against a private local stack (BFF_URL appended and exported); see `cargo xtask with-stack --help`.
exec cargo run --quiet --manifest-path "$(dirname "$0")/../Cargo.toml" -p xtask -- with-stack -- "$@"
