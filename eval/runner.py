"""Run every question of a dataset through each retrieval mode and score the rankings.

Modes (``--modes``):

- ``dense``, ``bm25``: one retriever alone.
- ``hybrid``: the Searcher's fusion as configured (``--fusion``, ``--bm25-weight``; by default
  ``FusionConfig()``, the product default).
- ``hybrid-rrf``, ``hybrid-convex``: hybrid with that fusion forced, the other settings kept,
  so both fusions can be compared side by side in one run.

Each question is searched to depth ``max(max(ks), 10)``. Latency is the Searcher's own
``took_ms`` (embedding the question, both retrievers, fusion and highlighting), measured with
the question's vector not yet cached, as for a question asked for the first time; one warm-up
search per mode is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from eval.datasets import EvalDataset
from eval.metrics import compute_metrics, latency_summary, metric_names, run_from_ranked
from eval.relevance import Judge
from index.embedders import BaseEmbedder
from index.search import FusionConfig, Searcher
from index.store import LoadedIndex
from ingest.errors import AihubQaError

MODE_NAMES: tuple[str, ...] = ("dense", "bm25", "hybrid", "hybrid-rrf", "hybrid-convex")
MIN_DEPTH = 10  # mrr@10 and ndcg@10 need ten passages whatever the ks
_WARM_UP = "warm-up question"

ModeProgress = Callable[[str, int, int], None]  # (mode name, questions done, questions in all)


class InvalidEvalOption(AihubQaError):
    """A --modes or --k value the evaluator does not accept."""


@dataclass(frozen=True)
class ModeSpec:
    name: str  # as requested: dense, bm25, hybrid, hybrid-rrf, hybrid-convex
    search_mode: str  # what Searcher.search is asked for: dense, bm25 or hybrid
    fusion: FusionConfig


@dataclass(frozen=True)
class RetrievedPassage:
    rank: int
    chunk_id: str
    doc_id: str
    score: float
    relevant: bool
    text: str


@dataclass(frozen=True)
class QueryOutcome:
    query_id: str
    latency_ms: float
    ranked: tuple[str, ...]  # judged unit ids, best first (chunk ids for jsonl, doc ids otherwise)
    first_relevant: int | None  # 1-based rank of the first relevant passage within the depth
    first_answer: int | None  # … of the first passage containing an answer
    first_doc: int | None  # … of the first passage from a listed document (jsonl only)
    passages: tuple[RetrievedPassage, ...]


@dataclass(frozen=True)
class ModeResult:
    spec: ModeSpec
    metrics: dict[str, float]  # mean over questions, in report order (see EvalRun.metric_names)
    latency_ms: dict[str, float]  # p50, p95
    per_query: dict[str, dict[str, float]]
    outcomes: tuple[QueryOutcome, ...]


@dataclass(frozen=True)
class EvalRun:
    dataset: EvalDataset
    ks: tuple[int, ...]
    depth: int
    unit_kind: str  # relevance.PASSAGE or relevance.DOCUMENT
    metric_names: tuple[str, ...]
    modes: tuple[ModeResult, ...]
    relevant: dict[str, tuple[str, ...]]  # query id -> relevant unit ids
    unjudgeable: tuple[str, ...]  # query ids with no relevant unit in the index (they score 0)
    seconds: float


def parse_ks(text: str) -> tuple[int, ...]:
    """'1,3,5,10' -> (1, 3, 5, 10): positive integers, sorted, duplicates dropped."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        ks = sorted({int(p) for p in parts})
    except ValueError:
        raise InvalidEvalOption(f"--k must be comma-separated positive integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise InvalidEvalOption(f"--k must be comma-separated positive integers, got {text!r}")
    return tuple(ks)


def parse_modes(text: str, fusion: FusionConfig) -> tuple[ModeSpec, ...]:
    """'dense,hybrid-rrf' -> mode specs, in the order given, duplicates dropped."""
    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise InvalidEvalOption(f"--modes is empty; use {', '.join(MODE_NAMES)}")
    specs = []
    for name in names:
        if name not in MODE_NAMES:
            raise InvalidEvalOption(f"unknown mode '{name}'; use {', '.join(MODE_NAMES)}")
        search_mode, _, method = name.partition("-")
        specs.append(ModeSpec(name, search_mode, replace(fusion, method=method) if method else fusion))
    return tuple(specs)


def extra_metric_names(dataset: EvalDataset, ks: Sequence[int]) -> list[str]:
    """answer_hit@k for external datasets with answers; doc_hit@k for jsonl with doc_ids."""
    if dataset.passages is not None and any(q.answers for q in dataset.queries):
        return [f"answer_hit@{k}" for k in ks]
    if dataset.passages is None and any(q.relevant_ids for q in dataset.queries):
        return [f"doc_hit@{k}" for k in ks]
    return []


class FreshQueryEmbedder(BaseEmbedder):
    """Wraps an embedder, remembering only the latest question's vector.

    The Searcher embeds a question twice in convex hybrid search (served from the cache the
    second time); other modes' earlier searches of the same question must not make it free.
    """

    def __init__(self, inner: BaseEmbedder) -> None:
        super().__init__(cache_size=1)
        self._inner = inner
        self.spec, self.dim, self.max_tokens = inner.spec, inner.dim, inner.max_tokens

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.embed_passages(texts)

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def describe(self) -> dict[str, Any]:
        return self._inner.describe()


def run_eval(
    dataset: EvalDataset,
    index: LoadedIndex,
    embedder: BaseEmbedder,
    modes: Sequence[ModeSpec],
    ks: Sequence[int],
    progress: ModeProgress | None = None,
) -> EvalRun:
    """Search every question in every mode; score with eval.metrics (ranx)."""
    started = time.perf_counter()
    ks = tuple(sorted(set(ks)))
    if not modes:
        raise InvalidEvalOption(f"no modes to run; use {', '.join(MODE_NAMES)}")
    depth = max(max(ks), MIN_DEPTH)
    judge = Judge(dataset, index.chunks)
    qrels = judge.qrels()
    names = metric_names(ks) + extra_metric_names(dataset, ks)
    fresh = FreshQueryEmbedder(embedder)
    results = []
    for spec in modes:
        searcher = Searcher(index, fresh, spec.fusion)
        searcher.search(_WARM_UP, k=depth, mode=spec.search_mode)
        outcomes = []
        for done, query in enumerate(dataset.queries, 1):
            outcomes.append(_search_one(searcher, judge, spec, query.id, query.question, depth))
            if progress:
                progress(spec.name, done, len(dataset.queries))
        results.append(_score(spec, outcomes, qrels, ks, names, judge))
    return EvalRun(
        dataset=dataset,
        ks=ks,
        depth=depth,
        unit_kind=judge.unit_kind,
        metric_names=tuple(names),
        modes=tuple(results),
        relevant={qid: tuple(rels) for qid, rels in qrels.items()},
        unjudgeable=tuple(qid for qid, rels in qrels.items() if not rels),
        seconds=time.perf_counter() - started,
    )


def _search_one(searcher: Searcher, judge: Judge, spec: ModeSpec, qid: str, question: str, depth: int) -> QueryOutcome:
    result = searcher.search(question, k=depth, mode=spec.search_mode)
    j = judge.judgements[qid]
    passages, ranked = [], []
    first_relevant = first_answer = first_doc = None
    for hit in result.hits:
        chunk = hit.chunk
        # A passage merged from overlapping chunks holds each part's text, so it stands for every
        # relevant part it covers (listed in a row), else for its best-ranked part. The first
        # relevant unit's position is still the passage's rank (hit@k, MRR exact).
        units = list(dict.fromkeys(judge.unit(part) for part in hit.parts or (chunk,)))
        covered = [u for u in units if u in j.units]
        relevant = bool(covered)
        ranked.extend(covered or units[:1])
        passages.append(RetrievedPassage(hit.rank, chunk.id, chunk.doc_id, hit.score, relevant, chunk.text))
        if relevant and first_relevant is None:
            first_relevant = hit.rank
        if first_answer is None and j.answers and judge.contains_answer(chunk, j):
            first_answer = hit.rank
        if first_doc is None and chunk.doc_id in j.doc_ids:
            first_doc = hit.rank
    return QueryOutcome(qid, result.took_ms, tuple(ranked), first_relevant, first_answer, first_doc, tuple(passages))


def _score(
    spec: ModeSpec,
    outcomes: list[QueryOutcome],
    qrels: dict[str, dict[str, int]],
    ks: tuple[int, ...],
    names: list[str],
    judge: Judge,
) -> ModeResult:
    scored = compute_metrics(qrels, run_from_ranked({o.query_id: o.ranked for o in outcomes}), ks)
    per_query = {qid: dict(values) for qid, values in scored.per_query.items()}
    values = dict(scored.values)
    for name in names:
        if name not in values:
            hits = _extra_hits(name, outcomes, judge)
            for qid, value in hits.items():
                per_query[qid][name] = value
            values[name] = sum(hits.values()) / len(hits) if hits else 0.0
    return ModeResult(
        spec=spec,
        metrics={n: values[n] for n in names},
        latency_ms=latency_summary([o.latency_ms for o in outcomes]),
        per_query=per_query,
        outcomes=tuple(outcomes),
    )


def _extra_hits(name: str, outcomes: Sequence[QueryOutcome], judge: Judge) -> dict[str, float]:
    """answer_hit@k or doc_hit@k per question, over the questions with answers or doc ids."""
    kind, _, k = name.rpartition("@")
    if kind == "answer_hit":
        ranks = {o.query_id: o.first_answer for o in outcomes if judge.judgements[o.query_id].answers}
    else:
        ranks = {o.query_id: o.first_doc for o in outcomes if judge.judgements[o.query_id].doc_ids}
    return {qid: float(rank is not None and rank <= int(k)) for qid, rank in ranks.items()}


def summary_json(run: EvalRun) -> dict[str, Any]:
    """The --json document: dataset, format, number of questions, metrics per mode."""
    return {
        "dataset": run.dataset.name,
        "format": run.dataset.format,
        "queries": len(run.dataset.queries),
        "modes": {
            m.spec.name: {**{n: round(m.metrics[n], 4) for n in run.metric_names}, "latency_ms": {
                k: round(v, 2) for k, v in m.latency_ms.items()
            }}
            for m in run.modes
        },
    }
