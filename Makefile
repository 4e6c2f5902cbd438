# The two commands: `make dev` runs the whole thing locally; `make test` runs every test. Both install what
# they need first (a Python venv with pinned tools, npm ci of the pinned JS packages).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

.PHONY: dev test setup unit integration lint clean

## make dev: emulator, DynamoDB Local, the functions under cargo lambda, the example SPA; Ctrl-C stops all.
dev: setup
	cargo build --workspace --bins
	bash infra/dev.sh

## make test: unit tests, then the integration tests against the real local stack.
test: setup lint
	cargo build --workspace --all-targets
	bash infra/with-dynamodb.sh cargo nextest run --workspace

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
	rm -rf $(VENV) .tools infra/node_modules examples/spa/node_modules target
