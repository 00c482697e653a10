"""Answer a question with ranked passages: dense (FAISS), BM25, or a fusion of both.

Fusions (for mode ``hybrid``):
- ``convex``: per query, each retriever's scores over the union of both candidate lists are
  min-max normalised to [0, 1]; fused = w·bm25 + (1−w)·dense.
- ``rrf``: reciprocal rank fusion, Σ 1/(k + rank) over the retrievers that returned the passage.
Ties always break by index row (corpus order), so results are reproducible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from index.embedders import BaseEmbedder
from index.errors import EmptyQuery, InvalidSetting
from index.highlight import best_sentence
from index.passages import distinct_passages
from index.store import LoadedIndex
from index.tokenizers import Tokenizer, make_tokenizer
from ingest.documents import Chunk, Document

Mode = Literal["hybrid", "dense", "bm25"]
Fusion = Literal["convex", "rrf"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
FUSIONS: tuple[str, ...] = ("convex", "rrf")


@dataclass(frozen=True)
class FusionConfig:
    method: str = "convex"
    bm25_weight: float = 0.6  # convex only: weight of BM25 (dense gets 1 − weight)
    rrf_k: int = 60
    candidates: int = 50  # passages taken from each retriever before fusing

    def __post_init__(self) -> None:
        if self.method not in FUSIONS:
            raise InvalidSetting(f"unknown fusion '{self.method}'; use {' or '.join(FUSIONS)}")
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise InvalidSetting(f"bm25 weight must be between 0 and 1, got {self.bm25_weight}")
        if self.rrf_k < 1 or self.candidates < 1:
            raise InvalidSetting("rrf_k and candidates must be positive")


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float  # the mode's score: cosine (dense), BM25, or the fused score
    dense_score: float | None
    bm25_score: float | None
    dense_rank: int | None  # 1-based rank in that retriever's candidate list, None if outside it
    bm25_rank: int | None
    chunk: Chunk
    document: Document
    highlight: tuple[int, int]  # offsets of the best sentence inside chunk.text
    parts: tuple[Chunk, ...] = ()  # the index chunks merged into `chunk`, best-ranked first


@dataclass(frozen=True)
class SearchResult:
    question: str
    mode: str
    hits: list[Hit]
    took_ms: float
    query_tokens: tuple[str, ...] = ()  # the question as the BM25 tokenizer saw it
    query_vector: np.ndarray | None = None  # the question's embedding (None in bm25 mode)


class Searcher:
    """Holds a loaded index, its embedder and tokenizer; safe to share between threads."""

    def __init__(self, index: LoadedIndex, embedder: BaseEmbedder, fusion: FusionConfig | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()
        self.tokenizer: Tokenizer = make_tokenizer(index.manifest["tokenizer"])

    @property
    def size(self) -> int:
        return len(self.index.chunks)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> SearchResult:
        started = time.perf_counter()
        question = question.strip()
        if not question:
            raise EmptyQuery("the question is empty")
        if mode not in MODES:
            raise InvalidSetting(f"unknown mode '{mode}'; use {', '.join(MODES)}")
        if k < 1:
            raise InvalidSetting(f"k must be at least 1, got {k}")
        query_tokens = self.tokenizer.tokenize(question)
        n = self.size
        depth = min(max(k, self.fusion.candidates), n)

        dense: dict[int, float] = {}
        dense_rank: dict[int, int] = {}
        bm25: dict[int, float] = {}
        bm25_rank: dict[int, int] = {}
        all_bm25: np.ndarray | None = None
        qvec: np.ndarray | None = None
        if n and mode in ("dense", "hybrid"):
            qvec = self.embedder.embed_query(question)
            scores, rows = self.index.faiss_index.search(qvec.reshape(1, -1), depth)
            ranked = _order([(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0])
            for rank, (row, score) in enumerate(ranked, 1):
                dense[row], dense_rank[row] = score, rank
        if n and mode in ("bm25", "hybrid"):
            all_bm25 = self.index.bm25.scores(query_tokens)
            top = np.argsort(-all_bm25, kind="stable")[:depth]
            ranked = [(int(r), float(all_bm25[r])) for r in top if all_bm25[r] > 0]
            for rank, (row, score) in enumerate(ranked, 1):
                bm25[row], bm25_rank[row] = score, rank

        if mode == "dense":
            fused = list(dense.items())
        elif mode == "bm25":
            fused = list(bm25.items())
        else:
            fused = self._fuse(question, dense, dense_rank, bm25, bm25_rank, all_bm25)
        scores_of = dict(fused)
        groups = distinct_passages([row for row, _ in _order(fused)], self.index.chunks, self.index.documents, k)

        hits: list[Hit] = []
        for rank, group in enumerate(groups, 1):
            row, score, chunk = group.rows[0], scores_of[group.rows[0]], group.chunk
            span = best_sentence(chunk.text, query_tokens, self.tokenizer.tokenize, self.index.bm25.idf)
            hits.append(
                Hit(
                    rank=rank,
                    score=score,
                    dense_score=dense.get(row) if mode != "bm25" else None,
                    bm25_score=(float(all_bm25[row]) if all_bm25 is not None else None) if mode != "dense" else None,
                    dense_rank=dense_rank.get(row),
                    bm25_rank=bm25_rank.get(row),
                    chunk=chunk,
                    document=self.index.documents[chunk.doc_id],
                    highlight=span,
                    parts=group.parts,
                )
            )
        took_ms = (time.perf_counter() - started) * 1000
        return SearchResult(question, mode, hits, took_ms, tuple(query_tokens), qvec)

    def _fuse(
        self,
        question: str,
        dense: dict[int, float],
        dense_rank: dict[int, int],
        bm25: dict[int, float],
        bm25_rank: dict[int, int],
        all_bm25: np.ndarray | None,
    ) -> list[tuple[int, float]]:
        rows = sorted(set(dense) | set(bm25))
        if self.fusion.method == "rrf":
            k = self.fusion.rrf_k
            return [
                (row, sum(1.0 / (k + r[row]) for r in (dense_rank, bm25_rank) if row in r)) for row in rows
            ]
        # Convex: exact scores of both retrievers for every candidate, then min-max per query.
        qvec = self.embedder.embed_query(question)
        for row in rows:
            if row not in dense:
                dense[row] = float(self.index.vectors[row] @ qvec)
        d = _minmax(np.array([dense[r] for r in rows], dtype=np.float64))
        b = _minmax(np.array([float(all_bm25[r]) if all_bm25 is not None else 0.0 for r in rows], dtype=np.float64))
        w = self.fusion.bm25_weight
        return [(row, float(w * b[i] + (1 - w) * d[i])) for i, row in enumerate(rows)]


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _order(pairs: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Highest score first; equal scores keep corpus order (lower row first)."""
    return sorted(pairs, key=lambda p: (-p[1], p[0]))
