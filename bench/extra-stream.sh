#!/usr/bin/env bash
# Streamed answers (issue 22): the query function's router on loopback over
# one ingested manual; each answerer - Claude through the real Bedrock adapter
# (ConverseStream) against a stand-in paced like Claude Haiku on Bedrock, an
# OpenAI-compatible server (stream: true) paced the same, and the extractive
# answerer - asked the same questions as events and as JSON. Reports the time
# to the first answer byte against the whole answer, and what streaming adds
# to the query path's overhead. Called by bench/run.sh with the results
# directory; prints {"title","note","rows"} (see bench/report.py).
set -euo pipefail
askdocs="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/release/askdocs}"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
manual=.bench-docs/set/txt/developers-reference.txt
"$askdocs" --data-dir "$data" ingest "$manual" >&2
# Questions: 20 sentences of the manual itself, so every ask finds passages
# and each answerer writes an answer.
python3 - "$manual" > "$data/questions.txt" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", " ".join(text.split()))]
chosen = [s for s in sentences if 40 <= len(s) <= 160 and s[0].isupper()]
step = max(1, len(chosen) // 20)
print("\n".join(chosen[::step][:20]))
PY
# Throwaway credentials: the Bedrock stand-in does not check signatures.
AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  "$askdocs" --data-dir "$data" bench-stream --questions-file "$data/questions.txt"
