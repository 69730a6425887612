#!/usr/bin/env python3
"""Check eval/questions.jsonl against eval/documents.tsv and the documents
themselves, independently of askdocs.

Every gold phrase of an answerable question must occur (case-insensitively, after
the same normalisation run.py uses) in the gold document, and for a PDF on a gold
page; a multi-part question's phrases (one per part) must each occur there:

- PDF: `pdftotext` (poppler-utils), split into pages at form feeds;
- HTML: tags removed, both with and without a space in their place (so a phrase
  does not depend on how an extractor joins inline elements);
- text, Markdown and CSV: ANSI SGR escapes and backspace overstrike removed
  (what `col -b` does).

It also checks the shape of the set: every question's document (or, for a near
miss, the document it is a near miss of) is in the manifest, every document has
questions, every question has a split, each kind has at least 10 questions, and
the set keeps at least 300 questions over at least 30 documents from more than
one registry.

    bash eval/fetch-docs.sh              # fetches the documents; as root it also
                                         # installs poppler-utils (pdftotext)
    python3 eval/check_questions.py

Run it after editing questions. Exit status 1 when something does not match.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in eval/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import EVAL, KINDS, ROOT, SPLITS, expects_not_found, load_manifest, load_questions, normalize  # noqa: E402

DOCS = ROOT / ".eval-docs" / "docs"
MIN_PER_KIND = 10
MIN_QUESTIONS = 300
MIN_DOCUMENTS = 30


def strip_terminal(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    while True:
        stripped = re.sub(r"[^\x08]\x08", "", text)
        if stripped == text:
            return text
        text = stripped


def variants(path: Path) -> list[list[str]]:
    """Each variant is a list of normalised pages."""
    name = path.name.lower()
    if name.endswith(".pdf"):
        if not shutil.which("pdftotext"):
            sys.exit(
                "pdftotext is needed to read the PDF documents: run `bash eval/fetch-docs.sh` as root "
                "(it installs poppler-utils with apt-get), or `apt-get install poppler-utils`"
            )
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        return [[normalize(page) for page in out.split("\f")]]
    raw = path.read_text(encoding="utf-8", errors="replace")
    if name.endswith((".html", ".htm")):
        body = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", raw)
        return [[normalize(html.unescape(re.sub(r"<[^>]+>", sep, body)))] for sep in ("", " ")]
    return [[normalize(strip_terminal(raw))]]


def main() -> int:
    manifest = load_manifest()
    names = [row["name"] for row in manifest]
    questions = load_questions(EVAL / "questions.jsonl", require_split=False)
    problems: list[str] = []

    kinds = Counter(q["kind"] for q in questions)
    splits = Counter(q.get("split") for q in questions)
    sources = Counter(row["source"] for row in manifest)
    print(f"{len(questions)} questions: " + ", ".join(f"{k} {kinds.get(k, 0)}" for k in KINDS))
    print("split: " + ", ".join(f"{s} {splits.get(s, 0)}" for s in SPLITS))
    print(f"{len(manifest)} documents: " + ", ".join(f"{s} {n}" for s, n in sorted(sources.items())))

    problems += [f"only {kinds.get(k, 0)} {k} questions (want ≥ {MIN_PER_KIND})" for k in KINDS if kinds.get(k, 0) < MIN_PER_KIND]
    if len(questions) < MIN_QUESTIONS:
        problems.append(f"only {len(questions)} questions (want ≥ {MIN_QUESTIONS})")
    if len(manifest) < MIN_DOCUMENTS:
        problems.append(f"only {len(manifest)} documents (want ≥ {MIN_DOCUMENTS})")
    if len(sources) < 2:
        problems.append("all documents come from one registry (want more than one)")
    if len(set(names)) != len(names):
        problems.append("duplicate document names in documents.tsv")
    missing_split = [q["id"] for q in questions if q.get("split") not in SPLITS]
    if missing_split:
        problems.append(f"{len(missing_split)} questions without a split (run python3 eval/split.py): {', '.join(missing_split[:5])} …")

    used = Counter(q.get("document") or q.get("near") for q in questions if q.get("document") or q.get("near"))
    for name in names:
        if not used.get(name):
            problems.append(f"{name}: no question is about it")

    cache: dict[str, list[list[str]]] = {}
    for q in questions:
        doc = q.get("document") or q.get("near")
        if q["kind"] == "unanswerable" and not doc:
            continue
        if doc not in names:
            problems.append(f"{q['id']}: {doc} is not in eval/documents.tsv")
            continue
        path = DOCS / doc
        if not path.is_file():
            problems.append(f"{q['id']}: no document {doc} (run bash eval/fetch-docs.sh)")
            continue
        if expects_not_found(q):
            continue
        if doc not in cache:
            cache[doc] = variants(path)
        is_pdf = doc.lower().endswith(".pdf")
        for phrase in q["phrases"]:
            wanted = normalize(phrase)
            for pages in cache[doc]:
                found = [n for n, text in enumerate(pages, 1) if wanted in text]
                ok = any(n in q["pages"] for n in found) if is_pdf else bool(found)
                if not ok:
                    where = f" (found on pages {found})" if found else ""
                    problems.append(f"{q['id']}: {phrase!r} not on {doc} page(s) {q['pages']}{where}")
                    break
    for problem in problems:
        print("PROBLEM", problem)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
