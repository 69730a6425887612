#!/usr/bin/env python3
"""Ask end to end against a running `askdocs serve` (bench/extra-ask.sh).

    python3 bench/ask_e2e.py BASE_URL QUERIES.json TEXT_FILE...

Registers one account, uploads the first 500 KB of the text files cut into
~200 documents of ~2.5 KB (a library of hundreds of documents), waits until all
are ready (untimed), then asks each question of QUERIES.json (a JSON list of
strings; sentences of the same texts) one at a time, after three warm-up
asks. Prints {"title","note","rows"} for bench/report.py: client-side p50/p99
of `POST /query/ask`, and from the Server-Timing header the model's share
(embed, answer) and the query path's overhead (goal ≤ 2 ms).

Standard library only.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "load"))
from prepare import request_with_headers as call  # noqa: E402  (one HTTP helper for both)

DOCUMENTS = 200
# ~2.5 KB per document: hundreds of documents, a library ready in well under a minute.
LIBRARY_CHARACTERS = DOCUMENTS * 2500
QUESTIONS = 60
OVERHEAD_GOAL_MS = 2.0
PASSWORD = "Bench-ask-1"


def parts(files: list[str], count: int) -> list[str]:
    """The texts cut at paragraph ends into `count` parts of similar size."""
    text = "\n\n".join(Path(f).read_text(encoding="utf-8", errors="replace") for f in files)
    text = text[:LIBRARY_CHARACTERS]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    target = max(1, sum(len(p) for p in paragraphs) // count)
    result, current = [], []
    for paragraph in paragraphs:
        current.append(paragraph)
        if sum(len(p) for p in current) >= target and len(result) < count - 1:
            result.append("\n\n".join(current))
            current = []
    if current:
        result.append("\n\n".join(current))
    return result


def server_timing(header: str) -> dict[str, float]:
    stages = {}
    for entry in (header or "").split(","):
        name, _, duration = entry.strip().partition(";dur=")
        if duration:
            stages[name] = float(duration)
    return stages


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    base, queries_file, files = sys.argv[1].rstrip("/"), Path(sys.argv[2]), sys.argv[3:]
    email = "bench-ask@example.com"
    call(base, "POST", "/auth/register", body={"email": email, "password": PASSWORD, "name": "Bench"})
    token = call(base, "POST", "/auth/login", body={"email": email, "password": PASSWORD})[0]["token"]

    started = time.monotonic()
    ids = []
    for number, text in enumerate(parts(files, DOCUMENTS), start=1):
        query = urllib.parse.urlencode({"fileName": f"part-{number:03d}.txt"})
        document, _ = call(base, "POST", f"/documents?{query}", token=token, body=text.encode(),
                           content_type="text/plain")
        ids.append(document["documentId"])
    waiting, passages = set(ids), 0
    while waiting:
        for document_id in sorted(waiting):
            document, _ = call(base, "GET", f"/documents/{document_id}", token=token)
            if document["status"] == "ready":
                waiting.discard(document_id)
                passages += document.get("chunks") or 0
            elif document["status"] == "failed":
                raise RuntimeError(f"{document_id} failed: {document.get('statusReason')}")
        if waiting:
            time.sleep(1)
    library_seconds = time.monotonic() - started

    # The embedding benchmark's queries, then first sentences of the library's parts.
    questions = json.loads(queries_file.read_text()) if queries_file.exists() else []
    questions += [part.strip().split(". ")[0][:200] for part in parts(files, QUESTIONS)]
    questions = [question for question in questions if question.strip()][:QUESTIONS]
    for question in questions[:3]:
        call(base, "POST", "/query/ask", token=token, body={"question": question})
    client, stages = [], {"embed": [], "search": [], "answer": [], "overhead": [], "total": []}
    for question in questions:
        asked = time.perf_counter()
        _, headers = call(base, "POST", "/query/ask", token=token, body={"question": question})
        client.append((time.perf_counter() - asked) * 1000)
        timing = server_timing(headers.get("Server-Timing"))
        for name in stages:
            if name in timing:
                stages[name].append(timing[name])
    if not stages["overhead"]:
        print(json.dumps({"title": "Ask end to end", "error": "no Server-Timing header in the answers"}))
        return 0

    p50 = {name: statistics.median(values) for name, values in stages.items()}
    overhead_p99 = percentile(stages["overhead"], 0.99)
    note = (f"One account with {len(ids)} documents ({passages} passages, ready after "
            f"{library_seconds:.0f} s, untimed), {len(client)} questions asked one at a time over HTTP "
            f"after 3 warm-up asks. From the Server-Timing header, p50 in ms: embed {p50['embed']:.2f} "
            f"(the question through the model), search {p50['search']:.2f}, answer {p50['answer']:.2f} "
            f"(the extractive answerer), overhead {p50['overhead']:.2f} (everything but embed and answer: "
            f"ownership checks, search, fusion, history write), server total {p50['total']:.2f}.")
    rows = [
        {"key": "ask.client_p50_ms", "what": "ask end to end over HTTP, p50", "value": statistics.median(client),
         "unit": "ms"},
        {"key": "ask.client_p99_ms", "what": "ask end to end over HTTP, p99", "value": percentile(client, 0.99),
         "unit": "ms"},
        {"key": "ask.model_p50_ms", "what": "ask: the question's embedding, p50", "value": p50["embed"],
         "unit": "ms"},
        {"key": "ask.overhead_p50_ms", "what": "ask end to end: query-path overhead besides the model, p50",
         "value": p50["overhead"], "unit": "ms", "goal": f"≤ {OVERHEAD_GOAL_MS:g} ms",
         "met": p50["overhead"] <= OVERHEAD_GOAL_MS},
        {"key": "ask.overhead_p99_ms", "what": "ask: query-path overhead, p99", "value": overhead_p99,
         "unit": "ms"},
    ]
    print(json.dumps({"title": "Ask end to end", "note": note, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
