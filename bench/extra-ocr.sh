#!/usr/bin/env bash
# OCR throughput (issue 23): pages per second tesseract reads inside the
# sandboxed extract worker, as processing runs it (askdocs extract-pages),
# on scans made from a real manual of the bench set: 8 pages of the Debian
# developer's reference rendered by pdftoppm and wrapped as an image-only PDF
# (eval/scan.py), read at 300 dpi, and the same pages as 150 dpi phone-like
# PNGs. Called by bench/run.sh with the results directory; prints
# {"title","note","rows"} (see bench/report.py). Needs tesseract-ocr and
# poppler-utils (scripts/ocr-tools.sh).
set -euo pipefail
askdocs="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/release/askdocs}"
bash scripts/ocr-tools.sh >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
manual=.bench-docs/set/pdf/developers-reference.pdf
python3 - "$manual" "$work" <<'PY'
import sys
sys.path.insert(0, "eval")
import scan
manual, work = sys.argv[1], sys.argv[2]
pages = list(range(11, 19))
scan.make_scan(manual, f"{work}/scan.pdf", 300, pages)
for page in pages[:4]:
    open(f"{work}/page-{page}.png", "wb").write(scan.render_page(manual, page, 150, "png"))
PY
RUST_LOG=warn "$askdocs" extract-pages "$work/scan.pdf" > "$work/scan.json"
RUST_LOG=warn "$askdocs" extract-pages "$work"/page-*.png > "$work/photos.json"
python3 - "$work/scan.json" "$work/photos.json" <<'PY'
import json, os, sys
scan = [json.loads(line) for line in open(sys.argv[1])]
photos = [json.loads(line) for line in open(sys.argv[2])]
def rate(rows):
    pages = sum(r["ocrPages"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    return pages, seconds, pages / seconds
p1, s1, r1 = rate(scan)
p2, s2, r2 = rate(photos)
print(json.dumps({
    "title": "OCR (scanned pages and photos)",
    "note": f"tesseract (one single-threaded tesseract per core, pages shared out) inside the sandboxed extract worker, "
            f"as processing runs it, {os.cpu_count()} cores: {p1} pages of developers-reference.pdf as an "
            f"image-only PDF, rendered by pdftoppm at 300 dpi for OCR ({s1:.1f} s, rendering included), "
            f"and {p2} of them as 150 dpi PNG photos ({s2:.1f} s).",
    "rows": [
        {"key": "ocr.scanned_pdf_pages_per_s", "what": "OCR of a scanned PDF, 300 dpi (pages/s)", "value": r1, "unit": "pages/s"},
        {"key": "ocr.photo_pages_per_s", "what": "OCR of 150 dpi PNG photos (pages/s)", "value": r2, "unit": "pages/s"},
    ],
}))
PY
