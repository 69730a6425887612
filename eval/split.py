#!/usr/bin/env python3
"""Assign each question of eval/questions.jsonl to the dev or the test part, once.

    python3 eval/split.py           # give a split to the questions that have none; print the balance
    python3 eval/split.py --check   # only print the balance; exit 1 if a question has no split

The test part is about a third of the questions, stratified by kind and by
document: questions without a split are taken in a seeded random order (ordered
by id first, so the file's line order does not matter), and each goes to test
when its kind and its document (for a near miss the document it is a near miss
of; unanswerable questions form one group) together lag a third test share, to
dev otherwise. A question that already has a split keeps it: adding questions
never moves old ones between the parts, and running this again changes nothing.

Nobody tunes on the test part: change askdocs looking at dev (`run.py --split
dev`), and keep a change only if dev improves and test does not get worse
beyond its confidence interval (docs/quality.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

sys.dont_write_bytecode = True
EVAL = Path(__file__).resolve().parent
QUESTIONS = EVAL / "questions.jsonl"
SEED = 26  # issue 26; never change it (it would not move assigned questions, only new ones)
TEST_SHARE = Fraction(1, 3)
SPLITS = ("dev", "test")


def group_of(item: dict) -> str:
    return item.get("document") or item.get("near") or "(no document)"


def assign(items: list[dict], seed: int = SEED) -> int:
    """Give a split to every item that has none; return how many were assigned.

    >>> qs = [{"id": f"q{i}", "kind": "plain" if i % 2 else "table", "document": f"d{i % 3}"} for i in range(12)]
    >>> assign(qs)
    12
    >>> sum(q["split"] == "test" for q in qs)
    4
    >>> assign(qs)  # idempotent: nothing left to assign, nothing moved
    0
    >>> qs.append({"id": "q12", "kind": "plain", "document": "d0"})
    >>> before = [q["split"] for q in qs[:12]]
    >>> assign(qs), [q["split"] for q in qs[:12]] == before
    (1, True)
    """
    seen_kind, test_kind, seen_group, test_group = Counter(), Counter(), Counter(), Counter()
    for item in items:
        if item.get("split") in SPLITS:
            seen_kind[item["kind"]] += 1
            seen_group[group_of(item)] += 1
            if item["split"] == "test":
                test_kind[item["kind"]] += 1
                test_group[group_of(item)] += 1
    todo = sorted((item for item in items if item.get("split") not in SPLITS), key=lambda item: item["id"])
    random.Random(seed).shuffle(todo)
    for item in todo:
        kind, group = item["kind"], group_of(item)
        lag = (TEST_SHARE * (seen_kind[kind] + 1) - test_kind[kind]) + (
            TEST_SHARE * (seen_group[group] + 1) - test_group[group]
        )
        item["split"] = "test" if lag >= 2 * TEST_SHARE else "dev"
        seen_kind[kind] += 1
        seen_group[group] += 1
        if item["split"] == "test":
            test_kind[kind] += 1
            test_group[group] += 1
    return len(todo)


def with_split(item: dict) -> dict:
    """The item with "split" right after "kind" (stable, readable lines)."""
    out = {}
    for key, value in item.items():
        if key == "split":
            continue
        out[key] = value
        if key == "kind":
            out["split"] = item["split"]
    return out


def balance(items: list[dict]) -> str:
    lines = []
    total = Counter(item.get("split") for item in items)
    lines.append(f"{len(items)} questions: dev {total['dev']}, test {total['test']}"
                 + (f", none {total[None]}" if total[None] else ""))
    for title, key in (("kind", lambda item: item["kind"]), ("document", group_of)):
        counts: dict[str, Counter] = {}
        for item in items:
            counts.setdefault(key(item), Counter())[item.get("split")] += 1
        lines.append(f"by {title} (dev/test):")
        for name in sorted(counts):
            c = counts[name]
            lines.append(f"  {name:<36} {c['dev']:>3} / {c['test']:<3}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a question has no split")
    parser.add_argument("--questions", default=str(QUESTIONS))
    args = parser.parse_args()
    path = Path(args.questions)
    lines = path.read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip() and not line.startswith("//")]
    if args.check:
        print(balance(items))
        return 1 if any(item.get("split") not in SPLITS for item in items) else 0
    assigned = assign(items)
    if assigned:
        it = iter(items)
        out = []
        for line in lines:
            if line.strip() and not line.startswith("//"):
                out.append(json.dumps(with_split(next(it)), ensure_ascii=False))
            else:
                out.append(line)
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"assigned a split to {assigned} question(s)")
    print(balance(items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
