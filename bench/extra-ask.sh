#!/usr/bin/env bash
# Ask end to end (issue 10, item 6): `askdocs serve` on an empty data
# directory, one account with a library of ~200 real documents (the
# benchmark's texts cut into parts), then questions asked one at a time over
# HTTP. The server's Server-Timing header separates the model's time (the
# question's embedding, the answerer) from the query path's own overhead.
# Called by bench/run.sh with the results directory; prints
# {"title","rows":[...]} (see bench/report.py).
set -euo pipefail
results="$1"
askdocs="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/release/askdocs}"
work=$(mktemp -d)
source scripts/serve-lib.sh
cleanup() {
  stop_serve
  rm -rf "$work"
}
trap cleanup EXIT

if ! RUST_LOG=warn start_serve "$askdocs" "$work/data" "$work/stdout" "$work/server.log"; then
  cat "$work/server.log" >&2
  echo '{"title": "Ask end to end", "error": "askdocs serve did not start"}'
  exit 0
fi
python3 bench/ask_e2e.py "$url" "$results/queries.json" .bench-docs/set/txt/*.txt
