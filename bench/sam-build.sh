#!/usr/bin/env bash
# The Lambda artefacts as `sam build` makes them (template.yaml's BuildMethod
# makefile: `make build-<LogicalId>`, cargo lambda per function) and, for the
# cold start, the same build rules for this machine's architecture.
#
#   bash bench/sam-build.sh
#     .aws-sam/build/<Fn>Function/bootstrap   sam build: the stack's arm64 artefacts
#     .aws-sam/hello-lambda/bootstrap         the hello-world baseline, built alike
#     target/lambda/<fn>/bootstrap            make build-lambda LAMBDA_ARCH=--x86-64
#                                             (and hello-lambda): what the cold start runs
#   prints the architecture of the sam build artefacts (arm64, or x86_64 when no
#   aarch64 Rust target can be had) on stdout.
#
# The aarch64 target comes from rustup (`rustup target add`); where it cannot
# be downloaded, sam build runs with LAMBDA_ARCH=--x86-64 (same rules and
# features) and the sizes say so. Tools: SAM CLI from .venv-infra
# (scripts/lint-infra.sh makes it), cargo-lambda and zig from
# .venv-bench-tools (bench/requirements-tools.txt).
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

has_arm64() { rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; }
if ! has_arm64; then
  echo "sam-build: rustup target add aarch64-unknown-linux-gnu" >&2
  timeout 600 rustup target add aarch64-unknown-linux-gnu >&2 || true
fi
if has_arm64; then
  arch=arm64
  flag=--arm64
else
  arch=x86_64
  flag=--x86-64
  echo "sam-build: no aarch64 Rust target here; sam build with LAMBDA_ARCH=$flag" >&2
fi

LAMBDA_ARCH="$flag" .venv-infra/bin/sam build >&2
cargo lambda build --release "$flag" -p hello-lambda --bin hello-lambda >&2
mkdir -p .aws-sam/hello-lambda
cp target/lambda/hello-lambda/bootstrap .aws-sam/hello-lambda/bootstrap

# The cold start runs here, so on this machine's architecture, by the same rules.
if [ "$arch" != x86_64 ]; then
  make --no-print-directory build-lambda LAMBDA_ARCH=--x86-64 >&2
  cargo lambda build --release --x86-64 -p hello-lambda --bin hello-lambda >&2
fi
echo "$arch"
