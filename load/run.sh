#!/usr/bin/env bash
# The load test behind `make load`: starts `askdocs serve` on a fresh data
# directory, makes one account per client with a few documents processed to
# `ready` (untimed), then runs locust (from PyPI, in .venv-load) headless:
# LOAD_CLIENTS clients mixing ask, list, get, history and uploads for
# LOAD_DURATION seconds. Prints count, errors, p50/p90/p99 and requests/s per
# operation, and exits non-zero on any error.
#
# Environment:
#   ASKDOCS_BIN      the askdocs binary (default target/debug/askdocs)
#   LOAD_CLIENTS     concurrent clients (default 50)
#   LOAD_DURATION    seconds of timed load (default 60)
#   LOAD_THINK_MIN, LOAD_THINK_MAX   pause between a client's requests (default 0.5-1.5 s)
#   LOAD_RECORD=1    also write the result into docs/reliability.md
# Results (table, locust CSVs, server log) are kept in .load-results/.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-load
locust_version="2.47.0"
bin="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/debug/askdocs}"
clients="${LOAD_CLIENTS:-50}"
duration="${LOAD_DURATION:-60}"
export LOAD_THINK_MIN="${LOAD_THINK_MIN:-0.5}" LOAD_THINK_MAX="${LOAD_THINK_MAX:-1.5}"
export ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}"
results=.load-results

if [ ! -x "$bin" ]; then
  echo "load: $bin not found; build it first (cargo build)" >&2
  exit 1
fi
if ! "$venv/bin/locust" --version 2>/dev/null | grep -q "locust $locust_version "; then
  echo "load: installing locust==$locust_version into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "locust==$locust_version"
fi
bash scripts/fetch-model.sh "$ASKDOCS_MODEL_DIR"

work=$(mktemp -d)
mkdir -p "$results"
source scripts/serve-lib.sh
cleanup() {
  stop_serve
  rm -rf "$work"
}
trap cleanup EXIT

if ! LOG_FORMAT=json RUST_LOG="${RUST_LOG:-info}" start_serve "$bin" "$work/data" "$work/stdout" \
  "$results/server.log"; then
  echo "load: askdocs serve did not start; its log:" >&2
  cat "$results/server.log" >&2
  exit 1
fi
echo "load: askdocs serve on $url (pid $server_pid)" >&2

"$venv/bin/python" load/prepare.py "$url" "$clients" "$work/accounts.json" 2> "$work/prepare.log" || {
  cat "$work/prepare.log" >&2
  exit 1
}
cat "$work/prepare.log" >&2
setup_summary=$(sed -n 's/^prepare: //p' "$work/prepare.log" | tail -n 1)

# A build running at the same time skews the numbers; the result says so.
builds_running() { ps -eo comm= | grep -E -x 'cargo|rustc|cc1|cc1plus|ld|ld.lld|mold' | sort -u || true; }
builds_before=$(builds_running)

echo "load: $clients clients for $duration s ..." >&2
LOAD_ACCOUNTS="$work/accounts.json" "$venv/bin/locust" -f load/locustfile.py \
  --headless --users "$clients" --spawn-rate "$clients" --run-time "${duration}s" \
  --host "$url" --csv "$results/locust" --only-summary --stop-timeout 70 \
  --loglevel WARNING > "$results/locust.log" 2>&1 || true
if [ ! -s "$results/locust_stats.csv" ]; then
  echo "load: locust did not run; its log:" >&2
  cat "$results/locust.log" >&2
  exit 1
fi

peak_rss=$(awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || echo "unknown")
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "load: the server died during the run; see $results/server.log" >&2
  exit 1
fi

busy=$(printf '%s\n' $builds_before $(builds_running) | sort -u | paste -sd, -)
busy=${busy:+"; also running during the test: $busy (numbers are pessimistic)"}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
case "$bin" in
  *release*) build="release" ;;
  *) build="debug profile (dependencies built with opt-level 2)" ;;
esac
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ", uncommitted changes" || true)

META_DATE="$(date -u +%Y-%m-%dT%H:%MZ)" \
META_COMMAND="$([ -n "${MAKELEVEL:-}" ] && echo "make load" || echo "bash load/run.sh")" \
META_MACHINE="$(nproc) cores ($cpu), $memory RAM, $(uname -sr)$busy" \
META_BUILD="$build, $("$bin" --version 2>/dev/null || echo askdocs), commit $commit$dirty" \
META_CLIENTS="$clients" META_DURATION="$duration" META_THINK="$LOAD_THINK_MIN-$LOAD_THINK_MAX" \
META_SETUP="$setup_summary" META_PEAK_RSS="$peak_rss" \
"$venv/bin/python" - "$work/meta.json" <<'PY'
import json, os, sys
meta = {key[5:].lower(): value for key, value in os.environ.items() if key.startswith("META_")}
meta["documents"] = 2
json.dump(meta, open(sys.argv[1], "w"))
PY

record=()
if [ "${LOAD_RECORD:-}" = 1 ]; then
  record=(--record docs/reliability.md)
fi
status=0
"$venv/bin/python" load/report.py "$results/locust" "$work/meta.json" "$results/last-run.md" "${record[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "load: requests failed; details in $results/ (locust_failures.csv, server.log)" >&2
fi
exit "$status"
