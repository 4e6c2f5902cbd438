#!/usr/bin/env bash
# Runs a command with DynamoDB Local up on a free port (exported as BFF_TEST_DYNAMODB), then stops it.
#   infra/with-dynamodb.sh cargo nextest run --workspace
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
trap stop_all EXIT INT TERM

logs="$here/../target/test-logs"
mkdir -p "$logs"
port=$(free_port)
start "DynamoDB Local" "$logs/dynamodb.log" "$here/dynamodb.sh" "$port"
wait_port "DynamoDB Local" 127.0.0.1 "$port" 60
export BFF_TEST_DYNAMODB="http://127.0.0.1:$port"
"$@"
