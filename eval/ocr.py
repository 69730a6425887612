#!/usr/bin/env python3
"""OCR eval (make eval-ocr): are scans read as well as the documents they were made from?

Scans are made from the eval's own PDFs (eval/documents.tsv, real documents
from Debian's archive), with eval/scan.py: every page a question is about
(its gold pages, eval/questions.jsonl) is rendered by pdftoppm and put back as
a picture, so the PDF keeps its other pages' text and its page numbers — a
mixed PDF, as a partly scanned document is. The first gold page of each is
also made a single-page PNG (300 dpi) and JPEG (200 dpi), as a scanner or a
phone gives them. Nothing here is tuned on: the scans are made the same way
for every page, and tesseract runs with askdocs' defaults.

Two figures:
1. Words kept: of the words on a gold page's text layer (what askdocs reads
   from the original), the share OCR gives back from its picture, counted as
   a multiset of lower-cased words without punctuation. Goal >= 0.97. Also the
   OCR throughput, pages per second on this machine.
2. Questions: the eval's questions about those PDFs (dev and test parts),
   asked once over all the eval documents with the originals and once with the
   scanned versions (eval/run.py, the same code and settings): hit@5 of the
   scan within 0.05 of the original's.

    python3 eval/ocr.py [--binary target/debug/askdocs] [--dpi 300] [--words-only] [--record]
"""
import argparse
import collections
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parent
ROOT = EVAL.parent
sys.path.insert(0, str(EVAL))
import scan  # noqa: E402

WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text):
    return collections.Counter(w.lower() for w in WORD.findall(text))


def kept(original, ocr):
    """(words of `original` found in `ocr`, words of `original`), as multisets."""
    want, got = words(original), words(ocr)
    return sum(min(n, got[w]) for w, n in want.items()), sum(want.values())


def extract_pages(binary, files):
    out = subprocess.run([str(binary), "extract-pages", *map(str, files)], check=True,
                         capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"}).stdout
    return {Path(row["file"]).name: row for row in map(json.loads, out.splitlines())}


def newest_results(stdout):
    for line in stdout.splitlines():
        if line.startswith("results: "):
            return ROOT / line.split(": ", 1)[1].strip()
    raise SystemExit("eval/run.py printed no results file:\n" + stdout[-2000:])


def hit5(results_path):
    data = json.loads(results_path.read_text(encoding="utf-8"))
    by_split = collections.defaultdict(lambda: [0, 0])
    for rec in data["records"]:
        if rec.get("rank", "absent") == "absent":
            continue  # not an answerable question
        for part in (rec.get("split") or "all", "all"):
            by_split[part][1] += 1
            by_split[part][0] += rec["rank"] is not None and rec["rank"] <= 5
    return {part: (k / n if n else None, k, n) for part, (k, n) in by_split.items()}


VENV = ROOT / ".venv-eval"
REQUIREMENTS = EVAL / "requirements-ocr.txt"


def in_venv():
    """Runs this script again in .venv-eval (pypdf, pinned by hash), made on first use."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements"
    if not (python.exists() and stamp.exists() and stamp.read_text() == REQUIREMENTS.read_text()):
        print("making .venv-eval (pypdf from PyPI) …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--require-hashes", "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(REQUIREMENTS.read_text())
    os.execv(str(python), [str(python), *sys.argv])


def main():
    in_venv()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug" / "askdocs"))
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--words-only", action="store_true", help="skip the questions (a few minutes less)")
    parser.add_argument("--record", action="store_true", help="append the result to docs/ocr.md")
    args = parser.parse_args()
    binary = Path(args.binary).resolve()

    subprocess.run(["bash", str(EVAL / "fetch-docs.sh")], check=True)
    docs = ROOT / ".eval-docs" / "docs"
    questions = [json.loads(line) for line in (EVAL / "questions.jsonl").read_text().splitlines() if line.strip()]
    about_pdfs = [q for q in questions if q.get("document", "").endswith(".pdf") and q.get("pages")]
    gold = collections.defaultdict(set)
    for q in about_pdfs:
        gold[q["document"]].update(q["pages"])

    work = ROOT / ".eval-docs" / "ocr" / f"{args.dpi}dpi"
    scans = work / "scans"
    scans.mkdir(parents=True, exist_ok=True)
    print(f"making scans of {sum(len(p) for p in gold.values())} pages of {len(gold)} PDFs at {args.dpi} dpi …", flush=True)
    images = []
    for name, pages in sorted(gold.items()):
        source = docs / name
        stamp = hashlib.sha256(source.read_bytes() + repr((sorted(pages), args.dpi)).encode()).hexdigest()[:16]
        target, marker = scans / name, scans / f".{name}.{stamp}"
        if not marker.exists():
            scan.make_mixed(source, target, args.dpi, pages)
            marker.write_text("")
        first = min(pages)
        for fmt, dpi, ext in (("png", 300, "png"), ("jpeg", 200, "jpg")):
            image = scans / f"{Path(name).stem}-p{first}.{ext}"
            if not image.exists():
                image.write_bytes(scan.render_page(source, first, dpi, fmt))
            images.append((image, name, first))

    print("reading the originals' text layers and the scans (OCR) …", flush=True)
    originals = extract_pages(binary, [docs / name for name in sorted(gold)])
    started = time.monotonic()
    scanned = extract_pages(binary, [scans / name for name in sorted(gold)])
    pictures = extract_pages(binary, [image for image, _, _ in images])
    ocr_seconds = time.monotonic() - started
    ocr_pages = sum(row["ocrPages"] for row in scanned.values()) + sum(row["ocrPages"] for row in pictures.values())

    rows, total_kept, total_words = [], 0, 0
    for name, pages in sorted(gold.items()):
        k = n = 0
        for page in sorted(pages):
            a, b = kept(originals[name]["texts"].get(str(page), ""), scanned[name]["texts"].get(str(page), ""))
            k, n = k + a, n + b
        rows.append((f"{name} (pages {', '.join(map(str, sorted(pages)))}, mixed PDF)", k, n))
        total_kept, total_words = total_kept + k, total_words + n
    for image, name, page in images:
        a, b = kept(originals[name]["texts"].get(str(page), ""), pictures[image.name]["texts"].get("1", ""))
        rows.append((f"{image.name} ({name} page {page})", a, b))
        total_kept, total_words = total_kept + a, total_words + b

    lines = ["| scan | words kept | of |", "|---|---|---|"]
    lines += [f"| {label} | {k / n:.4f} | {n} |" if n else f"| {label} | – | 0 |" for label, k, n in rows]
    lines.append(f"| **all** | **{total_kept / total_words:.4f}** | {total_words} |")
    throughput = ocr_pages / ocr_seconds
    summary = [
        "\n".join(lines),
        f"\nOCR read {ocr_pages} pages in {ocr_seconds:.1f} s: **{throughput:.2f} pages/s** "
        f"(tesseract {args.dpi} dpi for PDF pages, in the sandboxed worker, one tesseract per core, {os.cpu_count()} cores).",
    ]

    if not args.words_only:
        subset = work / "questions-about-pdfs.jsonl"
        subset.write_text("".join(json.dumps(q) + "\n" for q in about_pdfs))
        scan_docs = work / "docs-with-scans"
        scan_docs.mkdir(exist_ok=True)
        for path in docs.iterdir():
            link = scan_docs / path.name
            wanted = (scans / path.name) if path.name in gold else path
            if link.is_symlink() or link.exists():
                link.unlink()
            # A hard link: askdocs ingest reads files, not symbolic links.
            try:
                os.link(wanted.resolve(), link)
            except OSError:
                shutil.copyfile(wanted.resolve(), link)
        figures = {}
        for label, folder in (("original", docs), ("scanned", scan_docs)):
            print(f"asking {len(about_pdfs)} questions over the eval documents, {label} PDFs …", flush=True)
            run = subprocess.run([sys.executable, str(EVAL / "run.py"), "--binary", str(binary), "--docs", str(folder),
                                  "--questions", str(subset), "--split", "all"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                raise SystemExit(f"eval/run.py failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
            figures[label] = hit5(newest_results(run.stdout))
        table = ["| part | hit@5 original | hit@5 scanned | difference |", "|---|---|---|---|"]
        for part in ("dev", "test", "all"):
            o, s = figures["original"].get(part), figures["scanned"].get(part)
            if not o or not s or o[0] is None:
                continue
            table.append(f"| {part} ({o[2]} questions) | {o[0]:.3f} | {s[0]:.3f} | {s[0] - o[0]:+.3f} |")
        summary.append("\n" + "\n".join(table))

    report = "\n".join(summary)
    print(report)
    if args.record:
        out = ROOT / "docs" / "ocr.md"
        head = out.read_text() if out.exists() else "# OCR: scans against the documents they were made from\n\nWritten by `make eval-ocr` (eval/ocr.py; how the scans are made and what is counted is in its docstring).\n"
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        out.write_text(head + f"\n## {stamp} · {args.dpi} dpi\n\n{report}\n")
        print(f"recorded in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
