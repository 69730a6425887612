#!/usr/bin/env bash
# Ingest of a folder of real documents (issue 10, item 7): `askdocs ingest`
# of one document per format from the benchmark set (PDF, HTML, TXT, DOCX)
# into an empty data directory: upload, extract, chunk, embed and index, as
# a user runs it. The rates come from askdocs' own summary line, which is
# what the user sees. Called by bench/run.sh with the results directory;
# prints {"title","rows":[...]} (see bench/report.py).
set -euo pipefail
askdocs="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/release/askdocs}"
folder=$(mktemp -d)
data=$(mktemp -d)
trap 'rm -rf "$folder" "$data"' EXIT
cp .bench-docs/set/pdf/fhs-3.0.pdf .bench-docs/set/html/fhs-3.0.html \
   .bench-docs/set/txt/developers-reference.txt .bench-docs/set/docx/developers-reference.docx "$folder"/
summary=$("$askdocs" --data-dir "$data" ingest "$folder")
echo "$summary" >&2
SUMMARY="$summary" python3 - <<'PY'
import json, os, re
line = os.environ["SUMMARY"]
found = re.search(r"Ingested (\d+) files? .*?: (\d+) pages, (\d+) chunks in ([\d.]+) s "
                  r"\(([\d.]+) documents/min, ([\d.]+) passages/s\)", line)
if not found:
    print(json.dumps({"title": "Ingest", "error": f"no summary line in: {line!r}"}))
    raise SystemExit(0)
files, pages, chunks, seconds, per_minute, per_second = found.groups()
note = (f"`askdocs ingest` of a folder of {files} real documents (one PDF, HTML, TXT and DOCX of the "
        f"benchmark set, {pages} pages) into an empty data directory: {chunks} passages in "
        f"{float(seconds):.1f} s, the local model embedding every passage. No peer runs this "
        f"pipeline end to end; the issue sets no number.")
print(json.dumps({"title": "Ingest", "note": note, "rows": [
    {"key": "ingest.documents_per_minute", "what": "`askdocs ingest` of a folder of real documents",
     "value": float(per_minute), "unit": "documents/min", "goal": "documents/min (no number set)",
     "met": None},
    {"key": "ingest.passages_per_second", "what": "ingest, passages indexed per second",
     "value": float(per_second), "unit": "passages/s"},
]}))
PY
