#!/usr/bin/env python3
"""Tests of the eval's own scripts, without askdocs (standard library only).

    python3 eval/test_run.py            # or: python3 -m unittest discover -s eval -p 'test_*.py'

- the doctests of run.py and split.py (matching, Wilson and bootstrap
  intervals, summaries, the split's stability);
- run.py end to end against a fake `askdocs` (a small Python script standing
  in for the binary: `ingest`, `ask --json`, `search --json`, the SQLite file
  the gold check reads) that answers the dev questions right and the test
  questions wrong, so every metric of both parts has a known value, and
  `--record` must write both parts into a scratch quality page;
- `--split` and `--rescore` on the same fake run.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
EVAL = Path(__file__).resolve().parent
sys.path.insert(0, str(EVAL))
import run  # noqa: E402
import split  # noqa: E402

FAKE_ASKDOCS = textwrap.dedent(
    '''\
    #!/usr/bin/env python3
    # A stand-in for the askdocs binary: right on dev questions, wrong on test ones.
    import json, os, sqlite3, sys
    args = sys.argv[1:]
    data = args[args.index("--data-dir") + 1]
    del args[args.index("--data-dir"):args.index("--data-dir") + 2]
    questions = {q["question"]: q for q in map(json.loads, open(os.environ["FAKE_QUESTIONS"]))}
    NOT_FOUND = "I couldn't find the answer in your documents."
    if args[1:] == ["--help"]:
        print("--json --top-k")
        sys.exit(0)
    if args[0] == "ingest":
        db = sqlite3.connect(os.path.join(data, "askdocs.db"))
        db.execute("CREATE TABLE documents (document_id, file_name, status, status_reason, pages, chunks)")
        db.execute("CREATE TABLE chunks (document_id, page, text, ordinal)")
        for n, path in enumerate(args[1:]):
            name = os.path.basename(path)
            db.execute("INSERT INTO documents VALUES (?, ?, 'ready', NULL, 1, 1)", (f"id{n}", name))
            gold = [q for q in questions.values() if q.get("document") == name]
            text = " ".join(" ".join(q["phrases"]) for q in gold) or "nothing"
            for q in gold or [{"pages": [1]}]:
                db.execute("INSERT INTO chunks VALUES (?, ?, ?, 0)", (f"id{n}", q["pages"][0], text))
        db.commit()
        print(f"ingested {len(args) - 1}")
        sys.exit(0)
    def replies(question):
        q = questions[question]
        dev = q["split"] == "dev"
        other = {"fileName": "other.txt", "page": 1, "score": 0.1, "text": "unrelated"}
        if q["kind"] in ("near-miss", "unanswerable"):
            gold = None
        else:
            gold = {"fileName": q["document"], "page": q["pages"][0], "score": 0.9, "text": " ".join(q["phrases"])}
        passages = ([gold, other] if dev else [other, gold]) if gold else [other]
        if gold is None:
            answer = {"answer": NOT_FOUND, "citations": []} if dev else {"answer": "Probably 7.", "citations": [other]}
        elif dev:
            answer = {"answer": "It says: " + " and ".join(q["phrases"]), "citations": [gold, other]}
        else:
            answer = {"answer": NOT_FOUND, "citations": []}
        return answer, {"passages": passages}
    if args[0] == "ask-batch":
        # One process, one JSON line in and out per question.
        for line in sys.stdin:
            answer, search = replies(json.loads(line)["question"])
            print(json.dumps({"ask": answer, "search": search}), flush=True)
        sys.exit(0)
    answer, search = replies(args[-1])
    print(json.dumps(search if args[0] == "search" else answer))
    '''
)


def synthetic_questions() -> list[dict]:
    """Two of each kind run.py scores differently, one per part."""
    qs = []
    for split_name in ("dev", "test"):
        qs += [
            {"id": f"p-{split_name}", "kind": "plain", "split": split_name, "question": f"Plain {split_name}?",
             "document": "bash.pdf", "pages": [14], "phrases": ["32767"]},
            {"id": f"r-{split_name}", "kind": "paraphrased", "split": split_name, "question": f"Para {split_name}?",
             "document": "zlib-FAQ.txt", "pages": [1], "phrases": ["dates"]},
            {"id": f"m-{split_name}", "kind": "multi-part", "split": split_name, "question": f"Multi {split_name}?",
             "document": "ubuntu.csv", "pages": [1], "phrases": ["2016-04-21", "2026-04-23"]},
            {"id": f"t-{split_name}", "kind": "table", "split": split_name, "question": f"Table {split_name}?",
             "document": "sqlite-limits.html", "pages": [1], "phrases": ["64 tables"]},
            {"id": f"n-{split_name}", "kind": "near-miss", "split": split_name, "question": f"Near {split_name}?",
             "expected": "not found", "near": "xz-faq.txt", "note": "-"},
            {"id": f"u-{split_name}", "kind": "unanswerable", "split": split_name, "question": f"None {split_name}?",
             "expected": "not found", "note": "-"},
        ]
    return qs


QUALITY_PAGE = f"""# quality

| run | date | commit | mode | x |
|---|---|---|---|---|
{run.SUMMARY_MARKER}

{run.DETAIL_MARKER}
"""


class DocTests(unittest.TestCase):
    def test_run_doctests(self):
        failed, _ = doctest.testmod(run)
        self.assertEqual(failed, 0)

    def test_split_doctests(self):
        failed, _ = doctest.testmod(split)
        self.assertEqual(failed, 0)


class Intervals(unittest.TestCase):
    def test_wilson_contains_the_estimate_and_narrows(self):
        for k, n in ((0, 5), (3, 7), (50, 100), (99, 100)):
            low, high = run.wilson(k, n)
            self.assertLessEqual(low, k / n)
            self.assertGreaterEqual(high, k / n)
        wide = run.wilson(15, 30)
        narrow = run.wilson(150, 300)
        self.assertLess(narrow[1] - narrow[0], wide[1] - wide[0])

    def test_bootstrap_is_reproducible(self):
        values = [1.0, 0.5, 0.0, 0.333, 1.0, 0.25, 0.0, 1.0]
        self.assertEqual(run.bootstrap_mean(values), run.bootstrap_mean(values))
        low, high = run.bootstrap_mean(values)
        self.assertLess(low, sum(values) / len(values))
        self.assertGreater(high, sum(values) / len(values))


class Manifest(unittest.TestCase):
    def test_manifest_rows(self):
        rows = run.load_manifest()
        self.assertGreaterEqual(len(rows), 30)
        self.assertEqual({r["source"] for r in rows}, {"debian", "pypi", "npm"})
        for r in rows:
            self.assertRegex(r["sha256"], r"^[0-9a-f]{64}$")

    def test_questions_file_is_valid_and_split(self):
        questions = run.load_questions(EVAL / "questions.jsonl")
        names = {r["name"] for r in run.load_manifest()}
        self.assertGreaterEqual(len(questions), 300)
        for q in questions:
            self.assertIn(q["split"], run.SPLITS)
            doc = q.get("document") or q.get("near")
            if doc:
                self.assertIn(doc, names, q["id"])
        test_share = sum(q["split"] == "test" for q in questions) / len(questions)
        self.assertTrue(0.28 < test_share < 0.40, test_share)


class EndToEnd(unittest.TestCase):
    """run.py's main loop against the fake binary."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="askdocs-eval-test-")
        tmp = Path(cls.tmp.name)
        cls.binary = tmp / "askdocs"
        cls.binary.write_text(FAKE_ASKDOCS)
        cls.binary.chmod(0o755)
        cls.questions = tmp / "questions.jsonl"
        cls.questions.write_text("".join(json.dumps(q) + "\n" for q in synthetic_questions()))
        cls.docs = tmp / "docs"
        cls.docs.mkdir()
        for row in run.load_manifest():
            (cls.docs / row["name"]).write_text("fake")
        cls.quality = tmp / "quality.md"
        cls.quality.write_text(QUALITY_PAGE)
        cls.results: list[Path] = []

    @classmethod
    def tearDownClass(cls):
        for path in cls.results:
            path.unlink(missing_ok=True)
        cls.tmp.cleanup()

    def run_eval(self, *extra: str) -> tuple[str, dict]:
        env = dict(os.environ, FAKE_QUESTIONS=str(self.questions))
        result = subprocess.run(
            [sys.executable, str(EVAL / "run.py"), "--binary", str(self.binary), "--mode", "cli",
             "--questions", str(self.questions), "--docs", str(self.docs),
             "--quality-file", str(self.quality), *extra],
            capture_output=True, text=True, env=env, timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        match = re.search(r"results: (\S+)", result.stdout)
        self.assertIsNotNone(match, result.stdout)
        path = run.ROOT / match.group(1)
        self.results.append(path)
        return result.stdout, json.loads(path.read_text())

    def test_both_parts_every_metric(self):
        out, saved = self.run_eval("--record", "fake run")
        dev, test = saved["summary"]["dev"], saved["summary"]["test"]
        for kind in ("plain", "paraphrased", "multi-part", "table", "all answerable"):
            self.assertEqual(dev[kind]["hit@1"]["value"], 1.0, kind)
            self.assertEqual(dev[kind]["first_cited"]["value"], 1.0, kind)
            self.assertEqual(dev[kind]["phrase"]["value"], 1.0, kind)
            self.assertEqual(dev[kind]["not_found"]["value"], 0.0, kind)
            self.assertEqual(dev[kind]["mrr"]["value"], 1.0, kind)
            self.assertEqual(test[kind]["hit@1"]["value"], 0.0, kind)
            self.assertEqual(test[kind]["hit@5"]["value"], 1.0, kind)
            self.assertEqual(test[kind]["mrr"]["value"], 0.5, kind)
            self.assertEqual(test[kind]["not_found"]["value"], 1.0, kind)
            self.assertEqual(test[kind]["not_found_hit5"]["value"], 1.0, kind)
            self.assertEqual(test[kind]["first_cited"]["value"], 0.0, kind)
        self.assertEqual(dev["all answerable"]["gold_indexed"]["value"], 1.0)
        for kind in ("near-miss", "unanswerable"):
            self.assertEqual(dev[kind]["not_found"]["value"], 1.0)
            self.assertEqual(test[kind]["not_found"]["value"], 0.0)
        # every figure carries its interval
        low, high = dev["all answerable"]["hit@1"]["low"], dev["all answerable"]["hit@1"]["high"]
        self.assertEqual((round(low, 3), high), (0.51, 1.0))
        # the table shows both parts side by side, with intervals
        self.assertIn("| plain | dev | 1 | 1.00 (0.21–1.00)", out)
        self.assertIn("| plain | test | 1 | 0.00 (0.00–0.79)", out)
        # --record wrote both parts: a summary row with dev · test, and the table
        page = self.quality.read_text()
        row = next(line for line in page.splitlines() if line.startswith("| fake run |"))
        self.assertIn("1.00 / 1.00 · 0.00 / 1.00", row)  # paraphrased hit@1 / hit@5, dev · test
        self.assertIn("### fake run", page)
        self.assertIn("| **all answerable** | dev | 4 |", page)
        self.assertIn("| **all answerable** | test | 4 |", page)
        self.assertIn('| near-miss (answer "not found") | test | 1 |', page)

        # the saved run rescored per part gives the same table
        rescored = subprocess.run(
            [sys.executable, str(EVAL / "run.py"), "--questions", str(self.questions), "--rescore", str(self.results[-1])],
            capture_output=True, text=True, timeout=120,
        )
        self.assertEqual(rescored.returncode, 0, rescored.stderr)
        self.assertIn("| plain | test | 1 | 0.00 (0.00–0.79)", rescored.stdout)

    def test_split_option(self):
        out, saved = self.run_eval("--split", "dev", "--record", "never")
        self.assertEqual(list(saved["summary"]), ["dev"])
        self.assertTrue(all(r["split"] == "dev" for r in saved["records"]))
        self.assertIn("not recorded", out)
        self.assertNotIn("### never", self.quality.read_text())
        out, saved = self.run_eval("--split", "all")
        self.assertEqual(list(saved["summary"]), ["all"])
        self.assertEqual(saved["summary"]["all"]["all answerable"]["n"], 8)


if __name__ == "__main__":
    unittest.main()
