#!/usr/bin/env bash
# Property-based API tests of the running BFF against its contract (openapi.yaml), with schemathesis (PyPI).
#
#   infra/schemathesis.sh http://127.0.0.1:9000        # a BFF under `cargo lambda watch` (e.g. `make dev`)
#
# Checks: no 5xx (not_a_server_error) and every documented answer matches its schema
# (response_schema_conformance). Every request carries `X-CSRF: 1` (as the SPA's does) unless the case is about
# that header. Redirects are never followed: /auth/login and /auth/logout send the browser to ERP.net.
# Bounded: SCHEMATHESIS_MAX_EXAMPLES cases per operation and phase (default 20), a fixed seed (SCHEMATHESIS_SEED) so
# CI runs are reproducible; well under 2 minutes on a small machine. Exits non-zero on any failure or error.
# A JUnit report (and the tools' caches) go to target/schemathesis/ (SCHEMATHESIS_REPORT_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

base=${1:-}
if [ -z "$base" ] || [ $# -ne 1 ]; then
  echo "usage: $0 BASE_URL   (e.g. http://127.0.0.1:9000)" >&2
  exit 2
fi
base=${base%/}

st=""
for candidate in "$root/.venv/bin/st" "$(command -v st 2>/dev/null || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then st=$candidate; break; fi
done
if [ -z "$st" ]; then
  echo "schemathesis (st) is not installed: run 'make setup' (requirements-dev.txt pins it)" >&2
  exit 2
fi

# Fail fast, with a clear message, when nothing answers at the base URL.
if ! curl -sS -o /dev/null --max-time 10 -H 'X-CSRF: 1' "$base/auth/session"; then
  echo "no BFF answers at $base (GET /auth/session failed)" >&2
  exit 2
fi

report_dir=${SCHEMATHESIS_REPORT_DIR:-$root/target/schemathesis}
mkdir -p "$report_dir"
report_dir=$(cd "$report_dir" && pwd)
# schemathesis and hypothesis keep caches (.schemathesis/, .hypothesis/) in the working directory: not in the repo.
cd "$report_dir"

# Signed in (SCHEMATHESIS_USER=login:password, default demo:demo; empty = anonymous), so the authenticated answers
# of /auth/session, /auth/refresh and /api/* are checked against their schemas too. The sign-in is the real one:
# /auth/login → the emulator's login form → the callback; curl keeps the cookies.
auth=()
user=${SCHEMATHESIS_USER-demo:demo}
if [ -n "$user" ]; then
  jar="$report_dir/cookies.txt"
  rm -f "$jar"
  # Sign in on the app's own host (the redirect URI's): cookies are per host, and PUBLIC_ORIGIN says localhost.
  app_base=${SCHEMATHESIS_APP_ORIGIN:-${base/127.0.0.1/localhost}}
  page=$(curl -sS -L -c "$jar" -b "$jar" "$app_base/auth/login?returnUrl=%2F" -w '\n%{url_effective}')
  form_url=$(printf '%s' "$page" | tail -n1)
  action=$(printf '%s' "$page" | grep -o '<form[^>]*id="login-form"[^>]*>' | grep -o 'action="[^"]*"' | head -1 | cut -d'"' -f2)
  if [ -z "$action" ]; then
    echo "schemathesis: could not find the emulator's login form at $form_url" >&2
    exit 2
  fi
  origin=$(printf '%s' "$form_url" | grep -o '^https\?://[^/]*')
  curl -sS -o /dev/null -c "$jar" -b "$jar" --max-redirs 10 -L \
    --data-urlencode "login=${user%%:*}" --data-urlencode "password=${user#*:}" "$origin$action" || true
  session=$(awk '$6 == "__Host-Http-bff-session" {print $7}' "$jar" | tail -1)
  if [ -z "$session" ]; then
    echo "schemathesis: the sign-in as ${user%%:*} did not yield a session cookie" >&2
    exit 2
  fi
  auth=(--header "Cookie: __Host-Http-bff-session=$session")
  echo "schemathesis: signed in as ${user%%:*}"
fi

exec "$st" run "$root/openapi.yaml" \
  --url "$base" \
  --checks not_a_server_error,response_schema_conformance \
  --header 'X-CSRF: 1' \
  "${auth[@]}" \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
  --seed "${SCHEMATHESIS_SEED:-20251125}" \
  --max-redirects 0 \
  --request-timeout 30 \
  --workers 1 \
  --generation-database none \
  --suppress-health-check too_slow,filter_too_much \
  --report junit \
  --report-dir "$report_dir" \
  --no-color
