#!/usr/bin/env bash
# Longer fuzzing than `make test` does.
#   bash scripts/fuzz.sh [SECONDS]     default 300 per target
# 1. The stable harness (tests/fuzz.rs: extraction of every format through the
#    sandbox, chunking, every route's request extractors) with many more inputs.
# 2. The coverage-guided cargo-fuzz targets in extract/fuzz/ (extract) and fuzz/ (chunk,
#    request_body, cursor), when a nightly toolchain is installed; cargo-fuzz
#    itself is installed from crates.io when missing. Findings land in
#    fuzz/artifacts/<target>/; corpora in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
export ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}"
bash scripts/fetch-model.sh "$ASKDOCS_MODEL_DIR"

echo "fuzz: the stable harness, $((seconds / 3)) s worth of inputs per target" >&2
FUZZ_ITERATIONS="${FUZZ_ITERATIONS:-$((seconds * 20))}" FUZZ_SEED="${FUZZ_SEED:-$RANDOM$RANDOM}" \
  cargo test --release -p askdocs-local --test fuzz -- --nocapture

if ! rustup toolchain list | grep -q nightly; then
  echo "fuzz: no nightly toolchain, so the cargo-fuzz targets are skipped (rustup toolchain install nightly)" >&2
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io ..." >&2
  cargo install --locked cargo-fuzz
fi
# Seed each corpus with the committed test documents. The readers' own
# target lives with them (extract/fuzz); askdocs' others in fuzz/.
for target in chunk request_body cursor; do
  mkdir -p "fuzz/corpus/$target"
done
mkdir -p extract/fuzz/corpus/extract
cp tests/fixtures/*.pdf tests/fixtures/*.docx tests/fixtures/*.html tests/fixtures/*.txt tests/fixtures/*.md \
  tests/fixtures/*.csv extract/fuzz/corpus/extract/ 2>/dev/null || true
cp tests/fixtures/*.txt tests/fixtures/*.md fuzz/corpus/chunk/ 2>/dev/null || true
echo "fuzz: cargo fuzz run extract (extract/fuzz) for ${seconds}s" >&2
(cd extract/fuzz && cargo +nightly fuzz run extract -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10)
for target in chunk request_body cursor; do
  echo "fuzz: cargo fuzz run $target for ${seconds}s" >&2
  (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10)
done
