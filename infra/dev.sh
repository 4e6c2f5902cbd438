#!/usr/bin/env bash
# `make dev`: the whole thing locally. DynamoDB Local (:8000), the ERP.net emulator (127.0.0.1:5005), the six
# functions under cargo lambda watch (:9000, reloading on change) and the example SPA (http://localhost:5173).
# Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"
trap 'echo; echo "stopping..."; stop_all' EXIT
trap 'exit 130' INT TERM

for p in 8000 5005 9000 5173; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "port $p is already in use: stop what runs there first (an earlier 'make dev'?)" >&2
    exit 1
  fi
done

logs="$root/target/dev-logs"
mkdir -p "$logs"
start "DynamoDB Local" "$logs/dynamodb.log" "$here/dynamodb.sh" 8000
start "ERP.net emulator" "$logs/emulator.log" node "$here/emulator/server.js"
wait_port "DynamoDB Local" 127.0.0.1 8000 60
(cd "$root" && cargo xtask create-table --endpoint http://127.0.0.1:8000 --name bff-sessions)
start "BFF (cargo lambda watch)" "$logs/bff.log" \
  bash -c "cd '$root' && exec cargo lambda watch --disable-cors -A 127.0.0.1 -P 9000 --env-file infra/dev.env"
start "example SPA (vite)" "$logs/spa.log" bash -c "cd '$root/examples/spa' && exec npx vite"
wait_http "ERP.net emulator" http://127.0.0.1:5005/__emulator/health 30
wait_port "cargo lambda watch" 127.0.0.1 9000 60
wait_http "BFF" http://127.0.0.1:9000/auth/session 180
wait_port "Vite" 127.0.0.1 5173 60

cat <<TXT

  ERP.net BFF is running locally.

    App (SPA + BFF, one origin)   http://localhost:5173
    BFF functions (cargo lambda)  http://127.0.0.1:9000   (/auth/*, /api/*)
    ERP.net emulator              http://127.0.0.1:5005   (issuer http://127.0.0.1:5005/id)
    DynamoDB Local                http://127.0.0.1:8000   (table bff-sessions)

  Test users (login / password):  demo / demo     alice / alice
  Logs: $logs/
  Press Ctrl-C to stop everything.

TXT
wait -n "${pids[@]}"
echo "a service stopped; see the logs in $logs" >&2
exit 1
