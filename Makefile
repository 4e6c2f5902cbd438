# The two commands: `make dev` runs the whole thing locally; `make test` runs every test. Both install what
# they need first (a Python venv with pinned tools, npm ci of the pinned JS packages).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CARGO_TERM_COLOR ?= never
export SAM_CLI_TELEMETRY := 0

.PHONY: dev test setup unit integration lint clean e2e e2e-run e2e-setup check-template sam-build lambda-bins schemathesis soak bench fuzz

## make dev: emulator, DynamoDB Local, the functions under cargo lambda, the example SPA; Ctrl-C stops all.
# The local stack is defined once, in xtask/src/stack/ (see infra/README.md).
dev: setup
	cargo build --workspace --bins
	cargo xtask dev

## make test: unit tests, then the integration tests against the real local stack, then the browser tests.
test: setup lint check-template e2e-setup
	cd infra && node --test emulator/*.test.mjs
	cargo build --workspace --all-targets
	cargo xtask with-dynamodb -- bash -c 'cargo nextest run --workspace && $(MAKE) --no-print-directory e2e-run && cargo xtask with-stack -- bash infra/schemathesis.sh'

## make e2e: only the browser end-to-end tests (Debian's Chromium + playwright-core, tests/e2e/).
e2e: setup e2e-setup
	cargo build --workspace --bins
	cargo xtask with-dynamodb -- $(MAKE) --no-print-directory e2e-run

# The browser tests themselves; DynamoDB Local must be up (BFF_TEST_DYNAMODB), as the two targets above arrange.
# tests/e2e/harness.mjs starts each stack with `cargo xtask stack --spa`.
e2e-run:
	cd tests/e2e && npm test

# Chromium from Debian (never a downloaded browser), and the pinned playwright-core.
e2e-setup: tests/e2e/node_modules/.installed
	@if [ ! -x /usr/bin/chromium ] && [ -z "$${CHROMIUM_PATH:-}" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "Chromium is missing: sudo apt-get install -y --no-install-recommends chromium (the browser tests need it)" >&2; \
	  fi; \
	fi

tests/e2e/node_modules/.installed: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## make check-template: the SAM template and its us-east-1 companion (the web ACL) validate and lint (offline).
check-template: setup
	sam validate --lint
	cfn-lint template.yaml
	sam validate --lint -t infra/waf-us-east-1.yaml
	cfn-lint infra/waf-us-east-1.yaml

## make sam-build: what `sam deploy` ships (six arm64 bootstraps, cross-compiled with cargo lambda + zig).
# The six in ONE cargo invocation (dependencies once, the six fat-LTO links side by side), with what SAM's
# rust-cargolambda builder ran once per function: `cargo lambda build --release --arm64`, the same profile, target
# and features (the six functions depend on the same crates, so unifying their features changes nothing). Then
# `sam build` only copies each bootstrap (template.yaml: BuildMethod makefile, the build-<LogicalId> targets below),
# in place (--build-in-source: no copy of the repository to build from), uncached (samconfig's cache would hash the
# whole repository, target/ included, for minutes, to decide whether to copy six files).
LAMBDA_BINS := login callback session refresh logout proxy
sam-build: setup
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(MAKE) --no-print-directory lambda-bins
	LAMBDA_BINS_BUILT=1 sam build --build-in-source --no-cached

# target/lambda/<function>/bootstrap for all six (a no-op when they are up to date).
lambda-bins:
	cargo lambda build --release --arm64 $(addprefix --bin ,$(LAMBDA_BINS))

# SAM's makefile build method runs `make build-<LogicalId>` with ARTIFACTS_DIR: the function's bootstrap, from the
# one build above (a bare `sam build --build-in-source` makes it first; sam-build has just made it).
build-%Function: $(if $(LAMBDA_BINS_BUILT),,lambda-bins)
	cp target/lambda/$(shell echo '$*' | tr '[:upper:]' '[:lower:]')/bootstrap "$(ARTIFACTS_DIR)/bootstrap"

## make schemathesis: property-based tests of a fresh local stack against openapi.yaml.
schemathesis: setup
	cargo build --workspace --bins
	cargo xtask with-stack -- bash infra/schemathesis.sh

## make soak: several runtimes, hundreds of sessions, minutes of calls, faults (SOAK_* env: see tests/examples/soak.rs).
soak: setup
	cargo build --workspace --bins --examples
	cargo xtask with-dynamodb -- cargo run -q -p tests --example soak

## make bench: the benchmark suite; figures as in BENCHMARKS.md, report in target/bench/report.md. Not in CI.
# With the Node.js peer BFF at PEER (default: beside the repository, as on the team's machines), cold, memory and
# proxy also run against it, side by side (xtask/src/peer.rs copies it into target/ first).
PEER ?= ../shared/peer/node-bff
bench: setup
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || echo "wrk is missing: sudo apt-get install -y wrk" >&2
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	if [ -f "$(PEER)/package-lock.json" ]; then peer="--peer $$(cargo xtask peer --from $(PEER) | tail -1)"; \
	else echo "no Node peer at $(PEER): measuring ours alone" >&2; peer=""; fi; \
	cargo xtask with-dynamodb -- cargo run --release -p bench -- all $$peer --out target/bench/report.md

## make fuzz: cargo fuzz on the five parsers, FUZZ_SECONDS each (default 180); not part of CI.
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	bash infra/fuzz.sh $${FUZZ_SECONDS:-180}

## make setup: everything the two commands need, installed only when missing or out of date.
setup: $(VENV)/.installed infra/node_modules/.installed examples/spa/node_modules/.installed .tools/nextest

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

infra/node_modules/.installed: infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

examples/spa/node_modules/.installed: examples/spa/package-lock.json
	cd examples/spa && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.tools/nextest:
	command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
	mkdir -p .tools && touch $@

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

unit:
	cargo test --workspace --lib --bins

clean:
	rm -rf $(VENV) .tools infra/node_modules examples/spa/node_modules tests/e2e/node_modules target
