#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the JSON files a `make bench` run left in its results folder.

    python3 bench/report.py [--results target/bench] [--out docs/benchmarks.md]
                            [--history bench/history.json] [--label TEXT] [--no-record]

Reads (each optional; a missing or failed step shows as "not measured" with its reason):
  meta.json             run.sh: date, commands, step durations and exit codes, load
  sizes.json            bench/sizes.sh
  coldstart.json        bench/coldstart.py
  extract-rust.json     askdocs bench-extract --json   {"files":[{file,format,bytes,pages,chunks,seconds}]}
  extract-python.json   bench/python_pipeline.py       (same shape)
  embed-rust.json       askdocs bench-embed --json     {"passages_per_second","query_p50_ms",...}
  embed-st.json         bench/embed_st.py              (same keys)
  target/criterion/**/new/{benchmark,estimates}.json   cargo bench (only those written by this run)
  extra-*.json          anything else: {"title": "...", "rows": [{"key","what","value","unit",
                        "peer","ratio","goal","met"}]} (e.g. ask end to end, load, ingest)

Appends this run's headline numbers to bench/history.json (unless --no-record) and
shows every recorded run side by side in a "before / after" table.
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import re
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ["auth", "document", "processing", "query"]
BASELINE = "hello-lambda"
# Issue 21: the artefacts sam build makes, with the AWS SDK clients, each ≤ 10 MB,
# and each function's init ≤ 1.3× hello-lambda's.
SIZE_GOAL_MB = {"auth": 10.0, "document": 10.0, "processing": 10.0, "query": 10.0}
INIT_RATIO_GOAL = 1.3
EXTRACT_RATIO_GOAL = 20.0
TEXT_MBPS_GOAL = 50.0
EMBED_RATIO_GOAL = 1.0
RETRIEVAL_P50_GOAL_MS = 5.0
MB = 1_000_000


# ----------------------------------------------------------------------------- helpers


def load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def fmt(value, digits=2, unit=""):
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            text = f"{value:,.0f}"
        elif abs(value) >= 10:
            text = f"{value:.1f}"
        else:
            text = f"{value:.{digits}f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def ratio_text(value):
    return "—" if value is None else f"{value:.2f}×"


def verdict(met):
    return {True: "✅", False: "❌", None: "—"}[met]


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def step_problem(meta, step):
    """Why a step produced nothing, from run.sh's record."""
    for item in (meta or {}).get("steps", []):
        if item.get("name") == step and item.get("status") not in (0, None):
            return f"step `{step}` failed (exit {item['status']}; see {item.get('log', 'its log')})"
    return None


def not_measured(data, meta, step, what):
    if isinstance(data, dict) and data.get("error"):
        return f"{what}: not measured — {data['error']}"
    return f"{what}: not measured — " + (step_problem(meta, step) or "no result file")


# ----------------------------------------------------------------------------- machine


def machine_info():
    info = {"cpu": None, "cores": os.cpu_count(), "ram_gib": None,
            "kernel": platform.release(), "os": None, "rustc": None, "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    try:
        info["rustc"] = subprocess.run(["rustc", "--version"], capture_output=True, text=True,
                                       timeout=20).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def git_commit():
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+changes" if dirty else "") if commit else None
    except (OSError, subprocess.SubprocessError):
        return None


# ----------------------------------------------------------------------------- sections


class Report:
    def __init__(self, results: Path, meta):
        self.results = results
        self.meta = meta or {}
        self.goal_rows = []      # the headline table
        self.values = {}         # key -> number, for history
        self.labels = {}         # key -> label for the before/after table
        self.sections = []       # markdown blocks

    def value(self, key, label, number):
        if number is not None:
            self.values[key] = round(float(number), 4)
            self.labels[key] = label

    # -- sizes ---------------------------------------------------------------------
    def sizes(self):
        data = load(self.results / "sizes.json")
        # `--sam` measures what sam build makes (arm64 here), with no x86_64 copy.
        if not data or not (data.get("x86_64") or data.get("arm64")):
            self.sections.append("### Size\n\n" + not_measured(data, self.meta, "sizes", "binary sizes"))
            for name, goal in SIZE_GOAL_MB.items():
                self.goal_rows.append([f"stripped size {name} (x86_64)", "not measured", "—", "—",
                                       f"≤ {goal:g} MB", "—"])
            return
        rows = []
        for arch in ("x86_64", "arm64"):
            entries = data.get(arch) or {}
            for name in FUNCTIONS + [BASELINE]:
                entry = entries.get(name)
                if not entry or entry.get("missing"):
                    continue
                mb = entry["stripped_bytes"] / MB
                rows.append([f"{name}", arch, fmt(entry["bytes"] / MB, 2, "MB"), fmt(mb, 2, "MB")])
                if name in SIZE_GOAL_MB:
                    self.value(f"size.{arch}.{name}.mb", f"{name} stripped size, {arch} (MB)", mb)
                    if arch == "x86_64" or data.get("source"):
                        goal = SIZE_GOAL_MB[name]
                        base = entries.get(BASELINE)
                        built = f"{arch}, sam build" if data.get("source") else arch
                        self.goal_rows.append([
                            f"stripped size {name} ({built})", fmt(mb, 2, "MB"),
                            fmt(base["stripped_bytes"] / MB, 2, "MB") + " hello-lambda"
                            if base and not base.get("missing") else "—",
                            "—", f"≤ {goal:g} MB", verdict(mb <= goal)])
        text = "### Size\n\nMB = 10⁶ bytes. " + (
            f"Stripped with `{data.get('strip')}` on a copy. ")
        if data.get("source"):
            text += f"The functions are the artefacts of {data['source']}. "
        if data.get("arm64_note"):
            text += f"arm64: {data['arm64_note']}."
        elif data.get("zig"):
            text += f"arm64 built with cargo-lambda and zig {data['zig']}."
        self.sections.append(text + "\n\n" + table(["binary", "arch", "file", "stripped"], rows))

    # -- cold start ----------------------------------------------------------------
    def coldstart(self):
        data = load(self.results / "coldstart.json")
        if not data or not data.get("binaries"):
            self.sections.append("### Cold start\n\n" + not_measured(data, self.meta, "coldstart", "cold start"))
            for name in FUNCTIONS:
                self.goal_rows.append([f"init {name} (spawn → first /next), median", "not measured", "—",
                                       "—", f"≤ {INIT_RATIO_GOAL}×", "—"])
            return
        bins = data["binaries"]
        base = bins.get(BASELINE) or {}
        rows = []
        for name in FUNCTIONS + [BASELINE]:
            entry = bins.get(name)
            if not entry:
                continue
            if entry.get("missing"):
                rows.append([name, "missing", "", "", "", "", ""])
                continue
            init, invoke, rss = entry.get("init_ms"), entry.get("invoke_ms"), entry.get("peak_rss_mib")
            ratios = entry.get("ratio_to_baseline") or {}
            outcome = ", ".join(f"{k} × {v}" for k, v in (entry.get("outcomes") or {}).items())
            if entry.get("status_codes"):
                outcome += " (HTTP " + ", ".join(map(str, entry["status_codes"])) + ")"
            failure = (entry.get("failures") or [{}])[0].get("detail") if not init else None
            rows.append([
                name,
                f"{fmt(init['median'])} / {fmt(init['p90'])}" if init else "—",
                ratio_text(ratios.get("init")) if name != BASELINE else "1×",
                f"{fmt(invoke['median'])} / {fmt(invoke['p90'])}" if invoke else "—",
                f"{fmt(rss['median'], 1)}" if rss else "—",
                ratio_text(ratios.get("peak_rss")) if name != BASELINE else "1×",
                outcome + (f": {failure[:120]}" if failure else ""),
            ])
            if name in FUNCTIONS:
                self.value(f"init.{name}.ms", f"{name} init, median (ms)", init and init["median"])
                self.value(f"init.{name}.ratio", f"{name} init / hello-lambda", ratios.get("init"))
                self.value(f"rss.{name}.mib", f"{name} peak RSS (MiB)", rss and rss["median"])
                ratio = ratios.get("init")
                self.goal_rows.append([
                    f"init {name} (spawn → first /next), median",
                    fmt(init["median"], 2, "ms") if init else "did not start",
                    fmt(base["init_ms"]["median"], 2, "ms") + " hello-lambda" if base.get("init_ms") else "—",
                    ratio_text(ratio), f"≤ {INIT_RATIO_GOAL}×",
                    verdict(None if ratio is None else ratio <= INIT_RATIO_GOAL) if init else "❌"])
        if base.get("init_ms"):
            self.value("init.hello-lambda.ms", "hello-lambda init, median (ms)", base["init_ms"]["median"])
        text = (
            "### Cold start\n\n"
            f"{data.get('runs')} starts per binary (after {data.get('warmup')} unrecorded), interleaved "
            "in random order, against bench/coldstart.py's Runtime API on 127.0.0.1; AWS settings point "
            "at a closed local port"
            + (", `AWS_MAX_ATTEMPTS=1`" if data.get("aws_max_attempts") == 1 else "")
            + ". init = spawn → first `/next`; invoke = that `/next` → the function's response "
            "(its backend is unreachable, so this is the error path); peak RSS = VmHWM after one "
            "invoke. median / p90 in ms.\n\n"
        )
        text += table(["binary", "init ms", "init ratio", "invoke ms", "peak RSS MiB", "RSS ratio",
                       "outcome"], rows)
        self.sections.append(text)

    # -- extract + chunk -----------------------------------------------------------
    def extract(self):
        rust = load(self.results / "extract-rust.json")
        python = load(self.results / "extract-python.json")
        problems = []
        if not rust or not rust.get("files"):
            problems.append(not_measured(rust, self.meta, "extract-rust", "askdocs extract + chunk"))
        if not python or not python.get("files"):
            problems.append(not_measured(python, self.meta, "extract-python", "LangChain extract + chunk"))

        # Files askdocs could not read are left out on both sides (and listed).
        unread = {Path(item["file"]).name: item["error"] for item in (rust or {}).get("files", []) if item.get("error")}

        def by_format(data):
            out = {}
            for item in (data or {}).get("files", []):
                if item.get("error") or Path(item["file"]).name in unread:
                    continue
                agg = out.setdefault(item["format"], {"bytes": 0, "pages": 0, "seconds": 0.0,
                                                      "chunks": 0, "files": 0})
                agg["bytes"] += item["bytes"]
                agg["pages"] += item.get("pages") or 0
                agg["seconds"] += item["seconds"]
                agg["chunks"] += item.get("chunks") or 0
                agg["files"] += 1
            return out

        r, p = by_format(rust), by_format(python)
        rows = []
        for fmt_name in ("pdf", "docx", "html", "txt"):
            a, b = r.get(fmt_name), p.get(fmt_name)
            if not a and not b:
                continue
            a_mbps = a["bytes"] / MB / a["seconds"] if a and a["seconds"] > 0 else None
            b_mbps = b["bytes"] / MB / b["seconds"] if b and b["seconds"] > 0 else None
            a_pps = a["pages"] / a["seconds"] if a and a["seconds"] > 0 else None
            b_pps = b["pages"] / b["seconds"] if b and b["seconds"] > 0 else None
            ratio = (b["seconds"] / a["seconds"]) if a and b and a["seconds"] > 0 else None
            rows.append([fmt_name, a and a["files"] or b["files"],
                         fmt((a or b)["bytes"] / MB, 2),
                         fmt(a_pps, 1) if fmt_name == "pdf" else "—",
                         fmt(b_pps, 1) if fmt_name == "pdf" else "—",
                         fmt(a_mbps, 2), fmt(b_mbps, 2), ratio_text(ratio),
                         f"{a['chunks'] if a else '—'} / {b['chunks'] if b else '—'}"])
            self.value(f"extract.{fmt_name}.rust_mbps", f"extract+chunk {fmt_name}, askdocs (MB/s)", a_mbps)
            self.value(f"extract.{fmt_name}.python_mbps", f"extract+chunk {fmt_name}, LangChain (MB/s)", b_mbps)
            self.value(f"extract.{fmt_name}.ratio", f"extract+chunk {fmt_name}, askdocs / LangChain", ratio)
            if fmt_name == "pdf":
                self.value("extract.pdf.rust_pps", "PDF pages/s, askdocs", a_pps)
                self.value("extract.pdf.python_pps", "PDF pages/s, LangChain", b_pps)
            speed = (fmt(a_pps, 1, "pages/s") + ", ") if fmt_name == "pdf" and a_pps else ""
            peer = (fmt(b_pps, 1, "pages/s") + ", ") if fmt_name == "pdf" and b_pps else ""
            mine = speed + fmt(a_mbps, 2, "MB/s") if a_mbps is not None else "not measured"
            theirs = peer + fmt(b_mbps, 2, "MB/s") + " LangChain" if b_mbps is not None else "not measured"
            if fmt_name == "txt":
                # Issue 10 sets an absolute goal for plain text (there is nothing to extract).
                self.goal_rows.append([
                    "plain-text chunking (TXT)", mine, theirs, ratio_text(ratio),
                    f"≥ {TEXT_MBPS_GOAL:g} MB/s", verdict(None if a_mbps is None else a_mbps >= TEXT_MBPS_GOAL)])
            else:
                self.goal_rows.append([
                    f"extract + chunk {fmt_name.upper()}", mine, theirs, ratio_text(ratio),
                    f"≥ {EXTRACT_RATIO_GOAL:g}×",
                    verdict(None if ratio is None else ratio >= EXTRACT_RATIO_GOAL)])
        text = "### Extract + chunk\n\n"
        if python and python.get("tool"):
            versions = ", ".join(f"{k} {v}" for k, v in (python.get("versions") or {}).items() if v)
            text += f"Peer: {python['tool']} ({versions}). "
        text += ("Time = load + split of each file in one process (median of repeats; interpreter start "
                 "and imports not counted for either side). pages/s only for PDF (the other formats have "
                 "no pages). Ratio = LangChain time / askdocs time.\n\n")
        if rows:
            text += table(["format", "files", "MB", "askdocs pages/s", "LangChain pages/s",
                           "askdocs MB/s", "LangChain MB/s", "speed-up", "chunks askdocs / LangChain"], rows)
        if unread:
            text += "\nNot read by askdocs (left out of the totals above on both sides): " + "; ".join(
                f"`{name}` ({error})" for name, error in sorted(unread.items())) + "\n\n"
        per_file = []
        rust_files = {Path(item["file"]).name: item for item in (rust or {}).get("files", []) if not item.get("error")}
        for item in (python or {}).get("files", []):
            mine = rust_files.get(Path(item["file"]).name)
            per_file.append([Path(item["file"]).name, item["format"], fmt(item["bytes"] / MB, 2),
                             item.get("pages"), fmt(mine["seconds"], 4) if mine else "—",
                             fmt(item["seconds"], 4), mine.get("chunks") if mine else "—", item.get("chunks")])
        if per_file:
            text += "\n\n<details><summary>per file</summary>\n\n" + table(
                ["file", "format", "MB", "pages", "askdocs s", "LangChain s", "askdocs chunks",
                 "LangChain chunks"], per_file) + "\n\n</details>"
        if problems:
            text += "\n\n" + "\n".join(f"- {line}" for line in problems)
        self.sections.append(text)

    # -- embedding -----------------------------------------------------------------
    def embedding(self):
        rust = load(self.results / "embed-rust.json")
        st = load(self.results / "embed-st.json")
        problems = []
        if not rust or rust.get("passages_per_second") is None:
            problems.append(not_measured(rust, self.meta, "embed-rust", "askdocs (minilm) embedding"))
            rust = {}
        if not st or st.get("passages_per_second") is None:
            problems.append(not_measured(st, self.meta, "embed-st", "sentence-transformers embedding"))
            st = {}
        a, b = rust.get("passages_per_second"), st.get("passages_per_second")
        ratio = a / b if a and b else None
        qa, qb = rust.get("query_p50_ms"), st.get("query_p50_ms")
        qratio = qb / qa if qa and qb else None
        self.value("embed.rust.pps", "embedding, askdocs (passages/s)", a)
        self.value("embed.st.pps", "embedding, sentence-transformers (passages/s)", b)
        self.value("embed.ratio", "embedding throughput, askdocs / sentence-transformers", ratio)
        self.value("embed.rust.query_ms", "one query, askdocs p50 (ms)", qa)
        self.value("embed.st.query_ms", "one query, sentence-transformers p50 (ms)", qb)
        self.goal_rows.append(["embedding, ~1,000-char passages, batch 32",
                               fmt(a, 1, "passages/s") if a else "not measured",
                               fmt(b, 1, "passages/s") + " sentence-transformers", ratio_text(ratio),
                               f"≥ {EMBED_RATIO_GOAL:g}×",
                               verdict(None if ratio is None else ratio >= EMBED_RATIO_GOAL)])
        self.goal_rows.append(["one-query embedding latency, p50", fmt(qa, 2, "ms") if qa else "not measured",
                               fmt(qb, 2, "ms") + " sentence-transformers", ratio_text(qratio),
                               f"≥ {EMBED_RATIO_GOAL:g}× (speed-up)",
                               verdict(None if qratio is None else qratio >= EMBED_RATIO_GOAL)])
        keys = ["passages", "mean_characters", "mean_tokens", "batch", "threads", "seconds", "cpu_seconds",
                "cores_busy", "passages_per_second", "query_p50_ms", "query_p90_ms", "load_seconds"]
        rows = [[key, fmt(rust.get(key)), fmt(st.get(key))] for key in keys
                if rust.get(key) is not None or st.get(key) is not None]
        text = ("### Embedding\n\nall-MiniLM-L6-v2 from the same files (.models/all-MiniLM-L6-v2), "
                "max 256 tokens, normalised vectors, the same passages (cut from the text manuals), "
                "batch 32, every core. Query latency: one short question per call, p50 of 50 after warm-up.")
        if st.get("versions"):
            text += " Peer: " + ", ".join(f"{k} {v}" for k, v in st["versions"].items() if v) + "."
        if st.get("reference_min_cosine") is not None:
            text += (f" The peer's vectors match tests/fixtures/minilm-reference.json "
                     f"(min cosine {st['reference_min_cosine']}).")
        if rows:
            text += "\n\n" + table(["", "askdocs (minilm)", "sentence-transformers (PyTorch)"], rows)
        if problems:
            text += "\n\n" + "\n".join(f"- {line}" for line in problems)
        self.sections.append(text)

    # -- retrieval (criterion) ---------------------------------------------------------
    def retrieval(self, criterion_dir: Path, since: float | None):
        rows = []
        measured = []
        for bench_file in sorted(glob.glob(str(criterion_dir / "**/new/benchmark.json"), recursive=True)):
            bench_path = Path(bench_file)
            estimates = bench_path.with_name("estimates.json")
            if since and estimates.exists() and estimates.stat().st_mtime < since:
                continue
            bench, est = load(bench_path), load(estimates)
            if not bench or not est:
                continue
            full_id = bench.get("full_id") or bench.get("title") or str(bench_path.parent.parent)
            median_ms = est["median"]["point_estimate"] / 1e6
            low = est["median"]["confidence_interval"]["lower_bound"] / 1e6
            high = est["median"]["confidence_interval"]["upper_bound"] / 1e6
            measured.append((full_id, median_ms, low, high))
        single = {full_id: median_ms for full_id, median_ms, _, _ in measured}
        for full_id, median_ms, low, high in measured:
            at_100k = "100k" in full_id.lower() or "100000" in full_id or "100_000" in full_id
            # N searches at once are held to "not serialised": all N finish
            # sooner than N one after another would (the issue's "concurrent
            # askers don't serialise"), not to the single search's 5 ms.
            concurrent = re.search(r"_(\d+)_at_once$", full_id)
            alone = single.get(full_id[: concurrent.start()]) if concurrent else None
            if concurrent and alone:
                count = int(concurrent.group(1))
                goal = f"< {count} × alone ({fmt(count * alone, 3)} ms): not serialised"
                met = median_ms < count * alone
            elif at_100k and not concurrent:
                goal = f"≤ {RETRIEVAL_P50_GOAL_MS:g} ms"
                met = median_ms <= RETRIEVAL_P50_GOAL_MS
            else:
                goal, met = "—", None
            rows.append([full_id, fmt(median_ms, 3), f"{fmt(low, 3)} – {fmt(high, 3)}", goal, verdict(met)])
            key = "retrieval." + "".join(ch if ch.isalnum() else "_" for ch in full_id).strip("_") + ".ms"
            self.value(key, f"retrieval {full_id} p50 (ms)", median_ms)
            if at_100k:
                self.goal_rows.append([f"retrieval {full_id}, p50", fmt(median_ms, 3, "ms"), "—", "—",
                                       goal, verdict(met)])
        text = ("### Retrieval\n\ncriterion (`cargo bench -p askdocs-shared --bench retrieval`): median "
                "time per search and its 95 % confidence interval, in ms; 384-d vectors, owner filter.\n\n")
        if rows:
            text += table(["benchmark", "median ms", "95 % CI", "goal", "met"], rows)
        else:
            text += not_measured(None, self.meta, "retrieval", "retrieval")
            self.goal_rows.append(["retrieval at 100k passages, p50", "not measured", "—", "—",
                                   f"≤ {RETRIEVAL_P50_GOAL_MS:g} ms", "—"])
        self.sections.append(text)

    # -- anything else -------------------------------------------------------------
    def missing_goals(self):
        """Issue 10's goals that no benchmark of this run measured (ask, load, ingest)."""
        keys = " ".join(self.values)
        if "ask." not in keys and "load." not in keys:
            self.goal_rows.append(["ask end to end: query-path overhead besides the model", "not measured",
                                   "—", "—", "≤ 2 ms", "—"])
            self.goal_rows.append(["ask p99 under load, 50 clients mixing ask/list/get/history",
                                   "not measured", "—", "—", "≤ 2 s", "—"])
        if "ingest." not in keys:
            self.goal_rows.append(["`askdocs ingest` of a folder of real documents", "not measured", "—",
                                   "—", "documents/min (no number set)", "—"])

    def extras(self):
        for path in sorted(self.results.glob("extra-*.json")):
            data = load(path)
            if not data:
                continue
            title = data.get("title") or path.stem
            if data.get("error"):
                self.sections.append(f"### {title}\n\nnot measured — {data['error']}")
                continue
            rows = []
            for row in data.get("rows", []):
                unit = row.get("unit", "")
                rows.append([row.get("what", row.get("key")), fmt(row.get("value"), 2, unit),
                             row.get("peer") or "—", ratio_text(row.get("ratio")),
                             row.get("goal") or "—", verdict(row.get("met"))])
                if row.get("key") and isinstance(row.get("value"), (int, float)):
                    self.value(row["key"], row.get("what", row["key"]) + (f" ({unit})" if unit else ""),
                               row["value"])
                if row.get("goal"):
                    self.goal_rows.append(rows[-1])
            text = f"### {title}\n\n" + (data.get("note", "") + "\n\n" if data.get("note") else "")
            self.sections.append(text + table(["measure", "value", "peer", "ratio", "goal", "met"], rows))


# ----------------------------------------------------------------------------- history


def history_table(history, current_key_labels):
    runs = history[-8:]
    keys = []
    for run in runs:
        for key in run.get("values", {}):
            if key not in keys:
                keys.append(key)
    labels = {}
    for run in runs:
        labels.update(run.get("labels", {}))
    labels.update(current_key_labels)
    order = ["size.", "init.", "rss.", "extract.", "embed.", "retrieval."]
    keys.sort(key=lambda key: next((i for i, prefix in enumerate(order) if key.startswith(prefix)),
                                   len(order)))
    headers = ["measure"]
    for run in runs:
        date = run.get("date", "")
        date = date[:10] if date[:1].isdigit() else ""
        headers.append(" ".join(part for part in (run.get("label"), date, run.get("commit")) if part))
    rows = []
    for key in keys:
        cells = [labels.get(key, key)]
        for run in runs:
            value = run.get("values", {}).get(key)
            cells.append(fmt(value, 2) if value is not None else "")
        rows.append(cells)
    return table(headers, rows)


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="write docs/benchmarks.md")
    parser.add_argument("--results", default=str(REPO / "target/bench"))
    parser.add_argument("--out", default=str(REPO / "docs/benchmarks.md"))
    parser.add_argument("--history", default=str(REPO / "bench/history.json"))
    parser.add_argument("--criterion", default=None,
                        help="criterion output (default: $CARGO_TARGET_DIR/criterion or target/criterion)")
    parser.add_argument("--label", default=os.environ.get("BENCH_LABEL", ""),
                        help="a name for this run in the before/after table (e.g. 'features split')")
    parser.add_argument("--no-record", action="store_true", help="do not append to the history")
    args = parser.parse_args(argv)

    results = Path(args.results)
    meta = load(results / "meta.json") or {}
    criterion = Path(args.criterion or Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "criterion")
    report = Report(results, meta)
    report.sizes()
    report.coldstart()
    report.extract()
    report.embedding()
    report.retrieval(criterion, meta.get("started_epoch"))
    report.extras()
    report.missing_goals()

    machine = meta.get("machine") or machine_info()
    date = meta.get("date") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    commit = meta.get("commit") or git_commit()
    quick = bool(meta.get("quick"))

    history_path = Path(args.history)
    history = load(history_path) or []
    entry = {"date": date, "commit": commit, "label": args.label or ("quick" if quick else ""),
             "quick": quick, "machine": f"{machine.get('cpu')} ×{machine.get('cores')}",
             "values": report.values, "labels": report.labels}
    record = not args.no_record and not quick and report.values
    shown_history = history + ([entry] if report.values else [])
    if record:
        history_path.write_text(json.dumps(history + [entry], indent=1, ensure_ascii=False) + "\n")

    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.sh → bench/report.py) — do not edit by hand; "
        "bench/README.md says what each benchmark does. Benchmarks are never part of `make test`.",
        "",
        "## This run",
        "",
        table(["", ""], [
            ["date", date],
            ["commit", commit or "—"],
            ["label", (args.label or "—") + (" (quick run: fewer repetitions, a subset of the documents)"
                                              if quick else "")],
            ["CPU", f"{machine.get('cpu')}, {machine.get('cores')} cores"],
            ["RAM", f"{machine.get('ram_gib')} GiB"],
            ["kernel / OS", f"{machine.get('kernel')} / {machine.get('os')}"],
            ["toolchains", f"{machine.get('rustc')}; Python {machine.get('python')}"],
            ["load average at start", meta.get("loadavg_start", "—")],
            ["wall time", f"{meta['total_seconds']:.0f} s" if meta.get("total_seconds") else "—"],
        ] + ([["note", meta["note"]]] if meta.get("note") else [])),
        "",
        "## Goals",
        "",
        "From issue 10. Ratios are measured side by side in the same run.",
        "",
        table(["measure", "askdocs", "peer / baseline", "ratio", "goal", "met"], report.goal_rows),
        "",
    ]
    # What stands in the way of each goal not met, and what was tried: kept by
    # hand in bench/findings.md (measurements belong here, reasons there).
    findings = REPO / "bench" / "findings.md"
    if findings.exists():
        lines += [findings.read_text(encoding="utf-8").rstrip("\n"), ""]
    lines += [
        "## Details",
        "",
        "\n\n".join(report.sections),
        "",
        "## Before / after",
        "",
        "Headline numbers of every recorded run (bench/history.json; the newest last, at most 8 shown). "
        "The first column comes from issue 10, measured by hand before `make bench` existed."
        if history and history[0].get("label", "").startswith("before") else
        "Headline numbers of every recorded run (bench/history.json; the newest last, at most 8 shown).",
        "",
        history_table(shown_history, report.labels) if shown_history else "No run recorded yet.",
        "",
    ]
    if meta.get("steps"):
        lines += ["## Commands", "", "What bench/run.sh ran, in order, with wall time and exit code:", ""]
        lines.append(table(["step", "command", "seconds", "exit"], [
            [step["name"], f"`{step['command']}`", fmt(step.get("seconds"), 1), step.get("status")]
            for step in meta["steps"]]))
        lines.append("")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"report: wrote {out}" + (f", recorded in {history_path}" if record else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
