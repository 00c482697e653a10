"""Scale benchmark of the storage backends: the same synthetic corpus on the local index and on Milvus.

    python -m eval.bench_milvus --passages 100000 --queries 200 [--uri var/bench-milvus.db]

Each backend runs in its own process (so RAM is its own): it builds the index of `--passages`
synthetic passages (60 words drawn from a Zipf law over a 50,000-word vocabulary; random unit
vectors of dimension 384 seeded by the text, as e5-small's: the figures are about storage and
search, not the model), then answers `--queries` questions of 5 such words in hybrid mode, with the query
vector given (query embedding excluded). Printed as a table: build (incl. hashing vectors) in
passages/s, hybrid p50/p95 ms, and the resident memory of the process (plus, for milvus-lite, of
its server process) after the queries.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384
TOKENIZER = "whitespace"
WORDS_PER_PASSAGE = 60
VOCABULARY = 50_000


class SyntheticEmbedder:
    """Random unit vectors seeded by the text (fast; a passage always gets the same vector)."""

    def __new__(cls):  # type: ignore[no-untyped-def]
        import zlib

        from index.embedders import BaseEmbedder

        class _Synthetic(BaseEmbedder):
            spec, dim, max_tokens = f"synthetic:{DIM}", DIM, 512

            def _encode_queries(self, texts: list[str]) -> np.ndarray:
                out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(DIM) for t in texts])
                return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

            _encode_passages = _encode_queries

            def _count_tokens(self, text: str) -> int:
                return len(text.split())

            def describe(self) -> dict[str, object]:
                return {"spec": self.spec, "dim": DIM, "max_tokens": 512, "backend": "synthetic", "model": "random"}

        return _Synthetic()


def synthetic_documents(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    from ingest.documents import Document

    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, size=(n, WORDS_PER_PASSAGE)), VOCABULARY)
    return [
        Document(f"doc{i:07d}", f"문서 {i}", "bench", None, None, None, " ".join(f"w{r}" for r in row))
        for i, row in enumerate(ranks)
    ]


def questions(k: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=(k, 5)), VOCABULARY) + rng.integers(0, 50, size=(k, 5))
    return [" ".join(f"w{r}" for r in row) for row in ranks]


def rss_mb(pid: int, children: bool) -> float:
    """Resident memory of a process (and its child processes) from /proc (Linux)."""

    def rss(p: int) -> int:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    pids = [pid]
    if children:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(stat.parent.name))
    return sum(rss(p) for p in pids) / 2**20


def run_one(backend: str, n: int, n_queries: int, workdir: Path) -> dict[str, float]:
    import os

    from index.manifest import CorpusRecord
    from index.search import Searcher
    from index.tokenizers import make_tokenizer

    docs = synthetic_documents(n)
    embedder, tokenizer = SyntheticEmbedder(), make_tokenizer(TOKENIZER)
    corpus = CorpusRecord(path=None, hash=f"synthetic-{n}")
    started = time.perf_counter()
    if backend == "milvus":
        from index.milvus_search import open_milvus
        from index.milvus_store import MilvusConfig, build_milvus

        config = MilvusConfig(str(workdir / "bench.db"), "bench")
        build_milvus(docs, config, embedder, tokenizer, None, corpus)
        build_s = time.perf_counter() - started
        index = open_milvus(config, embedder.spec)
    else:
        from index.store import build_index, load_index

        build_index(docs, workdir / "local", embedder, tokenizer, None, corpus)
        build_s = time.perf_counter() - started
        index = load_index(workdir / "local", embedder.spec)
    del docs
    searcher = Searcher(index, embedder)
    qs = questions(n_queries)
    vectors = [embedder.embed_query(q) for q in qs]
    for q, v in zip(qs[:5], vectors[:5]):
        searcher.search(q, k=10, mode="hybrid", query_vector=v)  # warm-up
    took = [searcher.search(q, k=10, mode="hybrid", query_vector=v).took_ms for q, v in zip(qs, vectors)]
    took.sort()
    return {
        "passages": n,
        "build_s": round(build_s, 1),
        "build_per_s": round(n / build_s, 1),
        "hybrid_p50_ms": round(statistics.median(took), 2),
        "hybrid_p95_ms": round(took[int(0.95 * (len(took) - 1))], 2),
        "rss_mb": round(rss_mb(os.getpid(), children=backend == "milvus"), 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backend", choices=["local", "milvus", "both"], default="both")
    parser.add_argument("--workdir", type=Path, default=None, help="Where indexes are built (default: a temporary folder).")
    args = parser.parse_args()
    if args.backend != "both":
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-milvus-"))
        try:
            print(json.dumps(run_one(args.backend, args.passages, args.queries, workdir)))
        finally:
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
        return
    rows = {}
    for backend in ("local", "milvus"):
        print(f"{backend}: building {args.passages} passages and asking {args.queries} questions …", file=sys.stderr)
        cmd = [sys.executable, "-m", "eval.bench_milvus", "--backend", backend,
               "--passages", str(args.passages), "--queries", str(args.queries)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.passages} synthetic passages, {args.queries} hybrid queries (query embedding excluded)")
    for column in ("backend", "build passages/s", "hybrid p50 ms", "hybrid p95 ms", "RSS MB"):
        table.add_column(column, justify="right")
    for backend, r in rows.items():
        table.add_row(backend, str(r["build_per_s"]), str(r["hybrid_p50_ms"]), str(r["hybrid_p95_ms"]), str(r["rss_mb"]))
    Console().print(table)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
