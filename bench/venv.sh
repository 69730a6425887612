#!/usr/bin/env bash
# Makes .venv-bench, the Python side of `make bench` (LangChain loaders and
# splitter, sentence-transformers on PyTorch CPU), from bench/requirements.txt.
# Does nothing when the venv already matches that file. About 6 GB on disk
# (PyPI's torch wheel brings the CUDA libraries; only the CPU is used) and
# ~5 minutes the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-bench
requirements=bench/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -c1-64)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "venv: python3 (with venv and pip) is needed" >&2; exit 1; }
echo "venv: installing $requirements into $venv (first time: ~5 min, ~6 GB) ..." >&2
started=$(date +%s)
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$stamp"
echo "venv: $venv ready in $(( $(date +%s) - started )) s, $(du -sh "$venv" | cut -f1)" >&2
