#!/usr/bin/env python3
"""Makes a DOCX benchmark document from a Sphinx/plain-text manual, with python-docx.

    python bench/make_docx.py policy.txt policy.docx

No Debian package ships a DOCX manual, so bench/documents.sh makes them from
Debian's text manuals: a title underlined with ***, ===, --- or ~~~ becomes a
heading (level by the underline character, in order of appearance), a block of
lines separated by blank lines becomes one paragraph (its lines joined), and an
indented block (code, tables) keeps one paragraph per line. The output is
byte-for-byte reproducible for one python-docx version: every timestamp, in the
document's properties and in the zip, is fixed.
"""

import datetime
import io
import re
import sys
import zipfile

import docx  # python-docx

FIXED = datetime.datetime(2023, 1, 1, 0, 0, 0)
UNDERLINE = re.compile(r"^([*=\-~^\"#+])\1{2,}\s*$")


def blocks(text: str):
    block: list[str] = []
    for line in text.splitlines():
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []
    if block:
        yield block


def build(text: str) -> docx.Document:
    document = docx.Document()
    levels: list[str] = []
    for block in blocks(text):
        # a title: "Title" then "*****" (possibly with an overline too)
        lines = [line for line in block if not UNDERLINE.match(line)]
        marks = [UNDERLINE.match(line).group(1) for line in block if UNDERLINE.match(line)]
        if marks and len(lines) == 1:
            if marks[0] not in levels:
                levels.append(marks[0])
            document.add_heading(lines[0].strip(), level=min(levels.index(marks[0]) + 1, 9))
            continue
        if all(line.startswith((" ", "\t")) for line in block) and not block[0].lstrip().startswith("* "):
            for line in block:
                document.add_paragraph(line.strip())
        else:
            document.add_paragraph(" ".join(line.strip() for line in block))
    properties = document.core_properties
    properties.created = properties.modified = properties.last_printed = FIXED
    properties.author = properties.last_modified_by = "askdocs bench"
    properties.revision = 1
    return document


def reproducible_zip(data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8", errors="replace") as handle:
        document = build(handle.read())
    buffer = io.BytesIO()
    document.save(buffer)
    with open(target, "wb") as handle:
        handle.write(reproducible_zip(buffer.getvalue()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
