#!/usr/bin/env bash
# Checks that openapi.yaml says exactly what `askdocs serve` accepts and answers:
# schemathesis (from PyPI, in .venv-st) runs every check against a fresh server
# with a logged-in user's token, and this script fails on any finding.
#
#   bash scripts/schemathesis.sh              # what `make test` runs
#   ST_MAX_EXAMPLES=200 bash scripts/schemathesis.sh   # a longer run
#   bash scripts/schemathesis.sh --seed 42    # extra arguments go to `st run`
#
# Environment:
#   ASKDOCS_BIN       the askdocs binary (default target/debug/askdocs)
#   ST_MAX_EXAMPLES   examples per operation in the fuzzing phase (default 100)
#   ST_WORKERS        concurrent schemathesis workers (default 2)
#   ST_REPORT_DIR     where the JUnit report and the server log go (default: a temp dir, removed)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-st
st_version="4.32.5"
bin="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/debug/askdocs}"
max_examples="${ST_MAX_EXAMPLES:-100}"
workers="${ST_WORKERS:-2}"
export ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}"

if [ ! -x "$bin" ]; then
  echo "schemathesis: $bin not found; build it first (cargo build)" >&2
  exit 1
fi
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$st_version"; then
  echo "schemathesis: installing schemathesis==$st_version into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$st_version"
fi
bash scripts/fetch-model.sh "$ASKDOCS_MODEL_DIR"

work=$(mktemp -d)
report_dir="${ST_REPORT_DIR:-$work/report}"
mkdir -p "$report_dir"
report_dir=$(cd "$report_dir" && pwd)
source scripts/serve-lib.sh
cleanup() {
  stop_serve
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh server on a free port.
if ! RUST_LOG="${RUST_LOG:-warn}" start_serve "$bin" "$work/data" "$work/stdout" "$report_dir/server.log"; then
  echo "schemathesis: askdocs serve did not start; its log:" >&2
  cat "$report_dir/server.log" >&2
  exit 1
fi
echo "schemathesis: askdocs serve on $url" >&2

# One account whose token every request carries (429 answers are retried
# after Retry-After, so this works with the rate limits on).
token=$("$venv/bin/python" - "$url" <<'PY'
import json, sys, time, urllib.error, urllib.request

base = sys.argv[1]
account = {"email": "schemathesis@example.com", "password": "Schema1thesis", "name": "st"}

def post(path, body):
    for _ in range(30):
        request = urllib.request.Request(
            base + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 429:
                time.sleep(float(error.headers.get("Retry-After") or 1))
                continue
            raise SystemExit(f"{path}: {error.code} {error.read().decode()}")
    raise SystemExit(f"{path}: still rate limited")

post("/auth/register", account)
print(post("/auth/login", {"email": account["email"], "password": account["password"]})["token"])
PY
)


# Two workarounds for the tools, not for the API:
# - schemathesis 4.32 sends a `format: binary` body declared as text/* empty (its
#   text serializer drops binary values); files are bytes whatever their type.
# - On CPython 3.11, ast.parse of a deep module can raise SystemError ("AST
#   constructor recursion depth mismatch", cpython#106905) when hypothesis
#   describes a lambda for a report; describe it as unknown instead of crashing.
cat > "$work/askdocs_st_hooks.py" <<'PY'
import schemathesis
from hypothesis.internal import lambda_sources
from schemathesis.transport.serialization import serialize_binary


@schemathesis.serializer("text/plain", "text/markdown", "text/x-markdown", "text/html", "text/csv")
def file_bytes(ctx, value):
    return serialize_binary(value)


_describe_lambda = lambda_sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description
PY
export PYTHONPATH="$work${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=askdocs_st_hooks

# Logout is left out so the token stays valid for the whole run (the
# end-to-end tests cover it). Everything else gets every check.
# Run from the temporary directory: schemathesis keeps a cache in ./.schemathesis.
status=0
spec="$PWD/openapi.yaml"
st="$PWD/$venv/bin/st"
(cd "$work" && "$st" run "$spec" \
  --url "$url" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --exclude-name "POST /auth/logout" \
  --max-examples "$max_examples" \
  --workers "$workers" \
  --request-timeout 60 \
  --generation-database none \
  --no-color \
  --report junit --report-junit-path "$report_dir/schemathesis.xml" \
  "$@") || status=$?

# The answer as server-sent events: schemathesis reads JSON only.
"$venv/bin/python" scripts/event_stream_contract.py "$url" "$token" "$spec" || status=$?

if [ "$status" -ne 0 ]; then
  if [ -n "${ST_REPORT_DIR:-}" ]; then
    echo "schemathesis: the API and openapi.yaml disagree (exit $status); server log: $report_dir/server.log" >&2
  else
    echo "schemathesis: the API and openapi.yaml disagree (exit $status); the server's last log lines:" >&2
    tail -n 30 "$report_dir/server.log" >&2 || true
  fi
fi
exit "$status"
