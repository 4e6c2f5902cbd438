#!/usr/bin/env bash
# Runs a command with DynamoDB Local up on a free port (BFF_TEST_DYNAMODB); see `cargo xtask with-dynamodb --help`.
exec cargo run --quiet --manifest-path "$(dirname "$0")/../Cargo.toml" -p xtask -- with-dynamodb -- "$@"
