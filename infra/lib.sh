# Shared by infra/dev.sh and infra/with-dynamodb.sh: background services tracked by PID, stopped in a trap.

pids=()

# start NAME LOGFILE CMD... : runs CMD in its own process group, remembers its PID.
start() {
  local name=$1 log=$2
  shift 2
  setsid "$@" >"$log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!, log $log)"
}

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  pids=()
}

# wait_port NAME HOST PORT SECONDS : polls until the port accepts connections, or fails.
wait_port() {
  local name=$1 host=$2 port=$3 secs=$4
  local deadline=$((SECONDS + secs))
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$name did not open $host:$port within ${secs}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# wait_http NAME URL SECONDS : polls until the URL answers 2xx.
wait_http() {
  local name=$1 url=$2 secs=$3
  local deadline=$((SECONDS + secs))
  until curl -fsS -o /dev/null -H 'X-CSRF: 1' "$url" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$name did not answer $url within ${secs}s" >&2
      return 1
    fi
    sleep 0.3
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
