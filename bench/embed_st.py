#!/usr/bin/env python3
"""sentence-transformers (PyTorch, CPU) on askdocs' model files: the embedding peer.

Loads the plain Hugging Face BERT directory that askdocs uses
(.models/all-MiniLM-L6-v2: config.json, tokenizer.json, model.safetensors).
With no modules.json there, sentence-transformers builds Transformer + mean
pooling itself, which is all-MiniLM-L6-v2's own pipeline; max_seq_length is set
to the model's 256 (the bare tokenizer.json says 128) and every vector is
L2-normalised (normalize_embeddings=True), as askdocs does. Before timing, the
vectors are checked against tests/fixtures/minilm-reference.json (cosine >= 0.999).

    .venv-bench/bin/python bench/embed_st.py --json --passages-file P.json
    .venv-bench/bin/python bench/embed_st.py --json --make-passages P.json --passages 512 FILE...

Measures, with every core (torch.set_num_threads(os.cpu_count())):
  passages_per_second  encode(all passages, batch_size=32), after one warm-up batch
  query_p50_ms         encode([one short query]) one at a time, p50 over 50 queries
Prints {"passages_per_second", "query_p50_ms", ...} as JSON.

--make-passages writes the passages instead (and --write-queries the ten timed queries): ~1,000-character passages cut by
LangChain's RecursiveCharacterTextSplitter(1000, 150) from the given text files
(JSON list of strings), so that askdocs' `bench-embed --passages-file` embeds
the very same texts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUERIES = [
    "What does error code E-4012 mean?",
    "How do I configure the network interface?",
    "Who maintains the package?",
    "Where are configuration files stored?",
    "How are shell variables expanded?",
    "What is a virtual package?",
    "How do I upload a new version?",
    "Which directories must not be written to?",
    "What does the here document do?",
    "How to report a bug?",
]


def make_passages(files: list[str], count: int, out: Path, queries_out: Path | None) -> int:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=150)
    passages: list[str] = []
    for name in files:
        text = Path(name).read_text(encoding="utf-8", errors="replace")
        passages += [piece for piece in splitter.split_text(text) if len(piece) >= 800]
    if len(passages) < count:
        print(f"embed_st: only {len(passages)} passages of 800+ characters in the files", file=sys.stderr)
        return 1
    # spread over all files rather than the first one only
    step = len(passages) / count
    chosen = [passages[int(i * step)] for i in range(count)]
    out.write_text(json.dumps(chosen))
    if queries_out:
        queries_out.write_text(json.dumps(QUERIES))
    mean = sum(map(len, chosen)) / len(chosen)
    print(f"embed_st: wrote {count} passages (mean {mean:.0f} characters) to {out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="sentence-transformers embedding timing")
    parser.add_argument("files", nargs="*", help="text files to cut passages from (--make-passages)")
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    parser.add_argument("--model-dir", default=os.environ.get(
        "ASKDOCS_MODEL_DIR", str(REPO / ".models/all-MiniLM-L6-v2")))
    parser.add_argument("--passages-file", help="JSON list of passages to embed")
    parser.add_argument("--make-passages", metavar="OUT", help="write passages to OUT and stop")
    parser.add_argument("--write-queries", metavar="OUT",
                        help="with --make-passages: also write the timed queries (JSON list) to OUT")
    parser.add_argument("--queries-file", help="JSON list of queries to time (default: the built-in ten)")
    parser.add_argument("--passages", type=int, default=512, help="passages to use (default 512)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--reference", default=str(REPO / "tests/fixtures/minilm-reference.json"))
    args = parser.parse_args(argv)

    if args.make_passages:
        return make_passages(args.files, args.passages, Path(args.make_passages),
                             Path(args.write_queries) if args.write_queries else None)
    if not args.passages_file:
        parser.error("--passages-file is required (or --make-passages)")

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = SentenceTransformer(args.model_dir, device="cpu")
    model.max_seq_length = 256
    load_seconds = time.perf_counter() - started
    model.eval()

    # The same model as askdocs' embedder?
    reference = json.loads(Path(args.reference).read_text())
    texts = [item["text"] for item in reference["items"]]
    expected = np.array([item["embedding"] for item in reference["items"]], dtype=np.float32)
    got = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    cosine = float(np.min(np.sum(got * expected, axis=1)))
    if cosine < 0.999:
        print(f"embed_st: vectors differ from the reference (min cosine {cosine:.4f})", file=sys.stderr)
        return 1

    passages = json.loads(Path(args.passages_file).read_text())[: args.passages]
    queries = json.loads(Path(args.queries_file).read_text()) if args.queries_file else QUERIES
    tokens = model.tokenizer(passages, truncation=True, max_length=256)["input_ids"]
    mean_tokens = sum(map(len, tokens)) / len(tokens)

    with torch.inference_mode():
        model.encode(passages[: args.batch], batch_size=args.batch, normalize_embeddings=True)
        start_cpu = time.process_time()
        start = time.perf_counter()
        vectors = model.encode(passages, batch_size=args.batch, normalize_embeddings=True,
                               convert_to_numpy=True)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - start_cpu

        latencies = []
        for i in range(5):  # warm-up for the single-query path
            model.encode([queries[i % len(queries)]], normalize_embeddings=True)
        for i in range(args.queries):
            query = queries[i % len(queries)]
            start = time.perf_counter()
            model.encode([query], normalize_embeddings=True)
            latencies.append((time.perf_counter() - start) * 1000)

    versions = {}
    for name in ("sentence-transformers", "torch", "transformers", "tokenizers", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    out = {
        "tool": "sentence-transformers (PyTorch CPU)",
        "versions": versions,
        "model_dir": args.model_dir,
        "reference_min_cosine": round(cosine, 5),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "passages": len(passages),
        "mean_characters": round(sum(map(len, passages)) / len(passages), 1),
        "mean_tokens": round(mean_tokens, 1),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "cores_busy": round(cpu_seconds / seconds, 2),
        "passages_per_second": round(len(passages) / seconds, 2),
        "query_p50_ms": round(statistics.median(latencies), 3),
        "query_p90_ms": round(sorted(latencies)[int(0.9 * len(latencies)) - 1], 3),
        "load_seconds": round(load_seconds, 3),
        "dimensions": int(vectors.shape[1]),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
