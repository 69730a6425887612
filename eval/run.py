#!/usr/bin/env python3
"""askdocs answer-quality evaluation (issues 11 and 26).

Ingests the documents of eval/documents.tsv into a fresh data directory, asks
every question of eval/questions.jsonl, and reports retrieval (hit@1, hit@5,
MRR), answers (first citation on the answering passage, gold phrase in the
answer) and answerability ("not found" for near misses and unanswerable
questions, false "not found" for real questions), per kind and overall, for
the dev and the test part of the questions side by side, each figure with its
95% confidence interval (Wilson for shares, a seeded bootstrap for MRR).

    python3 eval/run.py                      # newest binary, best available mode
    python3 eval/run.py --mode http          # over the HTTP API of `askdocs serve`
    python3 eval/run.py --mode cli           # `askdocs ask --json` / `search --json`
    python3 eval/run.py --split dev          # only the dev part (tune on this one)
    python3 eval/run.py --record "label"     # also add the result (both parts) to docs/quality.md
    python3 eval/run.py --verbose            # list every failure (of the parts asked)
    python3 eval/run.py --data-dir .eval-data --keep   # keep (and later reuse) the ingested data

Standard library only. The binary is copied to a temporary directory first, so
a build running at the same time cannot change it under the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
NOT_FOUND_PREFIX = "i couldn't find the answer in your documents"
# Question kinds, in report order. The first four are the issue-26 kinds, the
# next four the issue-11 kinds kept from the first question set; the last two
# must be answered "not found".
KINDS = [
    "paraphrased",
    "plain",
    "multi-part",
    "table",
    "specific",
    "table_or_example",
    "similar_docs",
    "deep",
    "near-miss",
    "unanswerable",
]
NOT_FOUND_KINDS = ("near-miss", "unanswerable")
SPLITS = ("dev", "test")
SEARCH_TOP_K = 10


# ---------------------------------------------------------------- text matching


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_QUOTES = {
    ord("\u2018"): "'",
    ord("\u2019"): "'",
    ord("\u201c"): '"',
    ord("\u201d"): '"',
    ord("\u00ad"): None,  # soft hyphen
}


def normalize(text: str) -> str:
    """Case-folded, NFKC (ligatures such as "ﬁ" become "fi"), straight quotes,
    plain hyphens, no asterisks or backticks (HTML emphasis and code become
    Markdown `*…*` and `` `…` `` in extracted text, and Markdown sources carry
    them), whitespace collapsed: how gold phrases are matched.

    >>> normalize("The default `depth` is now **32**\u2014see  \u201cQ\u201d")
    'the default depth is now 32-see "q"'
    """
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_DASHES).translate(_QUOTES).replace("*", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip().casefold()


def contains_phrase(text: str, phrases: list[str]) -> bool:
    """Any one of the phrases occurs in the text (after normalize())."""
    haystack = normalize(text)
    return any(normalize(phrase) in haystack for phrase in phrases)


def contains_all(text: str, phrases: list[str]) -> bool:
    """Every phrase occurs in the text (after normalize())."""
    haystack = normalize(text)
    return all(normalize(phrase) in haystack for phrase in phrases)


def answers_with(text: str, item: dict) -> bool:
    """The text holds the gold answer: any gold phrase, or for a multi-part
    question every one of them (one phrase per part).

    >>> answers_with("It is 999, later 32766.", {"kind": "multi-part", "phrases": ["999", "32766"]})
    True
    >>> answers_with("It is 999.", {"kind": "multi-part", "phrases": ["999", "32766"]})
    False
    >>> answers_with("It is 999.", {"kind": "plain", "phrases": ["999", "32766"]})
    True
    """
    if item.get("kind") == "multi-part":
        return contains_all(text, item["phrases"])
    return contains_phrase(text, item["phrases"])


def is_not_found(answer: str, citations: list) -> bool:
    return normalize(answer).startswith(NOT_FOUND_PREFIX) or not citations


# ---------------------------------------------------------------- inputs


def expects_not_found(item: dict) -> bool:
    return item.get("kind") in NOT_FOUND_KINDS


def load_questions(path: Path, require_split: bool = True) -> list[dict]:
    """The question file, checked: unique ids, known kinds, a split, and the
    fields each kind needs."""
    questions = []
    ids = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        item = json.loads(line)
        problems = []
        if item.get("id") in ids:
            problems.append("duplicate id")
        ids.add(item.get("id"))
        if item.get("kind") not in KINDS:
            problems.append(f"unknown kind {item.get('kind')!r}")
        if not item.get("question"):
            problems.append("no question")
        if require_split and item.get("split") not in SPLITS:
            problems.append(f"no split (want one of {', '.join(SPLITS)}; python3 eval/split.py assigns them)")
        if expects_not_found(item):
            if item.get("expected") != "not found":
                problems.append(f'a {item.get("kind")} item needs "expected": "not found"')
            if item.get("kind") == "near-miss" and not item.get("near"):
                problems.append('a near-miss item needs "near": the document whose topic it is on')
            if item.get("document") or item.get("phrases"):
                problems.append("an item answered \"not found\" has no gold document or phrases")
        else:
            if not item.get("document"):
                problems.append("no gold document")
            if not item.get("phrases"):
                problems.append("no gold phrases")
            if not isinstance(item.get("pages"), list) or not item["pages"]:
                problems.append("no gold pages")
            if item.get("kind") == "multi-part" and len(item.get("phrases") or []) < 2:
                problems.append("a multi-part item needs one phrase per part (two or more)")
        if problems:
            sys.exit(f"{path}:{number}: {'; '.join(problems)}")
        questions.append(item)
    return questions


MANIFEST_COLUMNS = ("name", "source", "package", "version", "path", "sha256")
SOURCES = ("debian", "pypi", "npm")


def load_manifest(path: Path | None = None) -> list[dict]:
    """eval/documents.tsv: one dict per document with the keys of
    MANIFEST_COLUMNS (see the file's header for what each means)."""
    path = path or EVAL / "documents.tsv"
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != len(MANIFEST_COLUMNS):
            sys.exit(f"{path}:{number}: want {len(MANIFEST_COLUMNS)} tab-separated columns "
                     f"({', '.join(MANIFEST_COLUMNS)}), found {len(cells)}")
        row = dict(zip(MANIFEST_COLUMNS, cells))
        if row["source"] not in SOURCES:
            sys.exit(f"{path}:{number}: unknown source {row['source']!r} (want one of {', '.join(SOURCES)})")
        rows.append(row)
    return rows


def load_documents(docs_dir: Path) -> list[Path]:
    names = [row["name"] for row in load_manifest()]
    missing = [name for name in names if not (docs_dir / name).is_file()]
    if missing:
        print(f"fetching the documents ({len(missing)} missing) …", flush=True)
        subprocess.run(["bash", str(EVAL / "fetch-docs.sh")], check=True)
    return [docs_dir / name for name in names]


def find_binary(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
        if not target.is_absolute():
            target = ROOT / target
        candidates = [target / "release" / "askdocs", target / "debug" / "askdocs"]
        existing = [c for c in candidates if c.is_file()]
        if not existing:
            sys.exit("no askdocs binary: build one (make build) or pass --binary")
        # release first, unless a debug build is newer (a stale release binary
        # would silently measure old code)
        path = existing[0]
        if len(existing) == 2 and existing[1].stat().st_mtime > existing[0].stat().st_mtime:
            path = existing[1]
    if not path.is_file():
        sys.exit(f"no askdocs binary at {path}")
    return path


# ---------------------------------------------------------------- running askdocs


class Askdocs:
    """The copied binary, a data directory, and the environment it runs in."""

    def __init__(self, binary: Path, data_dir: Path, work: Path):
        self.binary = work / "askdocs"
        shutil.copy2(binary, self.binary)
        self.data_dir = data_dir
        self.env = dict(os.environ)
        model = self.env.get("ASKDOCS_MODEL_DIR") or str(ROOT / ".models" / "all-MiniLM-L6-v2")
        if not Path(model).is_absolute():
            model = str(ROOT / model)
        self.env["ASKDOCS_MODEL_DIR"] = model
        self.env.setdefault("RUST_LOG", "warn")
        self.env["NO_COLOR"] = "1"

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binary), "--data-dir", str(self.data_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def has_batch(self) -> bool:
        """Whether the binary answers many questions in one process (`ask-batch`)."""
        try:
            return self.run("ask-batch", "--help", timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def batch(self, questions: list, top_k: int | None):
        """One `ask-batch` process for every question (the model loaded once):
        yields each question's ({"ask", "search"} or {"error"}) as it comes."""
        process = subprocess.Popen(
            [str(self.binary), "--data-dir", str(self.data_dir), "ask-batch",
             "--search-top-k", str(SEARCH_TOP_K)],
            env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        feeder = threading.Thread(target=self._feed, args=(process, questions, top_k), daemon=True)
        feeder.start()
        try:
            for _ in questions:
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"ask-batch stopped (exit {process.poll()})")
                yield json.loads(line)
        finally:
            process.stdout.close()
            process.wait(timeout=60)

    @staticmethod
    def _feed(process, questions, top_k):
        for item in questions:
            request = {"question": item["question"]}
            if top_k:
                request["topK"] = top_k
            process.stdin.write(json.dumps(request) + "\n")
        process.stdin.close()

    def has_json_commands(self) -> bool:
        try:
            search = self.run("search", "--help", timeout=60)
            ask = self.run("ask", "--help", timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return search.returncode == 0 and "--json" in ask.stdout


def parse_json_output(text: str):
    """The JSON document a command printed (ignoring any lines around it)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for opener in ("{", "["):
        start = text.find(opener)
        if start >= 0:
            try:
                return json.JSONDecoder().raw_decode(text[start:])[0]
            except json.JSONDecodeError:
                continue
    raise ValueError(f"no JSON in output: {text[:300]!r}")


def passage_list(payload) -> list[dict]:
    """Ranked passages from `search --json`, whatever the exact envelope."""
    if isinstance(payload, dict):
        for key in ("passages", "results", "items", "hits", "chunks", "citations"):
            if isinstance(payload.get(key), list):
                payload = payload[key]
                break
    if not isinstance(payload, list):
        raise ValueError(f"unexpected search output: {str(payload)[:300]}")
    return payload


def field(item: dict, *names, default=None):
    for name in names:
        if name in item and item[name] is not None:
            return item[name]
    return default


class HttpClient:
    """`askdocs serve` on a free port, one account, the documents uploaded."""

    EMAIL = "eval@askdocs.example"
    PASSWORD = "Eval1uation-pass"

    def __init__(self, askdocs: Askdocs, log_path: Path):
        self.askdocs = askdocs
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [str(askdocs.binary), "--data-dir", str(askdocs.data_dir), "serve", "--port", "0"],
            env=askdocs.env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.url = None
        first = threading.Event()

        def pump():
            for line in self.process.stdout:
                self.log.write(line)
                self.log.flush()
                match = re.search(r"listening on (http://\S+)", line)
                if match and not self.url:
                    self.url = match.group(1).rstrip("/")
                    first.set()
            first.set()

        threading.Thread(target=pump, daemon=True).start()
        if not first.wait(120) or not self.url:
            self.stop()
            sys.exit(f"askdocs serve did not start; see {log_path}")
        self.token = None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def request(self, method, path, body=None, raw=None, timeout=600):
        headers = {}
        data = None
        if raw is not None:
            data = raw
            headers["Content-Type"] = "application/octet-stream"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                return error.code, json.loads(text)
            except json.JSONDecodeError:
                return error.code, {"raw": text}

    def login(self):
        status, body = self.request(
            "POST", "/auth/register", {"email": self.EMAIL, "password": self.PASSWORD, "name": "eval"}
        )
        if status not in (201, 409):
            sys.exit(f"register failed: {status} {body}")
        status, body = self.request(
            "POST", "/auth/login", {"email": self.EMAIL, "password": self.PASSWORD}
        )
        if status != 200:
            sys.exit(f"login failed: {status} {body}")
        self.token = body["token"]

    def documents(self) -> list[dict]:
        found, cursor = [], None
        while True:
            path = "/documents?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            status, body = self.request("GET", path)
            if status != 200:
                sys.exit(f"listing documents failed: {status} {body}")
            found.extend(body.get("documents", []))
            cursor = body.get("nextCursor")
            if not cursor:
                return found

    def upload_all(self, files: list[Path], wait_seconds: float) -> list[dict]:
        have = {d.get("fileName") for d in self.documents()}
        for path in files:
            if path.name in have:
                continue
            query = urllib.parse.urlencode({"fileName": path.name})
            status, body = self.request("POST", f"/documents/upload?{query}", raw=path.read_bytes())
            if status != 201:
                print(f"  upload of {path.name} refused: {status} {body}", flush=True)
        deadline = time.time() + wait_seconds
        last = None
        while True:
            docs = self.documents()
            busy = [d for d in docs if d.get("status") in ("pending", "processing")]
            summary = f"{len(docs) - len(busy)}/{len(docs)} processed"
            if summary != last:
                print(f"  {summary}", flush=True)
                last = summary
            if not busy:
                return docs
            if time.time() > deadline:
                print(f"  gave up waiting for {', '.join(d['fileName'] for d in busy)}", flush=True)
                return docs
            time.sleep(2)

    def ask(self, question: str, top_k: int | None) -> dict:
        body = {"question": question}
        if top_k:
            body["topK"] = top_k
        status, response = self.request("POST", "/query/ask", body)
        if status != 200:
            raise RuntimeError(f"ask failed: {status} {response}")
        return response


# ---------------------------------------------------------------- scoring


def rank_of(passages: list[dict], item: dict, pdf_names: set[str]) -> int | None:
    """1-based rank of the first passage from the gold document (and, for a PDF,
    a gold page), or None.

    >>> item = {"document": "a.pdf", "pages": [3]}
    >>> rank_of([{"file": "a.pdf", "page": 2}, {"file": "a.pdf", "page": 3}], item, {"a.pdf"})
    2
    >>> rank_of([{"file": "b.txt", "page": 1}], item, {"a.pdf"}) is None
    True
    """
    gold = item["document"]
    pages = set(item["pages"])
    for index, passage in enumerate(passages, 1):
        if passage["file"] != gold:
            continue
        if gold in pdf_names and passage["page"] not in pages:
            continue
        return index
    return None


def doc_rank_of(passages: list[dict], item: dict) -> int | None:
    for index, passage in enumerate(passages, 1):
        if passage["file"] == item["document"]:
            return index
    return None


def simplify(passages: list[dict], names_by_id: dict[str, str]) -> list[dict]:
    out = []
    for passage in passages:
        document_id = field(passage, "documentId", "document_id", default="")
        name = field(passage, "fileName", "file_name", default=None) or names_by_id.get(document_id, document_id)
        out.append(
            {
                "file": name,
                "page": field(passage, "page", default=None),
                "score": field(passage, "score", default=None),
                "text": field(passage, "text", "snippet", default=""),
            }
        )
    return out


# ---- confidence intervals (standard library only)

Z95 = 1.959963984540054
BOOTSTRAP_SEED = 26
BOOTSTRAP_ROUNDS = 2000


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (95% by default); None when n is 0.

    >>> [round(x, 3) for x in wilson(8, 10)]
    [0.49, 0.943]
    >>> [round(x, 3) for x in wilson(0, 10)]
    [0.0, 0.278]
    >>> [round(x, 3) for x in wilson(10, 10)]
    [0.722, 1.0]
    >>> wilson(0, 0) is None
    True
    """
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_mean(values: list[float], rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED,
                   level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a mean, reproducible (fixed seed).

    >>> bootstrap_mean([1.0, 1.0, 1.0])
    (1.0, 1.0)
    >>> lo, hi = bootstrap_mean([0.0, 1.0] * 20)
    >>> 0.3 < lo < 0.5 < hi < 0.7
    True
    >>> bootstrap_mean([]) is None
    True
    """
    if not values:
        return None
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(rounds))
    tail = (1 - level) / 2
    low = means[int(math.floor(tail * (rounds - 1)))]
    high = means[int(math.ceil((1 - tail) * (rounds - 1)))]
    return low, high


# ---- one figure: value, interval, counts

def share(flags: list[bool]) -> dict | None:
    """A proportion with its Wilson interval: {"value", "low", "high", "k", "n"}."""
    if not flags:
        return None
    k, n = sum(bool(f) for f in flags), len(flags)
    low, high = wilson(k, n)
    return {"value": k / n, "low": low, "high": high, "k": k, "n": n}


def mean_figure(values: list[float]) -> dict | None:
    if not values:
        return None
    low, high = bootstrap_mean(values)
    return {"value": sum(values) / len(values), "low": low, "high": high, "n": len(values)}


# Metrics of answerable questions, in table order: key, column title, how it is
# computed from one scored record (see score()).
ANSWERABLE_METRICS = [
    ("hit@1", "hit@1", lambda r: r["rank"] is not None and r["rank"] <= 1),
    ("hit@5", "hit@5", lambda r: r["rank"] is not None and r["rank"] <= 5),
    ("mrr", "MRR", lambda r: 1.0 / r["rank"] if r["rank"] else 0.0),
    ("doc_hit@5", "doc hit@5", lambda r: r["doc_rank"] is not None and r["doc_rank"] <= 5),
    ("first_cited", "1st citation right", lambda r: bool(r.get("first_cited"))),
    ("cited", "cited", lambda r: bool(r["cited"])),
    ("phrase", "phrase in answer", lambda r: bool(r["phrase"])),
    ("not_found", "\"not found\"", lambda r: bool(r["not_found"])),
    ("not_found_hit5", "\"not found\" with hit@5", lambda r: bool(r["not_found"]) and r["rank"] is not None and r["rank"] <= 5),
]


def summarize(records: list[dict]) -> dict:
    """Per kind (in KINDS order), the pooled "all answerable" row before the
    not-found kinds, each metric as a figure with its 95% interval.

    >>> recs = [{"kind": "plain", "rank": 1, "doc_rank": 1, "first_cited": True, "cited": True,
    ...          "phrase": True, "not_found": False},
    ...         {"kind": "plain", "rank": None, "doc_rank": 3, "first_cited": False, "cited": False,
    ...          "phrase": False, "not_found": True},
    ...         {"kind": "near-miss", "not_found": True}]
    >>> s = summarize(recs)
    >>> list(s)
    ['plain', 'all answerable', 'near-miss']
    >>> s["plain"]["hit@1"]["value"], s["plain"]["mrr"]["value"], s["plain"]["not_found_hit5"]["k"]
    (0.5, 0.5, 0)
    >>> s["near-miss"]["not_found"]["value"]
    1.0
    """
    groups: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for record in records:
        groups[record["kind"]].append(record)
    ordered: dict[str, list[dict]] = {}
    for kind in KINDS:
        if kind in NOT_FOUND_KINDS:
            continue
        ordered[kind] = groups[kind]
    ordered["all answerable"] = [r for r in records if r["kind"] not in NOT_FOUND_KINDS]
    for kind in NOT_FOUND_KINDS:
        ordered[kind] = groups[kind]
    summary = {}
    for name, rows in ordered.items():
        if not rows:
            continue
        entry: dict = {"n": len(rows)}
        if name in NOT_FOUND_KINDS:
            entry["not_found"] = share([r["not_found"] for r in rows])
        else:
            for key, _, get in ANSWERABLE_METRICS:
                values = [get(r) for r in rows]
                entry[key] = mean_figure(values) if key == "mrr" else share(values)
            entry["gold_indexed"] = share([r["gold_indexed"] for r in rows if r.get("gold_indexed") is not None])
        summary[name] = entry
    return summary


def split_records(records: list[dict], splits: list[str]) -> dict[str, list[dict]]:
    """Records per reported part: "dev", "test", or "all" (everything)."""
    return {part: [r for r in records if part == "all" or r.get("split") == part] for part in splits}


def summarize_parts(records: list[dict], splits: list[str]) -> dict[str, dict]:
    return {part: summarize(rows) for part, rows in split_records(records, splits).items()}


def fmt(value, digits=2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def fmt_figure(figure: dict | None) -> str:
    """0.75 (0.62–0.85): value and its 95% interval.

    >>> fmt_figure({"value": 0.5, "low": 0.2368, "high": 0.7632})
    '0.50 (0.24–0.76)'
    >>> fmt_figure(None)
    '–'
    """
    if not figure:
        return "–"
    return f"{figure['value']:.2f} ({figure['low']:.2f}–{figure['high']:.2f})"


def markdown_table(parts: dict[str, dict]) -> str:
    """One table for all reported parts: for every kind one row per part (dev
    and test side by side), every metric with its 95% interval. In the
    not-found rows (near-miss, unanswerable) "not found" is the share answered
    "not found" (higher is better); in the others it is the false "not found"
    rate (lower is better).

    >>> recs = [{"kind": "plain", "split": s, "rank": 1, "doc_rank": 1, "first_cited": True,
    ...          "cited": True, "phrase": True, "not_found": False} for s in ("dev", "test")]
    >>> print(markdown_table(summarize_parts(recs, ["dev", "test"])).splitlines()[2])
    | plain | dev | 1 | 1.00 (0.21–1.00) | 1.00 (0.21–1.00) | 1.00 (1.00–1.00) | 1.00 (0.21–1.00) | 1.00 (0.21–1.00) | 1.00 (0.21–1.00) | 1.00 (0.21–1.00) | 0.00 (0.00–0.79) | 0.00 (0.00–0.79) |
    """
    titles = [title for _, title, _ in ANSWERABLE_METRICS]
    lines = [
        "| kind | part | n | " + " | ".join(titles) + " |",
        "|---|---|---:|" + "---:|" * len(titles),
    ]
    names: list[str] = []
    for summary in parts.values():
        for name in summary:
            if name not in names:
                names.append(name)
    order = [k for k in KINDS if k not in NOT_FOUND_KINDS] + ["all answerable"] + list(NOT_FOUND_KINDS)
    names.sort(key=order.index)
    for name in names:
        for part, summary in parts.items():
            entry = summary.get(name)
            if entry is None:
                continue
            if name in NOT_FOUND_KINDS:
                cells = [""] * (len(titles) - 2) + [f"**{fmt_figure(entry['not_found'])}**", ""]
                label = f"{name} (answer \"not found\")"
            else:
                cells = [fmt_figure(entry.get(key)) for key, _, _ in ANSWERABLE_METRICS]
                label = f"**{name}**" if name == "all answerable" else name
            lines.append(f"| {label} | {part} | {entry['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline(summary: dict, kind: str, key: str) -> str:
    entry = summary.get(kind) or {}
    figure = entry.get(key)
    return fmt(figure["value"]) if figure else "–"


SUMMARY_COLUMNS = [
    ("paraphrased hit@1 / hit@5", [("paraphrased", "hit@1"), ("paraphrased", "hit@5")]),
    ("plain hit@1 / hit@5", [("plain", "hit@1"), ("plain", "hit@5")]),
    ("all hit@1 / hit@5", [("all answerable", "hit@1"), ("all answerable", "hit@5")]),
    ("1st citation right", [("all answerable", "first_cited")]),
    ("phrase in answer", [("all answerable", "phrase")]),
    ("near misses \"not found\"", [("near-miss", "not_found")]),
    ("unanswerable \"not found\"", [("unanswerable", "not_found")]),
    ("false \"not found\"", [("all answerable", "not_found")]),
]


def summary_row(label: str, meta: dict, parts: dict[str, dict]) -> str:
    """One row of the results table: dev · test for each headline figure (their
    intervals are in the run's own table below)."""
    cells = []
    for _, keys in SUMMARY_COLUMNS:
        per_part = [" / ".join(headline(parts[p], kind, key) for kind, key in keys) for p in parts]
        cells.append(" · ".join(per_part))
    return (
        f"| {label} | {meta['date'][:10]} | {meta['commit']} | {meta['mode']} | "
        + " | ".join(cells)
        + f" | {meta['ingest_seconds']:.0f} s / {meta['total_seconds']:.0f} s |"
    )


SUMMARY_MARKER = "<!-- eval:summary-rows (run.py --record adds rows above this line) -->"
DETAIL_MARKER = "<!-- eval:details (run.py --record appends below) -->"


def record(quality: Path, label: str, meta: dict, parts: dict[str, dict], table: str):
    text = quality.read_text(encoding="utf-8")
    if SUMMARY_MARKER not in text or DETAIL_MARKER not in text:
        sys.exit(f"{quality} lacks the eval markers; cannot record")
    row = summary_row(label, meta, parts)
    text = text.replace(SUMMARY_MARKER, row + "\n" + SUMMARY_MARKER, 1)
    counts = " · ".join(
        f"{part} {sum(e['n'] for k, e in summary.items() if k != 'all answerable')} questions"
        for part, summary in parts.items()
    )
    detail = (
        f"\n### {label}\n\n"
        f"{meta['date']} · commit {meta['commit']} · {meta['mode']} mode · {meta['binary']} · "
        f"{meta['documents_ready']}/{meta['documents']} documents ready, {meta['chunks']} passages · "
        f"{counts} · ingest {meta['ingest_seconds']:.0f} s, questions {meta['questions_seconds']:.0f} s, "
        f"total {meta['total_seconds']:.0f} s\n\n{table}\n"
    )
    if meta.get("failed_documents"):
        detail += "\nDocuments not ready: " + "; ".join(
            f"`{name}` ({reason})" for name, reason in meta["failed_documents"].items()
        ) + "\n"
    text = text.rstrip("\n") + "\n" + detail
    quality.write_text(text, encoding="utf-8")
    print(f"recorded in {quality}")


# ---------------------------------------------------------------- the index itself


def indexed_chunks(data_dir: Path) -> tuple[dict, dict]:
    """Best effort, read-only: documents (name → status) and passages (name → [(page, text)])
    straight from the embedded store, to tell extraction misses from retrieval misses."""
    db = data_dir / "askdocs.db"
    if not db.is_file():
        return {}, {}
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        documents = {}
        names = {}
        for document_id, name, status, reason, pages, chunks in connection.execute(
            "SELECT document_id, file_name, status, status_reason, pages, chunks FROM documents"
        ):
            documents[name] = {"status": status, "reason": reason, "pages": pages, "chunks": chunks}
            names[document_id] = name
        passages: dict[str, list] = {}
        for document_id, page, text in connection.execute(
            "SELECT document_id, page, text FROM chunks ORDER BY document_id, ordinal"
        ):
            passages.setdefault(names.get(document_id, document_id), []).append((page, text))
        connection.close()
        return documents, passages
    except sqlite3.Error as error:
        print(f"(could not read the index for the gold check: {error})")
        return {}, {}


def gold_indexed(item: dict, passages: dict, pdf_names: set[str]) -> bool | None:
    """Did extraction keep the answer: a gold phrase (for a multi-part question,
    every part's phrase) in some passage indexed from the gold document/page."""
    if not passages:
        return None
    rows = [
        text
        for page, text in passages.get(item["document"], [])
        if item["document"] not in pdf_names or page in set(item["pages"])
    ]
    if item["kind"] == "multi-part":
        return all(any(contains_phrase(text, [phrase]) for text in rows) for phrase in item["phrases"])
    return any(contains_phrase(text, item["phrases"]) for text in rows)


def score(item: dict, answer: str, cited: list, ranked: list, not_found: bool, pdf_names: set) -> dict:
    """How one answerable question fared: the gold passage's rank in search
    (and its document's), whether the answer's first citation / any citation is
    the answering passage (gold document and, for a PDF, gold page), and
    whether the answer holds the gold phrase(s).

    >>> item = {"kind": "plain", "document": "a.txt", "pages": [1], "phrases": ["42"]}
    >>> cited = [{"file": "b.txt", "page": 1}, {"file": "a.txt", "page": 1}]
    >>> r = score(item, "It is 42.", cited, cited, False, set())
    >>> r["rank"], r["first_cited"], r["cited"], r["phrase"]
    (2, False, True, True)
    >>> score(item, "It is 42.", cited, cited, True, set())["phrase"]
    False
    """
    return {
        "gold": {"document": item["document"], "pages": item["pages"], "phrases": item["phrases"]},
        "rank": rank_of(ranked, item, pdf_names),
        "doc_rank": doc_rank_of(ranked, item),
        "first_cited": rank_of(cited[:1], item, pdf_names) is not None,
        "cited": rank_of(cited, item, pdf_names) is not None,
        "phrase": (not not_found) and answers_with(answer, item),
    }


def rescore(path: Path, questions: list[dict], splits: list[str]) -> int:
    """A saved run scored with the current question file, splits and matching rules."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    by_id = {q["id"]: q for q in questions}
    pdf_names = {q["document"] for q in questions if q.get("document", "").lower().endswith(".pdf")}
    records = []
    for rec in saved["records"]:
        item = by_id.get(rec["id"])
        if item is None:
            continue
        rec = dict(rec, kind=item["kind"], split=item.get("split"))
        if not expects_not_found(item):
            rec.update(score(item, rec["answer"], rec["citations"], rec["ranked"], rec["not_found"], pdf_names))
        records.append(rec)
    print(f"{path.name}: {len(records)} of {len(saved['records'])} saved questions are in the question file")
    print(markdown_table(summarize_parts(records, splits)))
    return 0


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", help="askdocs binary (default: target/release/askdocs, or target/debug/askdocs when that is newer or the only one)")
    parser.add_argument("--mode", choices=["auto", "http", "cli"], default="auto",
                        help="cli needs `ask --json` and `search --json` (auto: cli when the binary has them)")
    parser.add_argument("--questions", default=str(EVAL / "questions.jsonl"))
    parser.add_argument("--docs", default=os.environ.get("EVAL_DOCS_DIR", str(ROOT / ".eval-docs")) + "/docs")
    parser.add_argument("--data-dir", help="use (and keep) this data directory; documents already in it are not ingested again")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--top-k", type=int, help="topK sent with each question (default: askdocs' own)")
    parser.add_argument("--kind", action="append", choices=KINDS, help="only these kinds (repeatable)")
    parser.add_argument("--split", choices=["dev", "test", "all"],
                        help="only the dev or the test part, or both pooled as one (default: both, reported side by side)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--record", metavar="LABEL", help="add the result (dev and test) to docs/quality.md under LABEL")
    parser.add_argument("--quality-file", default=str(ROOT / "docs" / "quality.md"))
    parser.add_argument("--verbose", action="store_true", help="list every failed question")
    parser.add_argument("--wait", type=float, default=3600, help="seconds to wait for processing (http)")
    parser.add_argument("--rescore", metavar="RESULTS_JSON",
                        help="score a saved run again with the current questions (no askdocs needed)")
    args = parser.parse_args()
    splits = [args.split] if args.split else list(SPLITS)
    if args.rescore:
        return rescore(Path(args.rescore), load_questions(Path(args.questions)), splits)

    started = time.time()
    questions = load_questions(Path(args.questions))
    if args.split in SPLITS:
        questions = [q for q in questions if q["split"] == args.split]
    if args.kind:
        questions = [q for q in questions if q["kind"] in args.kind]
    if args.limit:
        questions = questions[: args.limit]
    files = load_documents(Path(args.docs))
    pdf_names = {f.name for f in files if f.suffix.lower() == ".pdf"}
    binary = find_binary(args.binary)

    work = Path(tempfile.mkdtemp(prefix="askdocs-eval-"))
    data_dir = Path(args.data_dir).resolve() if args.data_dir else work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    askdocs = Askdocs(binary, data_dir, work)
    mode = args.mode
    if mode == "auto":
        mode = "cli" if askdocs.has_json_commands() else "http"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                      capture_output=True, text=True).stdout.strip():
        commit += "+dirty"
    per_split = ", ".join(f"{part} {sum(q['split'] == part for q in questions)}" for part in SPLITS)
    print(f"askdocs eval: {len(questions)} questions ({per_split}), {len(files)} documents, {mode} mode")
    print(f"  binary {binary} (copied to {askdocs.binary})")
    print(f"  data   {data_dir}")

    server = None
    records = []
    try:
        # ---- ingest
        t0 = time.time()
        names_by_id: dict[str, str] = {}
        if mode == "http":
            server = HttpClient(askdocs, work / "serve.log")
            server.login()
            print(f"  server {server.url}; uploading …", flush=True)
            docs = server.upload_all(files, args.wait)
            names_by_id = {d["documentId"]: d["fileName"] for d in docs}
        else:
            have, _ = indexed_chunks(data_dir)
            todo = [str(f) for f in files if have.get(f.name, {}).get("status") != "ready"]
            if todo:
                print(f"  ingesting {len(todo)} documents …", flush=True)
                result = askdocs.run("ingest", *todo, timeout=4 * 3600)
                tail = (result.stdout + result.stderr).strip().splitlines()[-12:]
                print("\n".join("    " + line for line in tail))
        ingest_seconds = time.time() - t0
        documents, passages = indexed_chunks(data_dir)
        if not names_by_id and mode == "cli":
            try:
                names_by_id = {
                    row[0]: row[1]
                    for row in sqlite3.connect(f"file:{data_dir / 'askdocs.db'}?mode=ro", uri=True).execute(
                        "SELECT document_id, file_name FROM documents")
                }
            except sqlite3.Error:
                pass
        failed_documents = {
            name: f"{info['status']}: {info['reason'] or ''}".strip(": ")
            for name, info in documents.items()
            if info["status"] != "ready"
        }
        for f in files:
            if documents and f.name not in documents:
                failed_documents[f.name] = "not uploaded"
        chunks = sum(len(rows) for rows in passages.values())
        print(f"  ingest took {ingest_seconds:.0f} s: {len(files) - len(failed_documents)}/{len(files)} ready, {chunks} passages")
        for name, reason in failed_documents.items():
            print(f"    NOT READY {name}: {reason}")

        # ---- questions
        t1 = time.time()
        latencies = []
        batched = askdocs.batch(questions, args.top_k) if mode == "cli" and askdocs.has_batch() else None
        for number, item in enumerate(questions, 1):
            q0 = time.time()
            error = None
            ranked, cited, answer, model = [], [], "", ""
            try:
                if batched is not None:
                    out = next(batched)
                    if "error" in out:
                        raise RuntimeError(out["error"])
                    response = out["ask"]
                    answer = response.get("answer", "")
                    model = response.get("model", "")
                    cited = simplify(response.get("citations", []), names_by_id)
                    ranked = simplify(passage_list(out["search"]), names_by_id)
                elif mode == "http":
                    response = server.ask(item["question"], args.top_k)
                else:
                    extra = ["--top-k", str(args.top_k)] if args.top_k else []
                    result = askdocs.run("ask", "--json", *extra, item["question"], timeout=600)
                    if result.returncode != 0:
                        raise RuntimeError(result.stderr.strip()[-500:])
                    response = parse_json_output(result.stdout)
                if batched is None:
                    answer = response.get("answer", "")
                    model = response.get("model", "")
                    cited = simplify(response.get("citations", []), names_by_id)
                if mode == "cli" and batched is None:
                    result = askdocs.run("search", "--json", "--top-k", str(SEARCH_TOP_K), item["question"], timeout=600)
                    if result.returncode != 0:
                        raise RuntimeError(result.stderr.strip()[-500:])
                    ranked = simplify(passage_list(parse_json_output(result.stdout)), names_by_id)
                elif batched is None:
                    ranked = cited
            except Exception as exc:  # a failed call is a failed question, not a failed run
                error = str(exc)
            latencies.append(time.time() - q0)
            not_found = error is not None or is_not_found(answer, cited)
            rec = {
                "id": item["id"],
                "kind": item["kind"],
                "split": item["split"],
                "question": item["question"],
                "answer": answer,
                "model": model,
                "not_found": not_found,
                "error": error,
                "citations": [{k: c[k] for k in ("file", "page", "score", "text")} for c in cited],
                "ranked": [{k: p[k] for k in ("file", "page", "score")} for p in ranked],
            }
            if not expects_not_found(item):
                rec.update(score(item, answer, cited, ranked, not_found, pdf_names))
                rec["gold_indexed"] = gold_indexed(item, passages, pdf_names)
            records.append(rec)
            mark = ""
            if expects_not_found(item):
                mark = "ok" if not_found else "ANSWERED"
            else:
                mark = f"rank {rec['rank'] or '-'}" + (" phrase" if rec["phrase"] else "") + (" NOT-FOUND" if not_found else "")
            print(f"  [{number:3}/{len(questions)}] {item['id']:<10} {mark}" + (f"  error: {error[:120]}" if error else ""), flush=True)
        questions_seconds = time.time() - t1
    finally:
        if server:
            server.stop()

    parts = summarize_parts(records, splits)
    table = markdown_table(parts)
    total_seconds = time.time() - started
    meta = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit,
        "mode": mode,
        "binary": "release" if "release" in str(binary) else ("debug" if "debug" in str(binary) else str(binary)),
        "top_k": args.top_k,
        "documents": len(files),
        "documents_ready": len(files) - len(failed_documents),
        "failed_documents": failed_documents,
        "chunks": chunks,
        "ingest_seconds": ingest_seconds,
        "questions_seconds": questions_seconds,
        "seconds_per_question": questions_seconds / max(1, len(questions)),
        "total_seconds": total_seconds,
        "questions": len(questions),
        "splits": splits,
    }

    if args.verbose:
        print("\nFailures:")
        for rec in records:
            if rec["kind"] in NOT_FOUND_KINDS:
                if rec["not_found"]:
                    continue
                print(f"\n- {rec['id']} ({rec['kind']}, {rec['split']}) {rec['question']}\n  ANSWERED: {rec['answer'][:300]}")
                for c in rec["citations"][:3]:
                    print(f"    cites {c['file']} p{c['page']}")
                continue
            if rec["rank"] == 1 and rec["first_cited"] and rec["phrase"]:
                continue
            gold = rec["gold"]
            print(f"\n- {rec['id']} ({rec['kind']}, {rec['split']}) {rec['question']}")
            print(f"  gold {gold['document']} p{gold['pages']} {gold['phrases']}"
                  f" · rank {rec['rank']} · doc rank {rec['doc_rank']} · first citation {rec['first_cited']}"
                  f" · phrase {rec['phrase']}"
                  f" · gold indexed {rec['gold_indexed']}")
            print("  ranked: " + ", ".join(f"{p['file']}:{p['page']}" for p in rec["ranked"][:5]))
            print(f"  answer: {rec['answer'][:300]}")
            if rec["error"]:
                print(f"  error: {rec['error'][:300]}")

    print()
    print(table)
    print(
        f"\n{mode} mode · {meta['documents_ready']}/{meta['documents']} documents ready, {chunks} passages · "
        f"ingest {ingest_seconds:.0f} s · questions {questions_seconds:.0f} s "
        f"({meta['seconds_per_question']:.1f} s each) · total {total_seconds:.0f} s"
    )

    results_dir = EVAL / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = results_dir / f"{stamp}.json"
    out.write_text(json.dumps({"label": args.record, "meta": meta, "summary": parts, "records": records},
                              indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"results: {out.relative_to(ROOT)}")

    if args.record:
        if args.kind or args.limit or args.split:
            print("(not recorded: --record needs the whole question set, dev and test)")
        else:
            record(Path(args.quality_file), args.record, meta, parts, table)

    if args.keep and not args.data_dir:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.data_dir:
        print(f"data kept in {data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
