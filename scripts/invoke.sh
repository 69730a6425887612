#!/usr/bin/env bash
# Replays an event into one Lambda function, the way Lambda would deliver it:
#   scripts/invoke.sh auth events/auth-login.json
# cargo-lambda (from PyPI, into .venv-tools) runs the function under its local
# Lambda runtime emulator on the embedded backend, then stops again.
set -euo pipefail
cd "$(dirname "$0")/.."

function_name="${1:?usage: scripts/invoke.sh FUNCTION EVENT_FILE}"
event_file="${2:?usage: scripts/invoke.sh FUNCTION EVENT_FILE}"
[ -f "$event_file" ] || { echo "invoke: no event file $event_file" >&2; exit 2; }
case "$function_name" in
  auth|document|processing|query) ;;
  *) echo "invoke: FN must be auth, document, processing or query" >&2; exit 2 ;;
esac

# The query function answers in Lambda's response-streaming mode (API
# Gateway's STREAM transfer mode), which `cargo lambda invoke` cannot read:
# it runs under our own Runtime API stand-in, which prints the answer as the
# function writes it.
if [ "$function_name" = query ]; then
  cargo build --quiet --features askdocs-query/local --bin query
  ASKDOCS_BACKEND=embedded \
  ASKDOCS_DATA_DIR="${ASKDOCS_DATA_DIR:-.askdocs}" \
  ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}" \
    exec python3 scripts/runtime_api.py "$event_file" -- "${CARGO_TARGET_DIR:-target}/debug/query"
fi

venv=.venv-tools
if [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "invoke: installing cargo-lambda into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==1.9.2"
fi
export PATH="$PWD/$venv/bin:$PATH"

port="${INVOKE_PORT:-9011}"
log=".invoke-watch.log"
ASKDOCS_BACKEND=embedded \
ASKDOCS_DATA_DIR="${ASKDOCS_DATA_DIR:-.askdocs}" \
ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}" \
  cargo lambda watch --features askdocs-auth/local,askdocs-document/local,askdocs-processing/local,askdocs-query/local \
    --invoke-address 127.0.0.1 --invoke-port "$port" > "$log" 2>&1 &
watch_pid=$!
trap 'kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  sleep 0.2
done
cargo lambda invoke "$function_name" --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$event_file"
echo
