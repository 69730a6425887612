#!/usr/bin/env python3
"""askdocs answer-quality evaluation (issue 11).

Ingests the documents of eval/documents.tsv into a fresh data directory, asks
every question of eval/questions.jsonl, and reports retrieval (hit@1, hit@5,
MRR), answers (gold phrase in the answer) and answerability ("not found" for
near misses, false "not found" for real questions), per kind and overall.

    python3 eval/run.py                      # newest binary, best available mode
    python3 eval/run.py --mode http          # over the HTTP API of `askdocs serve`
    python3 eval/run.py --mode cli           # `askdocs ask --json` / `search --json`
    python3 eval/run.py --record "label"     # also add the result to docs/quality.md
    python3 eval/run.py --verbose            # list every failure
    python3 eval/run.py --data-dir .eval-data --keep   # keep (and later reuse) the ingested data

Standard library only. The binary is copied to a temporary directory first, so
a build running at the same time cannot change it under the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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
KINDS = [
    "paraphrased",
    "plain",
    "specific",
    "table_or_example",
    "similar_docs",
    "deep",
    "unanswerable",
]
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
    plain hyphens, no asterisks (HTML emphasis becomes Markdown `*…*` in
    extracted text), whitespace collapsed: how gold phrases are matched."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_DASHES).translate(_QUOTES).replace("*", "")
    return re.sub(r"\s+", " ", text).strip().casefold()


def contains_phrase(text: str, phrases: list[str]) -> bool:
    haystack = normalize(text)
    return any(normalize(phrase) in haystack for phrase in phrases)


def is_not_found(answer: str, citations: list) -> bool:
    return normalize(answer).startswith(NOT_FOUND_PREFIX) or not citations


# ---------------------------------------------------------------- inputs


def load_questions(path: Path) -> list[dict]:
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
        if item.get("kind") == "unanswerable":
            if item.get("expected") != "not found":
                problems.append('an unanswerable item needs "expected": "not found"')
        else:
            if not item.get("document"):
                problems.append("no gold document")
            if not item.get("phrases"):
                problems.append("no gold phrases")
            if not isinstance(item.get("pages"), list) or not item["pages"]:
                problems.append("no gold pages")
        if problems:
            sys.exit(f"{path}:{number}: {'; '.join(problems)}")
        questions.append(item)
    return questions


def load_documents(docs_dir: Path) -> list[Path]:
    names = []
    for line in (EVAL / "documents.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.append(line.split("\t")[0])
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
    a gold page), or None."""
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


def rate(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: list[dict]) -> dict:
    groups: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for record in records:
        groups[record["kind"]].append(record)
    groups["all answerable"] = [r for r in records if r["kind"] != "unanswerable"]
    groups["unanswerable"] = groups.pop("unanswerable")  # last, after the pooled row
    summary = {}
    for name, rows in groups.items():
        if not rows:
            continue
        entry = {"n": len(rows), "not_found": rate([r["not_found"] for r in rows])}
        if name != "unanswerable":
            ranks = [r["rank"] for r in rows]
            entry.update(
                {
                    "hit@1": rate([r is not None and r <= 1 for r in ranks]),
                    "hit@5": rate([r is not None and r <= 5 for r in ranks]),
                    "mrr": sum(1.0 / r for r in ranks if r) / len(rows),
                    "doc_hit@5": rate([r["doc_rank"] is not None and r["doc_rank"] <= 5 for r in rows]),
                    "cited": rate([r["cited"] for r in rows]),
                    "phrase": rate([r["phrase"] for r in rows]),
                    "gold_indexed": rate([r["gold_indexed"] for r in rows if r["gold_indexed"] is not None]),
                }
            )
        summary[name] = entry
    return summary


def fmt(value, digits=2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(summary: dict) -> str:
    lines = [
        "| kind | n | hit@1 | hit@5 | MRR | doc hit@5 | cited | phrase in answer | \"not found\" |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in summary.items():
        if name == "unanswerable":
            lines.append(
                f"| unanswerable (near misses) | {entry['n']} | | | | | | | **{fmt(entry['not_found'])}** |"
            )
        else:
            label = f"**{name}**" if name == "all answerable" else name
            lines.append(
                f"| {label} | {entry['n']} | {fmt(entry['hit@1'])} | {fmt(entry['hit@5'])} | "
                f"{fmt(entry['mrr'])} | {fmt(entry['doc_hit@5'])} | {fmt(entry['cited'])} | "
                f"{fmt(entry['phrase'])} | {fmt(entry['not_found'])} |"
            )
    return "\n".join(lines)


def summary_row(label: str, meta: dict, summary: dict) -> str:
    def get(kind, key):
        return summary.get(kind, {}).get(key)

    return (
        f"| {label} | {meta['date'][:10]} | {meta['commit']} | {meta['mode']} | "
        f"{fmt(get('paraphrased', 'hit@1'))} / {fmt(get('paraphrased', 'hit@5'))} | "
        f"{fmt(get('plain', 'hit@1'))} / {fmt(get('plain', 'hit@5'))} | "
        f"{fmt(get('all answerable', 'hit@1'))} / {fmt(get('all answerable', 'hit@5'))} | "
        f"{fmt(get('all answerable', 'phrase'))} | {fmt(get('unanswerable', 'not_found'))} | "
        f"{fmt(get('all answerable', 'not_found'))} | {meta['ingest_seconds']:.0f} s / {meta['total_seconds']:.0f} s |"
    )


SUMMARY_MARKER = "<!-- eval:summary-rows (run.py --record adds rows above this line) -->"
DETAIL_MARKER = "<!-- eval:details (run.py --record appends below) -->"


def record(quality: Path, label: str, meta: dict, summary: dict, table: str):
    text = quality.read_text(encoding="utf-8")
    if SUMMARY_MARKER not in text or DETAIL_MARKER not in text:
        sys.exit(f"{quality} lacks the eval markers; cannot record")
    row = summary_row(label, meta, summary)
    text = text.replace(SUMMARY_MARKER, row + "\n" + SUMMARY_MARKER, 1)
    detail = (
        f"\n### {label}\n\n"
        f"{meta['date']} · commit {meta['commit']} · {meta['mode']} mode · {meta['binary']} · "
        f"{meta['documents_ready']}/{meta['documents']} documents ready, {meta['chunks']} passages · "
        f"ingest {meta['ingest_seconds']:.0f} s, questions {meta['questions_seconds']:.0f} s, "
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
    if not passages:
        return None
    rows = passages.get(item["document"], [])
    pages = set(item["pages"])
    return any(
        contains_phrase(text, item["phrases"])
        for page, text in rows
        if item["document"] not in pdf_names or page in pages
    )


def score(item: dict, answer: str, cited: list, ranked: list, not_found: bool, pdf_names: set) -> dict:
    return {
        "gold": {"document": item["document"], "pages": item["pages"], "phrases": item["phrases"]},
        "rank": rank_of(ranked, item, pdf_names),
        "doc_rank": doc_rank_of(ranked, item),
        "cited": rank_of(cited, item, pdf_names) is not None,
        "phrase": (not not_found) and contains_phrase(answer, item["phrases"]),
    }


def rescore(path: Path, questions: list[dict]) -> int:
    """A saved run scored with the current question file and matching rules."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    by_id = {q["id"]: q for q in questions}
    pdf_names = {q["document"] for q in questions if q.get("document", "").lower().endswith(".pdf")}
    records = []
    for rec in saved["records"]:
        item = by_id.get(rec["id"])
        if item is None:
            continue
        rec = dict(rec, kind=item["kind"])
        if item["kind"] != "unanswerable":
            rec.update(score(item, rec["answer"], rec["citations"], rec["ranked"], rec["not_found"], pdf_names))
        records.append(rec)
    print(f"{path.name}: {len(records)} of {len(saved['records'])} saved questions are in the question file")
    print(markdown_table(summarize(records)))
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
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--record", metavar="LABEL", help="add the result to docs/quality.md under LABEL")
    parser.add_argument("--quality-file", default=str(ROOT / "docs" / "quality.md"))
    parser.add_argument("--verbose", action="store_true", help="list every failed question")
    parser.add_argument("--wait", type=float, default=3600, help="seconds to wait for processing (http)")
    parser.add_argument("--rescore", metavar="RESULTS_JSON",
                        help="score a saved run again with the current questions (no askdocs needed)")
    args = parser.parse_args()
    if args.rescore:
        return rescore(Path(args.rescore), load_questions(Path(args.questions)))

    started = time.time()
    questions = load_questions(Path(args.questions))
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
    print(f"askdocs eval: {len(questions)} questions, {len(files)} documents, {mode} mode")
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
        for number, item in enumerate(questions, 1):
            q0 = time.time()
            error = None
            ranked, cited, answer, model = [], [], "", ""
            try:
                if mode == "http":
                    response = server.ask(item["question"], args.top_k)
                else:
                    extra = ["--top-k", str(args.top_k)] if args.top_k else []
                    result = askdocs.run("ask", "--json", *extra, item["question"], timeout=600)
                    if result.returncode != 0:
                        raise RuntimeError(result.stderr.strip()[-500:])
                    response = parse_json_output(result.stdout)
                answer = response.get("answer", "")
                model = response.get("model", "")
                cited = simplify(response.get("citations", []), names_by_id)
                if mode == "cli":
                    result = askdocs.run("search", "--json", "--top-k", str(SEARCH_TOP_K), item["question"], timeout=600)
                    if result.returncode != 0:
                        raise RuntimeError(result.stderr.strip()[-500:])
                    ranked = simplify(passage_list(parse_json_output(result.stdout)), names_by_id)
                else:
                    ranked = cited
            except Exception as exc:  # a failed call is a failed question, not a failed run
                error = str(exc)
            latencies.append(time.time() - q0)
            not_found = error is not None or is_not_found(answer, cited)
            rec = {
                "id": item["id"],
                "kind": item["kind"],
                "question": item["question"],
                "answer": answer,
                "model": model,
                "not_found": not_found,
                "error": error,
                "citations": [{k: c[k] for k in ("file", "page", "score", "text")} for c in cited],
                "ranked": [{k: p[k] for k in ("file", "page", "score")} for p in ranked],
            }
            if item["kind"] != "unanswerable":
                rec.update(score(item, answer, cited, ranked, not_found, pdf_names))
                rec["gold_indexed"] = gold_indexed(item, passages, pdf_names)
            records.append(rec)
            mark = ""
            if item["kind"] == "unanswerable":
                mark = "ok" if not_found else "ANSWERED"
            else:
                mark = f"rank {rec['rank'] or '-'}" + (" phrase" if rec["phrase"] else "") + (" NOT-FOUND" if not_found else "")
            print(f"  [{number:3}/{len(questions)}] {item['id']:<10} {mark}" + (f"  error: {error[:120]}" if error else ""), flush=True)
        questions_seconds = time.time() - t1
    finally:
        if server:
            server.stop()

    summary = summarize(records)
    table = markdown_table(summary)
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
    }

    if args.verbose:
        print("\nFailures:")
        for rec in records:
            if rec["kind"] == "unanswerable":
                if rec["not_found"]:
                    continue
                print(f"\n- {rec['id']} ({rec['kind']}) {rec['question']}\n  ANSWERED: {rec['answer'][:300]}")
                for c in rec["citations"][:3]:
                    print(f"    cites {c['file']} p{c['page']}")
                continue
            if rec["rank"] == 1 and rec["phrase"]:
                continue
            gold = rec["gold"]
            print(f"\n- {rec['id']} ({rec['kind']}) {rec['question']}")
            print(f"  gold {gold['document']} p{gold['pages']} {gold['phrases']}"
                  f" · rank {rec['rank']} · doc rank {rec['doc_rank']} · phrase {rec['phrase']}"
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
    out.write_text(json.dumps({"label": args.record, "meta": meta, "summary": summary, "records": records},
                              indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"results: {out.relative_to(ROOT)}")

    if args.record:
        if args.kind or args.limit:
            print("(not recorded: --record needs the whole question set)")
        else:
            record(Path(args.quality_file), args.record, meta, summary, table)

    if args.keep and not args.data_dir:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.data_dir:
        print(f"data kept in {data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
