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
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

RUST_LOG=warn "$askdocs" --data-dir "$work/data" serve --port 0 > "$work/stdout" 2> "$work/server.log" &
server_pid=$!
url=""
for _ in $(seq 1 600); do
  line=$(head -n 1 "$work/stdout" 2>/dev/null || true)
  case "$line" in
    "askdocs listening on "*) url="${line#askdocs listening on }"; break ;;
  esac
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$work/server.log" >&2
  echo '{"title": "Ask end to end", "error": "askdocs serve did not start"}'
  exit 0
fi
python3 bench/ask_e2e.py "$url" "$results/queries.json" .bench-docs/set/txt/*.txt
