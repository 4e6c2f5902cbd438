#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another, each for SECONDS (default 180):
#   infra/fuzz.sh [SECONDS] [TARGET...]
# Prints the executions per target (libFuzzer's final stats) and exits non-zero if any target found a crash
# (the input is in fuzz/artifacts/TARGET/; replay it with `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-…`).
# For humans, not CI. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); it uses nightly-only rustc flags, so
# on the stable toolchain it runs with RUSTC_BOOTSTRAP=1. FUZZ_SANITIZER=none skips AddressSanitizer (faster; needed
# where ASan's runtime is missing). The corpus grows in fuzz/corpus/TARGET/ across runs.
set -euo pipefail
secs=${1:-180}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
sanitizer=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

cd "$root"
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list --fuzz-dir "$fuzz")
fi

echo "building ${#targets[@]} targets (sanitizer: $sanitizer)…"
cargo fuzz build -O --sanitizer "$sanitizer" --fuzz-dir "$fuzz"

logs="$fuzz/target/logs"
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$fuzz/corpus/$t"
  mkdir -p "$corpus"
  dict=()
  [ -f "$fuzz/dict/$t.dict" ] && dict=("-dict=$fuzz/dict/$t.dict")
  log="$logs/$t.log"
  echo "== $t: ${secs}s (log: $log)"
  rc=0
  cargo fuzz run -O --sanitizer "$sanitizer" --fuzz-dir "$fuzz" "$t" "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -1)
  line="$t: ${execs:-?} executions"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    line="$line, FAILED (exit $rc)"
    grep -E -A1 '^(==[0-9]+==ERROR|thread .* panicked)' "$log" | head -10 || true
    grep -E '^[[:space:]]+(fuzz/artifacts/|cargo fuzz tmin)' "$log" | sort -u || true
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
