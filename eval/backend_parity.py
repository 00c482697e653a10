"""Both storage backends side by side on one external dataset (SQuAD/KorQuAD, AutoRAG, BEIR).

The dataset's corpus is indexed on the local backend (``eval.cache.ensure_dataset_index``) and
synced into Milvus (``eval.cache.ensure_dataset_milvus``); every question then goes through
``eval.runner.run_eval`` on each, in every mode. Both backends get exactly the same vectors: the
passages' from the local index (embedded once) and each question's embedded once, one at a time
as the Searcher does (or ahead, in batches), so a difference in the metrics comes from storage and search alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.cache import dataset_documents, ensure_dataset_index, ensure_dataset_milvus
from eval.datasets import EvalDataset
from eval.runner import EvalRun, ModeSpec, run_eval
from index.embedders import BaseEmbedder
from index.milvus_store import MilvusConfig
from index.store import passages_of
from index.tokenizers import Tokenizer

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class RecordedVectors(BaseEmbedder):
    """An embedder that hands out vectors it has seen before: passages from a built index (by their
    embedded text), questions from the first time each was embedded by `inner`."""

    def __init__(self, inner: BaseEmbedder, passages: dict[str, np.ndarray]) -> None:
        super().__init__(cache_size=1)
        self._inner = inner
        self._passages = passages
        self._queries: dict[str, np.ndarray] = {}
        self.spec, self.dim, self.max_tokens = inner.spec, inner.dim, inner.max_tokens

    def remember_queries(self, texts: Sequence[str], batch: int = 64, progress: Callable[[int, int], None] | None = None) -> None:
        """Embed questions ahead, `batch` at a time (much faster than one by one; a vector may then
        differ from the one-by-one one in the last digits, but both backends get the same)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._queries]
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            self._queries.update(zip(part, self._inner.embed_queries(part)))
            if progress:
                progress(min(start + batch, len(todo)), len(todo))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        for text in texts:
            if text not in self._queries:
                self._queries[text] = self._inner.embed_queries([text])[0]
        return np.stack([self._queries[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._passages]
        if missing:
            for text, vector in zip(missing, self._inner.embed_passages(missing)):
                self._passages[text] = vector
        return np.stack([self._passages[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def describe(self) -> dict[str, Any]:
        return self._inner.describe()


@dataclass(frozen=True)
class BackendParity:
    """The two runs of one dataset and how they differ."""

    local: EvalRun
    milvus: EvalRun

    def metric_rows(self) -> list[tuple[str, str, float, float]]:
        """(mode, metric, local value, milvus value) for every mode and metric."""
        rows = []
        for a, b in zip(self.local.modes, self.milvus.modes):
            for name in self.local.metric_names:
                rows.append((a.spec.name, name, a.metrics[name], b.metrics[name]))
        return rows

    @property
    def max_abs_diff(self) -> float:
        return max((abs(a - b) for _, _, a, b in self.metric_rows()), default=0.0)

    def max_score_diff(self) -> dict[str, float]:
        """Per mode, the largest absolute difference between the scores of the passages both
        backends ranked at the same place (same passage) for the same question."""
        out = {}
        for a, b in zip(self.local.modes, self.milvus.modes):
            passages_b = {o.query_id: o.passages for o in b.outcomes}
            out[a.spec.name] = max(
                (abs(p.score - q.score) for o in a.outcomes for p, q in zip(o.passages, passages_b[o.query_id])
                 if p.chunk_id == q.chunk_id),
                default=0.0,
            )
        return out

    def differing_questions(self) -> dict[str, list[str]]:
        """Per mode, the questions whose ranked passages (ids, in order) differ between the backends."""
        out = {}
        for a, b in zip(self.local.modes, self.milvus.modes):
            ranked_b = {o.query_id: [p.chunk_id for p in o.passages] for o in b.outcomes}
            out[a.spec.name] = [o.query_id for o in a.outcomes if [p.chunk_id for p in o.passages] != ranked_b[o.query_id]]
        return out


def compare_backends(
    data: EvalDataset,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    title_context: bool,
    cache: Path,
    milvus: MilvusConfig,
    specs: Sequence[ModeSpec],
    ks: Sequence[int],
    progress: Progress | None = None,
    batch_queries: bool = False,
) -> BackendParity:
    """Index `data`'s corpus on both backends and evaluate every mode on each. Questions are embedded
    one at a time as `aihub-qa eval` does, or ahead in batches with `batch_queries`."""
    if data.passages is None:
        raise ValueError(f"dataset {data.name} has no corpus of its own: compare the backends on the project's index instead")
    local = ensure_dataset_index(data, cache, embedder, tokenizer, title_context, progress=progress)
    _, inputs = passages_of(dataset_documents(data), embedder, None, title_context)
    vectors = np.asarray(local.index.vectors)
    shared = RecordedVectors(embedder, {text: vectors[row] for row, text in enumerate(inputs)})
    remote = ensure_dataset_milvus(data, milvus, shared, tokenizer, title_context, progress=progress)
    if batch_queries:
        step = None if progress is None else (lambda done, total: progress("embedding questions", done, total))
        shared.remember_queries([q.question for q in data.queries], progress=step)

    def run(index: Any, backend: str) -> EvalRun:
        step = None if progress is None else (lambda mode, done, total: progress(f"{backend} {mode}", done, total))
        return run_eval(data, index, shared, specs, ks, progress=step)

    return BackendParity(run(local.index, "local"), run(remote.index, "milvus"))
