#!/usr/bin/env bash
# A local AWS emulator (moto, from PyPI) for the S3 and DynamoDB adapter tests.
#   scripts/moto.sh install   make .venv-moto with moto[server] (once)
#   scripts/moto.sh start     start it on 127.0.0.1:$MOTO_PORT (default 5055) unless it runs
#   scripts/moto.sh stop      stop the one this script started
# No AWS account is involved: every request stays on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-moto
port="${MOTO_PORT:-5055}"
pid_file=".moto-$port.pid"
moto_version="5.2.5"

install() {
  if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto" 2>/dev/null; then
    return
  fi
  echo "moto: installing moto[server]==$moto_version into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
}

running() {
  python3 - "$port" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/data.json", timeout=1)
except Exception:
    sys.exit(1)
PY
}

case "${1:-}" in
  install)
    install
    ;;
  start)
    install
    if running; then
      exit 0
    fi
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > ".moto-$port.log" 2>&1 &
    echo $! > "$pid_file"
    # A first start imports a lot of Python; give it up to a minute.
    for _ in $(seq 1 600); do
      if running; then
        echo "moto: listening on http://127.0.0.1:$port" >&2
        exit 0
      fi
      sleep 0.1
    done
    echo "moto: did not start; see .moto-$port.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pid_file" ]; then
      kill "$(cat "$pid_file")" 2>/dev/null || true
      rm -f "$pid_file"
    fi
    ;;
  *)
    echo "usage: $0 install|start|stop" >&2
    exit 2
    ;;
esac
