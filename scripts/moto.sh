#!/usr/bin/env bash
# A local AWS emulator (moto, from PyPI) for the S3, DynamoDB and S3 Vectors adapter tests.
#   scripts/moto.sh install   make .venv-moto from scripts/requirements-moto.txt (again when it changes)
#   scripts/moto.sh start     start it on 127.0.0.1:$MOTO_PORT (default 5055) unless it runs
#   scripts/moto.sh stop      stop the one this script started
# The server is scripts/moto_server.py: moto's own server plus what moto lacks of
# S3 Vectors (QueryVectors, index modes, limits); see that file.
# No AWS account is involved: every request stays on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-moto
port="${MOTO_PORT:-5055}"
pid_file=".moto-$port.pid"
log_file=".moto-$port.log"
requirements=scripts/requirements-moto.txt
stamp="$venv/.requirements-moto.txt"

install() {
  if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp" \
    && "$venv/bin/python" -c "import moto" 2>/dev/null; then
    return
  fi
  echo "moto: installing $requirements into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}

# 0: our server (with the S3 Vectors extension) answers; 1: nothing answers;
# 2: something else answers (e.g. a plain moto_server started before this script used moto_server.py)
probe() {
  python3 - "$port" <<'PY'
import json, sys, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
req = urllib.request.Request(
    f"{base}/QueryVectors",
    data=json.dumps({"vectorBucketName": "moto-probe", "indexName": "moto-probe", "topK": 1,
                     "queryVector": {"float32": [0.0]}}).encode(),
    headers={"Content-Type": "application/json",
             "Authorization": "AWS4-HMAC-SHA256 Credential=probe/20260101/us-east-1/s3vectors/aws4_request, "
                              "SignedHeaders=host, Signature=0"},
    method="POST")
try:
    urllib.request.urlopen(req, timeout=5)
    sys.exit(0)
except urllib.error.HTTPError as e:
    body = e.read().decode(errors="replace")
    sys.exit(0 if "NotFoundException" in body else 2)
except (ConnectionError, TimeoutError, urllib.error.URLError):
    sys.exit(1)
except Exception:
    sys.exit(2)
PY
}

stop() {
  if [ -f "$pid_file" ]; then
    pid="$(cat "$pid_file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$pid_file"
  fi
}

case "${1:-}" in
  install)
    install
    ;;
  start)
    install
    state=0
    probe || state=$?
    if [ "$state" = 0 ]; then
      exit 0
    fi
    if [ "$state" = 2 ]; then
      if [ -f "$pid_file" ]; then
        echo "moto: restarting the server on port $port (it lacks the S3 Vectors extension)" >&2
        stop
      else
        echo "moto: port $port is taken by a server without the S3 Vectors extension that this script did not start; stop it or set MOTO_PORT" >&2
        exit 1
      fi
    fi
    nohup "$venv/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$port" > "$log_file" 2>&1 &
    echo $! > "$pid_file"
    # A first start imports a lot of Python; give it up to a minute.
    for _ in $(seq 1 600); do
      if probe; then
        echo "moto: listening on http://127.0.0.1:$port" >&2
        exit 0
      fi
      if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    echo "moto: did not start; see $log_file" >&2
    exit 1
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 install|start|stop" >&2
    exit 2
    ;;
esac
