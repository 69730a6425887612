#!/usr/bin/env python3
"""Extract + chunk with the Python pipeline that peer RAG projects use.

The peer of askdocs' processing step, per format, with LangChain's loaders
(langchain-community) and LangChain's RecursiveCharacterTextSplitter with
askdocs' passage size (chunk_size=1000, chunk_overlap=150):

    PDF   PyPDFLoader          (pypdf; one Document per page)
    DOCX  Docx2txtLoader       (docx2txt)
    HTML  BSHTMLLoader         (BeautifulSoup with the lxml parser, get_text())
    TXT   TextLoader           (utf-8)

    .venv-bench/bin/python bench/python_pipeline.py --json FILE...

prints the same shape as `askdocs bench-extract --json`:
    {"files":[{"file","format","bytes","pages","chunks","seconds"}], ...}
`seconds` is the median over --repeat runs of load + split for that file
(imports and interpreter start are not counted). pages is the number of
Documents the loader returns: PDF pages, 1 for the other formats.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 150
FORMATS = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".txt": "txt", ".md": "txt"}


def loader_for(path: Path, fmt: str):
    from langchain_community.document_loaders import (
        BSHTMLLoader,
        Docx2txtLoader,
        PyPDFLoader,
        TextLoader,
    )

    if fmt == "pdf":
        return PyPDFLoader(str(path))
    if fmt == "docx":
        return Docx2txtLoader(str(path))
    if fmt == "html":
        return BSHTMLLoader(str(path), open_encoding="utf-8")
    return TextLoader(str(path), encoding="utf-8")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("langchain-community", "langchain-text-splitters", "langchain-core", "pypdf",
                 "docx2txt", "beautifulsoup4", "lxml"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="LangChain extract + chunk timing")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file; the median is kept")
    parser.add_argument("--min-seconds", type=float, default=0.0,
                        help="repeat a file until this much time was spent on it (small files)")
    args = parser.parse_args(argv)

    # pypdf warns (on stderr, through logging) about fonts it cannot fully decode
    # without fontTools; the warnings are built either way, only not printed here.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    results = []
    for name in args.files:
        path = Path(name)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            print(f"python_pipeline: {path}: unsupported suffix", file=sys.stderr)
            return 2
        times: list[float] = []
        pages = chunks = characters = 0
        spent = 0.0
        while len(times) < max(1, args.repeat) or spent < args.min_seconds:
            start = time.perf_counter()
            documents = loader_for(path, fmt).load()
            pieces = splitter.split_documents(documents)
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            spent += elapsed
            pages, chunks = len(documents), len(pieces)
            characters = sum(len(doc.page_content) for doc in documents)
        results.append({
            "file": str(path),
            "format": fmt,
            "bytes": path.stat().st_size,
            "pages": pages,
            "chunks": chunks,
            "characters": characters,
            "seconds": statistics.median(times),
            "runs": len(times),
        })
        print(f"python_pipeline: {path.name}: {pages} pages, {chunks} chunks, "
              f"{statistics.median(times):.3f} s", file=sys.stderr)

    out = {
        "tool": "langchain (PyPDFLoader, Docx2txtLoader, BSHTMLLoader, TextLoader) + "
                f"RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP})",
        "versions": versions(),
        "cpu_count": os.cpu_count(),
        "files": results,
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
