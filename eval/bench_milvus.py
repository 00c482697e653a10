"""The storage backends side by side: the scale benchmark on milvus-lite and the local index, and KorQuAD parity.

    python -m eval.bench_milvus --passages 100000 [--queries 200] [--local-ann auto] [--json]
    python -m eval.bench_milvus --korquad [PATH] [--limit N] [--modes dense,bm25,hybrid] [--json]

Scale (``--passages``): the synthetic corpus of ``eval.bench_scale`` (Korean token streams stitched
from real tokenized sentences, vectors from the mixture fitted to real passage vectors, queries
near a target passage with its BM25 tokens), built once into the local index (``--local-ann``,
one row per value: ``auto`` is what the service builds, HNSW from 50,000 passages; ``flat`` is
exact like milvus-lite) and synced into milvus-lite (FLAT: the only exact index it has). Then,
per backend, a fresh process opens the index as the service does and times ``Searcher.search``
mode by mode with the query vector given (query embedding excluded). Printed as a table: build
time and rate (vectors given, so tokenizing and writing), milvus-lite's insert rate (its
insert calls alone), open time, resident memory after the queries (for milvus-lite with its
server process), dense/BM25/hybrid p50 and hybrid p95 wall-clock, hybrid CPU time per query
(the server process included: on a shared machine wall time also counts waiting for a core),
and dense recall@10 against exact search. Work files live in ``--dir`` (default
var/bench-milvus/<N>) and are removed unless ``--keep``.

KorQuAD parity (``--korquad``): ``eval.backend_parity`` evaluates the dataset on both backends with
the same vectors (default embedder, passages indexed with their titles as ``aihub-qa eval``
does) and prints every metric of every mode side by side, the largest absolute difference, and
how many questions got a different ranking. The local index is cached in ``--cache`` and the
Milvus collections in ``--uri`` (AIHUB_QA_EVAL_CACHE_DIR, AIHUB_QA_MILVUS_URI), both reused by
later runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.synthetic import KORQUAD_DEV, ROOT

K = 10
WARMUP = 20
MODES = ("dense", "bm25", "hybrid")
COLLECTION = "bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- /proc: memory and CPU


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _family(pid: int) -> list[int]:
    """A process and its descendants (milvus-lite runs its server as a child process)."""
    family, todo = [], [pid]
    while todo:
        p = todo.pop()
        family.append(p)
        todo.extend(_children(p))
    return family


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes, from /proc (Linux)."""
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total / 2**20


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (all their threads), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


def disk_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


# --------------------------------------------------------------------------- scale: build


class StageClock:
    """A build's progress callback that logs every 10 s and remembers when each stage began and ended."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.stages: dict[str, list[float]] = {}
        self._last = 0.0
        self._previous = self.started  # a stage began when the one before it last reported

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        span = self.stages.setdefault(stage, [self._previous, now])
        span[1] = self._previous = now
        if done == total or now - self._last > 10:
            self._last = now
            log(f"{self.label}: {stage} {done:,}/{total:,} ({now - self.started:.0f} s)")

    def seconds(self, stage: str) -> float | None:
        span = self.stages.get(stage)
        return None if span is None else span[1] - span[0]


def milvus_config(work: Path) -> Any:
    from index.ann import AnnConfig
    from index.milvus_store import MilvusConfig

    return MilvusConfig(str(work / "milvus.db"), COLLECTION, ann=AnnConfig(type="auto"))


def build_local(documents: list[Any], vectors: np.ndarray, kind: str, ann: str, directory: Path) -> dict[str, Any]:
    from eval.bench_scale import SyntheticEmbedder, SyntheticTokenizer
    from index.ann import AnnConfig
    from index.manifest import CorpusRecord
    from index.store import build_index

    clock = StageClock(f"local {ann}")
    build_index(
        documents, directory, SyntheticEmbedder(vectors, None, kind), SyntheticTokenizer(), chunking=None,
        corpus=CorpusRecord(path=None, hash=f"synthetic-{kind}-{len(documents)}"), progress=clock, ann=AnnConfig(type=ann),
    )
    seconds = time.perf_counter() - clock.started
    return {"build_s": round(seconds, 1), "build_per_s": round(len(documents) / seconds, 1), "insert_per_s": None,
            "disk_mb": round(disk_mb(directory))}


def build_milvus_lite(documents: list[Any], vectors: np.ndarray, kind: str, work: Path) -> dict[str, Any]:
    from eval.bench_scale import SyntheticEmbedder, SyntheticTokenizer
    from index.manifest import CorpusRecord
    from index.milvus_store import WRITING, build_milvus

    config = milvus_config(work)
    clock = StageClock("milvus-lite")
    report = build_milvus(
        documents, config, SyntheticEmbedder(vectors, None, kind), SyntheticTokenizer(), None,
        CorpusRecord(path=None, hash=f"synthetic-{kind}-{len(documents)}"), progress=clock,
    )
    seconds = time.perf_counter() - clock.started
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(config.uri)  # the measuring process opens the file next
    writing = clock.seconds(WRITING)
    return {
        "build_s": round(seconds, 1),
        "build_per_s": round(len(documents) / seconds, 1),
        "insert_per_s": round(report.chunks_written / writing, 1) if writing else None,
        "disk_mb": round(disk_mb(Path(config.uri))),
        "ann": report.ann,
    }


# --------------------------------------------------------------------------- scale: open + search (fresh process)


def measure(work: Path, backend: str, kind: str) -> dict[str, Any]:
    """Open the index as the service does; time each mode over every query (query vector given)."""
    from eval.bench_scale import SyntheticEmbedder, SyntheticTokenizer, hit_row
    from index.search import Searcher
    from index.tokenizers import TOKENIZERS

    TOKENIZERS[SyntheticTokenizer.name] = SyntheticTokenizer  # the Searcher makes it from the manifest's name
    data = np.load(work / "queries.npz")
    qvec, truth, texts = data["vectors"], data["truth"], [str(t) for t in data["texts"]]
    started = time.perf_counter()
    if backend == "milvus":
        import faiss  # noqa: F401  (the service has it loaded whatever the backend)

        from index.milvus_search import open_milvus

        index: Any = open_milvus(milvus_config(work))
    else:
        from index.store import load_index

        index = load_index(work / backend)
    open_s = time.perf_counter() - started
    searcher = Searcher(index, SyntheticEmbedder(None, qvec, kind))
    out: dict[str, Any] = {"open_s": round(open_s, 2), "index": index.manifest.ann.type}
    found = []
    for mode in MODES:
        for i in range(WARMUP):
            searcher.search(texts[i % len(texts)], K, mode, query_vector=qvec[i % len(texts)])
        family = _family(os.getpid())
        cpu0 = cpu_s(family)
        took = []
        for i, text in enumerate(texts):
            t0 = time.perf_counter()
            result = searcher.search(text, K, mode, query_vector=qvec[i])
            took.append((time.perf_counter() - t0) * 1000)
            if mode == "dense":
                found.append([hit_row(h) for h in result.hits])
        out[f"{mode}_cpu_ms"] = round((cpu_s(family) - cpu0) * 1000 / len(texts), 2)
        out[f"{mode}_p50_ms"] = round(float(np.percentile(took, 50)), 2)
        out[f"{mode}_p95_ms"] = round(float(np.percentile(took, 95)), 2)
    out["recall_at_10"] = round(float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth)])), 4)
    family = _family(os.getpid())
    out["rss_mb"] = round(rss_mb(family))
    out["server_rss_mb"] = round(rss_mb(family[1:]))
    return out


def run_scale(args: argparse.Namespace) -> list[dict[str, Any]]:
    from eval.bench_scale import generate

    work = args.dir or ROOT / "var" / "bench-milvus" / str(args.passages)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    rows = []
    try:
        korquad = None if str(args.korquad_pool) == "none" else args.korquad_pool
        documents, vectors = generate(args.passages, args.vectors, args.queries, work, korquad)
        built: dict[str, dict[str, Any]] = {"milvus": build_milvus_lite(documents, vectors, args.vectors, work)}
        log(f"milvus-lite: built in {built['milvus']['build_s']} s")
        for ann in args.local_ann:
            built[f"local-{ann}"] = build_local(documents, vectors, args.vectors, ann, work / f"local-{ann}")
            log(f"local {ann}: built in {built[f'local-{ann}']['build_s']} s")
        del documents, vectors
        for backend, build in built.items():
            log(f"{backend}: opening and asking {args.queries} questions per mode …")
            child = subprocess.run(
                [sys.executable, "-m", "eval.bench_milvus", "--measure", backend, "--dir", str(work), "--vectors", args.vectors],
                stdout=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
            )
            if child.returncode != 0:
                raise SystemExit(f"bench_milvus: measuring {backend} failed (exit {child.returncode})")
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append({"backend": "milvus-lite" if backend == "milvus" else "local", "passages": args.passages,
                         "queries": args.queries, **build, **measured})
            log(f"{backend}: {json.dumps(rows[-1])}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def scale_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    def cell(value: Any) -> str:
        return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    n, q = rows[0]["passages"], rows[0]["queries"]
    table = Table(title=f"{n:,} synthetic passages (eval.bench_scale's), {q} queries per mode, query embedding excluded",
                  title_justify="left")
    columns = [
        ("backend", "backend"), ("index", "index"), ("build s", "build_s"), ("build passages/s", "build_per_s"),
        ("insert passages/s", "insert_per_s"), ("open s", "open_s"), ("RSS MB", "rss_mb"), ("disk MB", "disk_mb"),
        ("dense p50 ms", "dense_p50_ms"), ("BM25 p50 ms", "bm25_p50_ms"), ("hybrid p50 ms", "hybrid_p50_ms"),
        ("hybrid p95 ms", "hybrid_p95_ms"), ("hybrid CPU ms/query", "hybrid_cpu_ms"), ("recall@10", "recall_at_10"),
    ]
    for title, _ in columns:
        table.add_column(title, justify="left" if title in ("backend", "index") else "right")
    for r in rows:
        table.add_row(*(cell(r.get(key)) for _, key in columns))
    return table


# --------------------------------------------------------------------------- KorQuAD parity


def run_parity(args: argparse.Namespace) -> Any:
    from eval.backend_parity import compare_backends
    from eval.datasets import default_title_context, load_dataset
    from eval.runner import parse_ks, parse_modes
    from index.embedders import make_embedder
    from index.milvus_store import MilvusConfig
    from index.search import FusionConfig
    from index.tokenizers import make_tokenizer

    data = load_dataset(args.korquad, limit=args.limit)
    if data.passages is None:
        raise SystemExit(f"bench_milvus: {args.korquad} has no corpus of its own (use a SQuAD/KorQuAD, AutoRAG or BEIR dataset)")
    title_context = default_title_context(data)
    config = MilvusConfig(args.uri or MilvusConfig().uri)
    clock = StageClock("parity")
    log(f"{data.name}: {len(data.queries)} questions over {len(data.passages)} passages, embedder {args.embedder}")
    return compare_backends(
        data, make_embedder(args.embedder), make_tokenizer(args.tokenizer), title_context, args.cache, config,
        parse_modes(args.modes, FusionConfig()), parse_ks(args.k), progress=clock, batch_queries=args.batch_questions,
    )


def parity_json(parity: Any) -> dict[str, Any]:
    return {
        "dataset": parity.local.dataset.name,
        "queries": len(parity.local.dataset.queries),
        "metrics": [{"mode": m, "metric": name, "local": round(a, 6), "milvus": round(b, 6)}
                    for m, name, a, b in parity.metric_rows()],
        "max_abs_diff": parity.max_abs_diff,
        "differing_questions": {m: len(q) for m, q in parity.differing_questions().items()},
        "max_score_diff": parity.max_score_diff(),
    }


def parity_table(parity: Any) -> Any:
    from rich.table import Table

    run = parity.local
    table = Table(title=f"{run.dataset.name}: {len(run.dataset.queries)} questions, local vs milvus-lite",
                  title_justify="left")
    table.add_column("mode")
    modes = [m.spec.name for m in run.modes]
    for mode in modes:
        table.add_column(f"{mode} local", justify="right")
        table.add_column(f"{mode} milvus", justify="right")
    values = {(m, name): (a, b) for m, name, a, b in parity.metric_rows()}
    for name in run.metric_names:
        table.add_row(name, *(f"{v:.4f}" for mode in modes for v in values[(mode, name)]))
    differing = parity.differing_questions()
    table.add_row("rankings differ", *(str(len(differing[mode])) if side == "local" else "" for mode in modes
                                        for side in ("local", "milvus")))
    scores = parity.max_score_diff()
    table.add_row("max |score diff|", *(f"{scores[mode]:.2e}" if side == "local" else "" for mode in modes
                                         for side in ("local", "milvus")))
    table.caption = f"largest absolute difference of any metric: {parity.max_abs_diff:.6f}"
    return table


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    from index.embedders import DEFAULT_EMBEDDER
    from index.tokenizers import DEFAULT_TOKENIZER

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, help="scale benchmark: this many synthetic passages")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--local-ann", default="auto",
                        help="comma-separated dense index types for the local backend (auto, flat, hnsw, ivf): one row each")
    parser.add_argument("--vectors", choices=("realistic", "random"), default="realistic")
    parser.add_argument("--korquad-pool", type=Path, default=KORQUAD_DEV,
                        help="scale: KorQuAD dev file whose paragraphs join the sentence pool ('none': corpus only)")
    parser.add_argument("--dir", type=Path, help="scale: work directory (default var/bench-milvus/<N>)")
    parser.add_argument("--keep", action="store_true", help="scale: keep the indexes afterwards")
    parser.add_argument("--korquad", type=Path, nargs="?", const=KORQUAD_DEV,
                        help=f"parity: evaluate this dataset on both backends [default file: {KORQUAD_DEV}]")
    parser.add_argument("--limit", type=int, help="parity: only the first N questions")
    parser.add_argument("--modes", default=",".join(MODES), help="parity: modes as in aihub-qa eval")
    parser.add_argument("--k", default="1,5,10", help="parity: cut-offs as in aihub-qa eval")
    parser.add_argument("--batch-questions", action="store_true",
                        help="parity: embed the questions ahead in batches (faster; the figures may then differ from "
                        "aihub-qa eval's in the last digits, identically on both backends)")
    parser.add_argument("--embedder", default=os.environ.get("AIHUB_QA_EMBEDDER", DEFAULT_EMBEDDER))
    parser.add_argument("--tokenizer", default=os.environ.get("AIHUB_QA_TOKENIZER", DEFAULT_TOKENIZER))
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("AIHUB_QA_EVAL_CACHE_DIR", "var/eval-cache")),
                        help="parity: where the local index of the dataset is kept")
    parser.add_argument("--uri", default=os.environ.get("AIHUB_QA_MILVUS_URI"),
                        help="parity: milvus-lite file or server [default: AIHUB_QA_MILVUS_URI, else var/milvus.db]")
    parser.add_argument("--json", action="store_true", help="print one JSON document as the last line")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the process that opens and searches
    args = parser.parse_args(argv)

    if args.measure:
        print(json.dumps(measure(args.dir, args.measure, args.vectors)))
        return
    if (args.passages is None) == (args.korquad is None):
        parser.error("give --passages N (scale) or --korquad [PATH] (parity)")
    from rich.console import Console

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 250)
    if args.korquad is not None:
        parity = run_parity(args)
        out.print(parity_table(parity))
        if args.json:
            print(json.dumps(parity_json(parity), ensure_ascii=False))
        return
    if args.passages < 1 or args.queries < 1:
        parser.error("--passages and --queries must be positive")
    args.local_ann = [a.strip() for a in args.local_ann.split(",") if a.strip()]
    rows = run_scale(args)
    out.print(scale_table(rows))
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
