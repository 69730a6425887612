#!/usr/bin/env bash
# The Lambda artefacts as `sam build` makes them (template.yaml's BuildMethod
# makefile: `make build-<LogicalId>`, cargo lambda per function), plus the
# hello-world baseline built the same way, for bench/sizes.sh --sam and the
# cold-start benchmark.
#
#   bash bench/sam-build.sh        # -> .aws-sam/build/<Fn>Function/bootstrap,
#                                  #    target/lambda/hello-lambda/bootstrap
#
# The stack runs on arm64. Where this machine has no aarch64 Rust target
# (rustup cannot download one from a registry-only network), the same
# `sam build` runs with LAMBDA_ARCH=--x86-64: the same build rules and
# features, for the architecture this machine can also run the cold start on.
# Prints the architecture built (arm64 or x86_64) on stdout.
# Tools: SAM CLI from .venv-infra (scripts/lint-infra.sh makes it), cargo-lambda
# and zig from .venv-bench-tools (bench/requirements-tools.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

tools=.venv-bench-tools
if [ ! -x "$tools/bin/cargo-lambda" ] || ! "$tools/bin/python" -c 'import ziglang' 2>/dev/null; then
  echo "sam-build: installing cargo-lambda and ziglang from PyPI into $tools" >&2
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements-tools.txt >&2
fi
if [ ! -x .venv-infra/bin/sam ]; then
  echo "sam-build: making .venv-infra (SAM CLI) with scripts/lint-infra.sh" >&2
  bash scripts/lint-infra.sh >&2 || true
fi
export PATH="$PWD/$tools/bin:$PATH"
export SAM_CLI_TELEMETRY=0

if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  arch=arm64
  flag=--arm64
else
  arch=x86_64
  flag=--x86-64
  echo "sam-build: no aarch64 Rust target here; sam build with LAMBDA_ARCH=$flag" >&2
fi
LAMBDA_ARCH="$flag" .venv-infra/bin/sam build >&2
cargo lambda build --release "$flag" -p hello-lambda --bin hello-lambda >&2
echo "$arch"
