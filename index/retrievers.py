"""The two retrievers behind search, as small parts with one shape (as Pyserini keeps its dense,
sparse and hybrid searchers): each takes the query in its own form (a vector, tokens), returns its
best rows with scores, and can score any other row for the same query, which fusion needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from index.bm25 import BM25Index


@dataclass(frozen=True)
class Ranked:
    """One retriever's answer for one query: `rows` best first (ties: lower row first), their
    `scores`, and `score_of`, this retriever's exact score of any rows for the same query."""

    rows: np.ndarray
    scores: np.ndarray
    score_of: Callable[[np.ndarray], np.ndarray]

    def ranks(self) -> dict[int, int]:
        """Row → 1-based rank in this list (made once; do not change it)."""
        return self._ranks

    @cached_property
    def _ranks(self) -> dict[int, int]:
        return {row: rank for rank, row in enumerate(self.rows.tolist(), 1)}

    @cached_property
    def known(self) -> dict[int, float]:
        """Row → score: the listed rows, and every row looked up since (fusion.scores_for), so a
        row is scored once per query however many steps ask for it."""
        return dict(zip(self.rows.tolist(), self.scores.tolist()))

    @classmethod
    def empty(cls) -> Ranked:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), lambda rows: np.zeros(len(rows), np.float32))


class DenseRetriever:
    """Nearest passages by inner product: the search structure (exact or approximate) finds them,
    the memory-mapped vectors give exact scores for any other row."""

    def __init__(self, ann_index: Any, vectors: np.ndarray) -> None:
        self.ann_index = ann_index
        self.vectors = vectors

    def search(self, query_vector: np.ndarray, depth: int) -> Ranked:
        q = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(1, -1)
        _one_faiss_thread()
        scores, rows = self.ann_index.search(q, depth)
        keep = rows[0] >= 0  # FAISS pads with -1 when it finds fewer than `depth`
        rows, scores = rows[0][keep].astype(np.int64), scores[0][keep]
        order = np.lexsort((rows, -scores))
        return Ranked(rows[order], scores[order], lambda rows_: self.scores(query_vector, rows_))

    def scores(self, query_vector: np.ndarray, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, np.float32)
        order = np.argsort(rows)  # memory-mapped reads in file order
        out = np.empty(rows.size, dtype=np.float32)
        out[order] = np.asarray(self.vectors[rows[order]], dtype=np.float32) @ np.asarray(query_vector, np.float32)
        return out


class SparseRetriever:
    """BM25 over the index's tokens; passages with no query word are never returned."""

    def __init__(self, bm25: BM25Index) -> None:
        self.bm25 = bm25

    def search(self, query_tokens: Sequence[str], depth: int) -> Ranked:
        tokens = list(query_tokens)
        rows, scores = self.bm25.top(tokens, depth)
        return Ranked(rows, scores, lambda rows_: self.bm25.scores_at(tokens, rows_))


def _one_faiss_thread() -> None:
    """One query is searched on one core: FAISS's OpenMP threads only add overhead there. The
    OpenMP thread count belongs to the calling thread (a thread started later gets the default,
    every core), so it is set by the thread that searches: a request thread or the hybrid pool."""
    import faiss

    faiss.omp_set_num_threads(1)
