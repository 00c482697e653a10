"""Benchmark: what the answer step (sentence choice + confidence) adds to a search, in process.

    python -m eval.bench_answer [--index var/index] [--embedder e5-small] [--repeats 3]

Every gold question (eval/data/seed_qa.jsonl) is timed side by side, in one run: the hybrid
search alone, then search + ``answer`` with the sentence-vector cache emptied first (cold: every
shortlisted sentence is embedded, the cost of a question about a page nobody asked about yet),
then search + ``answer`` again (warm: the sentences are cached, as they are for repeated or
related questions). The query-vector cache is bypassed in all three, so each includes a real
query embedding. Reported: medians, p95 and the ratio of each median to the search-alone median.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does: no spinning OpenMP threads

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

from index.answer import Answerer, shipped_models
from index.embedders import DEFAULT_EMBEDDER
from index.sentences import SHORTLIST
from ingest.errors import AihubQaError
from service import runtime
from service.settings import settings_with

GOLD = Path(__file__).resolve().parent / "data" / "seed_qa.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="Index directory (default: $AIHUB_QA_INDEX_DIR or var/index).")
    parser.add_argument("--embedder", help=f"Embedder spec (default: $AIHUB_QA_EMBEDDER or {DEFAULT_EMBEDDER}).")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()

    questions = [json.loads(line)["question"] for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        searcher = runtime.open_searcher(settings_with(index_dir=args.index, embedder=args.embedder))
    except AihubQaError as exc:
        sys.exit(f"error: {exc}")
    embedder = searcher.embedder
    answerer = Answerer(searcher)  # what index.answer.answer runs, with its own sentence cache
    models = shipped_models()

    def answer(q: str) -> None:
        answerer.answer(searcher.search(q, k=5), models)

    for q in questions[:10]:  # warm-up: model, tokenizer, FAISS, BM25
        answer(q)

    def timed(fn: Callable[[], object]) -> float:
        embedder._cache.clear()  # a real query embedding every time
        started = time.perf_counter()
        fn()
        return (time.perf_counter() - started) * 1000

    def cold(q: str) -> None:
        answerer.vectors.clear()
        answer(q)

    search_ms: list[float] = []
    cold_ms: list[float] = []
    warm_ms: list[float] = []
    for _ in range(args.repeats):
        for q in questions:  # interleaved, so load on the machine hits all three alike
            search_ms.append(timed(partial(searcher.search, q, k=5)))
            cold_ms.append(timed(partial(cold, q)))
            warm_ms.append(timed(partial(answer, q)))

    table = Table(
        title=f"answer step, {len(questions)} questions × {args.repeats}, hybrid k=5, "
        f"{embedder.spec}, up to {SHORTLIST} sentences embedded (ms)"
    )
    for col in ("what", "median", "p95", "× search median"):
        table.add_column(col, justify="right" if col != "what" else "left")
    base = statistics.median(search_ms)
    for name, values in (
        ("search alone", search_ms),
        ("search + answer, cold sentence cache", cold_ms),
        ("search + answer, warm sentence cache", warm_ms),
    ):
        p95 = statistics.quantiles(values, n=20)[-1]
        table.add_row(name, f"{statistics.median(values):.1f}", f"{p95:.1f}", f"{statistics.median(values) / base:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
