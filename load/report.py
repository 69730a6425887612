"""Turns locust's CSV statistics into the table docs/reliability.md keeps.

    python load/report.py STATS_PREFIX META.json OUT.md [--record docs/reliability.md]

Prints the table, writes it (with the run's machine, date and command) to
OUT.md, and with --record replaces the "latest run" block of the document.
Exits 1 when any request failed.
"""

import csv
import json
import pathlib
import sys

BEGIN = "<!-- load-test:latest:begin -->"
END = "<!-- load-test:latest:end -->"
ORDER = [
    "POST /query/ask",
    "GET /documents",
    "GET /documents/{id}",
    "GET /query/history",
    "direct upload (?fileName=)",
    "POST /documents/upload",
    "PUT upload URL",
]


def ms(value):
    value = float(value or 0)
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def main():
    prefix, meta_path, out_path = sys.argv[1:4]
    record = sys.argv[sys.argv.index("--record") + 1] if "--record" in sys.argv else None
    meta = json.loads(pathlib.Path(meta_path).read_text())
    with open(f"{prefix}_stats.csv", newline="") as stats_file:
        rows = list(csv.DictReader(stats_file))
    by_name = {row["Name"]: row for row in rows}
    names = [n for n in ORDER if n in by_name] + sorted(
        n for n in by_name if n not in ORDER and n != "Aggregated")
    names.append("Aggregated")

    lines = [
        "| operation | requests | errors | p50 | p90 | p99 | max | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    failures = 0
    for name in names:
        row = by_name.get(name)
        if row is None:
            continue
        label = "**all**" if name == "Aggregated" else f"`{name}`"
        if name == "Aggregated":
            failures = int(row["Failure Count"])
        lines.append(
            f"| {label} | {row['Request Count']} | {row['Failure Count']} | {ms(row['50%'])} | "
            f"{ms(row['90%'])} | {ms(row['99%'])} | {ms(row['Max Response Time'])} | "
            f"{float(row['Requests/s']):.1f} |")
    table = "\n".join(lines)

    errors = []
    failures_csv = pathlib.Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with failures_csv.open(newline="") as f:
            for row in csv.DictReader(f):
                errors.append(f"- {row['Occurrences']}× `{row['Name']}`: {row['Error'][:300]}")

    block = "\n".join([
        f"Run on {meta['date']} — `{meta['command']}`",
        "",
        f"- machine: {meta['machine']}",
        f"- build: {meta['build']}",
        f"- load: {meta['clients']} clients, {meta['duration']} s, think time {meta['think']} s "
        f"between requests; each client its own account with {meta['documents']} ready documents",
        f"- setup (untimed): {meta['setup']}",
        f"- server peak resident memory: {meta['peak_rss']}",
        "",
        table,
        "",
        ("Errors:\n" + "\n".join(errors)) if errors else "Errors: none.",
    ])
    pathlib.Path(out_path).write_text(block + "\n")
    print(block)

    if record:
        doc = pathlib.Path(record)
        text = doc.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            doc.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")
            print(f"\nrecorded in {record}", file=sys.stderr)
        else:
            print(f"\n{record} has no {BEGIN} … {END} block; not recorded", file=sys.stderr)
    sys.exit(1 if failures or errors else 0)


if __name__ == "__main__":
    main()
