#!/usr/bin/env python3
"""Check eval/questions.jsonl against the documents themselves, independently of askdocs.

Every gold phrase of an answerable question must occur (case-insensitively, after the
same normalisation run.py uses) in the gold document, and for a PDF on a gold page:

- PDF: `pdftotext` (poppler-utils), split into pages at form feeds;
- HTML: tags removed, both with and without a space in their place (so a phrase
  does not depend on how an extractor joins inline elements);
- text: ANSI SGR escapes and backspace overstrike removed (what `col -b` does).

    python3 eval/check_questions.py        # after bash eval/fetch-docs.sh

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
from run import EVAL, KINDS, ROOT, load_questions, normalize  # noqa: E402

DOCS = ROOT / ".eval-docs" / "docs"


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
            sys.exit("pdftotext is needed (apt-get install poppler-utils)")
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        return [[normalize(page) for page in out.split("\f")]]
    raw = path.read_text(encoding="utf-8", errors="replace")
    if name.endswith((".html", ".htm")):
        body = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", raw)
        return [[normalize(html.unescape(re.sub(r"<[^>]+>", sep, body)))] for sep in ("", " ")]
    return [[normalize(strip_terminal(raw))]]


def main() -> int:
    questions = load_questions(EVAL / "questions.jsonl")
    counts = Counter(q["kind"] for q in questions)
    print(f"{len(questions)} questions: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in KINDS))
    problems = [f"only {counts.get(k, 0)} {k} questions (want ≥ 10)" for k in KINDS if counts.get(k, 0) < 10]
    cache: dict[str, list[list[str]]] = {}
    for q in questions:
        doc = q.get("document") or q.get("near")
        path = DOCS / doc
        if not path.is_file():
            problems.append(f"{q['id']}: no document {doc} (run bash eval/fetch-docs.sh)")
            continue
        if q["kind"] == "unanswerable":
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
