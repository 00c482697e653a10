"""Answer matching and ranking metrics (via ranx) over ranked retrieval results."""

from __future__ import annotations

import math
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FIXED_METRICS: tuple[str, ...] = ("mrr@10", "ndcg@10")
_ALIAS_WIDTH = 12  # digits of the fixed-width doc-id aliases handed to ranx


def normalize_for_match(s: str) -> str:
    """NFKC, casefold, and drop all whitespace."""
    return "".join(unicodedata.normalize("NFKC", s).casefold().split())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """True if any non-blank answer occurs in `text` after normalize_for_match."""
    if isinstance(answers, str):
        raise TypeError("answers must be a sequence of strings, not a single str")
    hay = normalize_for_match(text)
    return any(needle and needle in hay for needle in map(normalize_for_match, answers))


@dataclass(frozen=True)
class ModeMetrics:
    """Mean metric values and per-query values ({qid: {metric: value}})."""

    values: dict[str, float]
    per_query: dict[str, dict[str, float]]


def metric_names(ks: Sequence[int]) -> list[str]:
    """Metric keys in report order: hit@k…, recall@k…, mrr@10, ndcg@10."""
    ks = _check_ks(ks)
    return [f"hit@{k}" for k in ks] + [f"recall@{k}" for k in ks] + list(FIXED_METRICS)


def compute_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    ks: Sequence[int],
) -> ModeMetrics:
    """hit@k and recall@k for each k, plus mrr@10 and ndcg@10, averaged over qrels queries.

    - Every qrels query counts, in qrels order. A query missing from `run` (or with an
      empty result list) scores 0; run queries absent from qrels are ignored.
    - A qrels query with no item of grade > 0 scores 0 on every metric and still counts
      in the mean (ranx itself cannot evaluate such queries when no others are judged).
    - Ranking follows the scores; equal scores may be reordered by ranx, so build runs
      from ranked lists with run_from_ranked().
    - nDCG uses ranx's "ndcg" (linear gain: rel / log2(rank + 1)).
    """
    names = metric_names(ks)
    if not qrels:
        raise ValueError("compute_metrics needs at least one query in qrels")
    per_query: dict[str, dict[str, float]] = {q: dict.fromkeys(names, 0.0) for q in qrels}
    judged = {
        q: {d: int(g) for d, g in rels.items() if int(g) > 0} for q, rels in qrels.items()
    }
    judged = {q: rels for q, rels in judged.items() if rels}
    sub_run = {q: {d: float(s) for d, s in run.get(q, {}).items()} for q in judged}
    if any(sub_run.values()):  # ranx cannot build a Run or Qrels with no entries at all
        for name, scores in _ranx_scores(judged, sub_run, names).items():
            for q, value in scores.items():
                per_query[q][name] = float(value)
    values = {n: math.fsum(pq[n] for pq in per_query.values()) / len(per_query) for n in names}
    return ModeMetrics(values=values, per_query=per_query)


def run_from_ranked(ids_by_query: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """Ranked id lists -> strictly decreasing scores n, n-1, …, 1 (repeats keep first rank)."""
    run: dict[str, dict[str, float]] = {}
    for q, ids in ids_by_query.items():
        if isinstance(ids, str):
            raise TypeError(f"ranked ids for {q!r} must be a sequence of ids, not a str")
        unique = list(dict.fromkeys(ids))
        run[q] = {d: float(len(unique) - i) for i, d in enumerate(unique)}
    return run


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """p50 and p95 (numpy linear-interpolated percentiles) of latencies in ms."""
    import numpy as np

    arr = np.asarray(ms, dtype=float)
    if arr.size == 0:
        raise ValueError("latency_summary needs at least one value")
    p50, p95 = np.percentile(arr, [50, 95])
    return {"p50": float(p50), "p95": float(p95)}


def _check_ks(ks: Sequence[int]) -> list[int]:
    if isinstance(ks, (str, bytes)) or not all(
        isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in ks
    ):
        raise ValueError(f"ks must be positive integers, got {ks!r}")
    return sorted(set(ks))


def _ranx_scores(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], names: list[str]
) -> dict[str, dict[str, float]]:
    """{our metric name: {qid: value}} from ranx (imported lazily: numba makes it slow)."""
    from ranx import Qrels, Run, evaluate

    # ranx stores doc ids in numpy "<U{longest id}" arrays and numba compiles its kernels
    # once per such width; fixed-width aliases keep a single compiled signature.
    alias: dict[str, str] = {}

    def fixed(doc_id: str) -> str:
        return alias.setdefault(doc_id, f"{len(alias):0{_ALIAS_WIDTH}d}")

    to_ranx = {n: n.replace("hit@", "hit_rate@", 1) for n in names}
    ranx_qrels = Qrels({q: {fixed(d): g for d, g in rels.items()} for q, rels in qrels.items()})
    ranx_run = Run({q: {fixed(d): s for d, s in docs.items()} for q, docs in run.items()})
    with warnings.catch_warnings():
        # numba warns once per JIT compile of ranx's MRR kernel; harmless.
        warnings.filterwarnings("ignore", message="unsafe cast from uint64 to int64")
        evaluate(ranx_qrels, ranx_run, list(to_ranx.values()), make_comparable=False)
    return {n: dict(ranx_run.scores[r]) for n, r in to_ranx.items()}
