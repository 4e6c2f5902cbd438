#!/usr/bin/env bash
# Runs a command against a whole local stack on free ports, then stops it (by PID, in a trap):
#   infra/with-stack.sh infra/schemathesis.sh
# DynamoDB Local (or the one BFF_TEST_DYNAMODB points at, e.g. under infra/with-dynamodb.sh) with a table of its own,
# the ERP.net emulator, and the six functions under `cargo lambda watch`. The command gets the BFF's base URL as its
# last argument and in BFF_URL. Build the functions first (`cargo build --workspace --bins`): they start faster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"
trap stop_all EXIT
trap 'exit 130' INT TERM

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]   (the BFF's base URL is appended and exported as BFF_URL)" >&2
  exit 2
fi

logs="$root/target/stack-logs"
mkdir -p "$logs"
id=$$
client_id=my.trusted.app/first
client_secret="stack-$id-$RANDOM$RANDOM"
table="stack-$id"
emu_port=$(free_port)
bff_port=$(free_port)

if [ -n "${BFF_TEST_DYNAMODB:-}" ]; then
  ddb=$BFF_TEST_DYNAMODB
else
  ddb_port=$(free_port)
  start "DynamoDB Local" "$logs/$id-dynamodb.log" "$here/dynamodb.sh" "$ddb_port"
  wait_port "DynamoDB Local" 127.0.0.1 "$ddb_port" 60
  ddb="http://127.0.0.1:$ddb_port"
fi
(cd "$root" && cargo xtask create-table --endpoint "$ddb" --name "$table")

# The app's origin is localhost, the emulator's 127.0.0.1: two sites, as in production.
EMULATOR_HOST=127.0.0.1 EMULATOR_PORT=$emu_port EMULATOR_CLIENT_ID=$client_id EMULATOR_CLIENT_SECRET=$client_secret \
  EMULATOR_REDIRECT_URIS="http://localhost:$bff_port/auth/callback" \
  EMULATOR_POST_LOGOUT_URIS="http://localhost:$bff_port/" \
  start "ERP.net emulator" "$logs/$id-emulator.log" bash -c "cd '$root' && exec node infra/emulator/server.js"

env_file="$logs/$id-bff.env"
cat >"$env_file" <<ENV
ERPNET_URL=http://127.0.0.1:$emu_port
CLIENT_ID=$client_id
CLIENT_SECRET=$client_secret
PUBLIC_ORIGIN=http://localhost:$bff_port
SESSION_TABLE=$table
AWS_ENDPOINT_URL_DYNAMODB=$ddb
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
AWS_REGION=eu-west-1
RUST_LOG=info
ENV
start "BFF (cargo lambda watch)" "$logs/$id-bff.log" bash -c \
  "cd '$root' && PATH='$root/.venv/bin':\$PATH exec cargo lambda watch --ignore-changes --disable-cors -A 127.0.0.1 -P $bff_port --env-file '$env_file'"

wait_http "ERP.net emulator" "http://127.0.0.1:$emu_port/__emulator/health" 30
wait_port "cargo lambda watch" 127.0.0.1 "$bff_port" 60
wait_http "BFF" "http://127.0.0.1:$bff_port/auth/session" 300

export BFF_URL="http://127.0.0.1:$bff_port"
echo "local stack up: BFF $BFF_URL, emulator http://127.0.0.1:$emu_port, DynamoDB $ddb (table $table); logs in $logs"
status=0
"$@" "$BFF_URL" || status=$?
exit "$status"
