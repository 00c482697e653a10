"""Answer a question with ranked passages: dense, BM25, or a fusion of both (index/fusion.py).

The question is embedded once and tokenized once; the vector and tokens are passed down to the
retrievers (index/retrievers.py) and kept in the result for whoever needs them next.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from index.embedders import BaseEmbedder
from index.errors import EmptyQuery, InvalidSetting
from index.fusion import FUSIONS, FusionConfig, fuse, order, scores_for
from index.highlight import PassageSentence, best_sentence, split_passage
from index.backend import SearchBackend
from index.passages import distinct_passages
from index.records import DocumentTable
from index.retrievers import Ranked
from index.tokenizers import Tokenizer, make_tokenizer
from ingest.documents import Chunk, Document

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
__all__ = ["FUSIONS", "MODES", "FusionConfig", "Hit", "SearchResult", "Searcher"]

# Passages split into tokenized sentences (PassageSentence, ~35 KB a passage: ~70 MB at most), read
# by highlighting and the answer step for every question that retrieves them.
PASSAGE_SENTENCE_CACHE = 2_000
TEXT_TOKEN_CACHE = 2_000  # whole passages tokenized (the answer step's passage coverage)

# Hybrid search runs the dense side (question embedding, then FAISS) here while BM25 runs in the
# caller's thread: the embedding engines and FAISS release the GIL, so with two cores a hybrid
# query costs about the slower of the two instead of their sum. Shared by every Searcher (one pool, not one per index).
_DENSE_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="dense-search")


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


@dataclass(frozen=True)
class PendingSearch:
    """A search whose dense side is under way (Searcher.start); finish() completes it (blocking)."""

    searcher: Searcher
    question: str
    k: int
    mode: str
    depth: int
    dense_future: Future[tuple[np.ndarray, Ranked]] | None
    started: float

    def finish(self) -> SearchResult:
        return self.searcher._finish(self)


class Searcher:
    """Holds a loaded index, its embedder and tokenizer; safe to share between threads."""

    def __init__(self, index: SearchBackend, embedder: BaseEmbedder, fusion: FusionConfig | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()
        self.tokenizer: Tokenizer = make_tokenizer(index.manifest.tokenizer)
        # Passages are split and tokenized for highlighting and again for the answer, and the same
        # passages come back for many questions: both read these caches (thread-safe).
        self.text_tokens: Callable[[str], Sequence[str]] = lru_cache(maxsize=TEXT_TOKEN_CACHE)(
            lambda text: tuple(self.tokenizer.tokenize(text))
        )
        self.passage_sentences: Callable[[str], tuple[PassageSentence, ...]] = lru_cache(
            maxsize=PASSAGE_SENTENCE_CACHE
        )(lambda text: split_passage(text, self.tokenizer.tokenize))
        self.dense = index.dense
        self.sparse = index.sparse

    @property
    def size(self) -> int:
        return self.index.size

    def search(
        self, question: str, k: int = 5, mode: str = "hybrid", query_vector: np.ndarray | None = None
    ) -> SearchResult:
        """`query_vector`, when given, is used instead of embedding the question."""
        return self.start(question, k, mode, query_vector).finish()

    def start(
        self, question: str, k: int = 5, mode: str = "hybrid", query_vector: np.ndarray | None = None
    ) -> PendingSearch:
        """Check the request and start the dense side (embedding the question, then FAISS) in the
        pool; `finish()` does the rest. Never blocks, so a server can start the embedding before it
        hands the request to a worker thread. Raises EmptyQuery / InvalidSetting at once."""
        started = time.perf_counter()
        question = question.strip()
        if not question:
            raise EmptyQuery("the question is empty")
        if mode not in MODES:
            raise InvalidSetting(f"unknown mode '{mode}'; use {', '.join(MODES)}")
        if k < 1:
            raise InvalidSetting(f"k must be at least 1, got {k}")
        depth = min(max(k, self.fusion.candidates), self.size)
        # The dense side runs in the pool while BM25 runs in finish()'s thread: BM25 needs no
        # vector, so its time hides behind the embedding's.
        dense_future = (
            _DENSE_POOL.submit(self._dense_side, question, query_vector, depth) if mode in ("dense", "hybrid") else None
        )
        return PendingSearch(self, question, k, mode, depth, dense_future, started)

    def _finish(self, pending: PendingSearch) -> SearchResult:
        question, mode, depth = pending.question, pending.mode, pending.depth
        tokens = self.tokenizer.tokenize(question)
        sparse = self.sparse.search(tokens, depth) if mode in ("bm25", "hybrid") and depth else Ranked.empty()
        spans: dict[str, tuple[int, int]] = {}  # highlight span by passage text
        idf: Callable[[str], float] | None = None
        if pending.dense_future is not None and mode == "hybrid":
            idf = self._idf_of(tokens)
            # While the question is still being embedded: highlight BM25's best passages, most of
            # which make the top k (the same spans _hits would compute after the wait).
            top = sparse.rows[: pending.k].tolist()
            for chunk in self.index.records.chunks_at(top) if top else []:
                if pending.dense_future.done():
                    break
                spans[chunk.text] = self._highlight(chunk.text, tokens, idf)
        qvec, dense = pending.dense_future.result() if pending.dense_future is not None else (None, Ranked.empty())
        if idf is None:
            idf = self._idf_of(tokens)

        if mode == "dense":
            ranked = order(list(zip(dense.rows.tolist(), dense.scores.tolist())))
        elif mode == "bm25":
            ranked = order(list(zip(sparse.rows.tolist(), sparse.scores.tolist())))
        else:
            ranked = fuse(dense, sparse, self.fusion)
        hits = self._hits(ranked, pending.k, mode, dense, sparse, tokens, idf, spans)
        took = (time.perf_counter() - pending.started) * 1000
        return SearchResult(question, mode, hits, took, tuple(tokens), qvec)

    def _dense_side(self, question: str, query_vector: np.ndarray | None, depth: int) -> tuple[np.ndarray, Ranked]:
        qvec = query_vector if query_vector is not None else self.embedder.embed_query(question)
        return qvec, self.dense.search(qvec, depth) if depth else Ranked.empty()

    def _idf_of(self, tokens: list[str]) -> Callable[[str], float]:
        return self.index.idf_many(list(dict.fromkeys(tokens))).__getitem__  # one lookup for every hit (Milvus: one query)

    def _highlight(self, text: str, tokens: list[str], idf: Callable[[str], float]) -> tuple[int, int]:
        return best_sentence(text, tokens, self.tokenizer.tokenize, idf, self.passage_sentences(text))

    def _hits(
        self,
        ranked: list[tuple[int, float]],
        k: int,
        mode: str,
        dense: Ranked,
        sparse: Ranked,
        tokens: list[str],
        idf: Callable[[str], float],
        spans: dict[str, tuple[int, int]],
    ) -> list[Hit]:
        """The k best distinct passages (overlapping chunks of one article merged), with their scores
        and highlights (`spans`: the ones already computed, by passage text)."""
        all_rows = [row for row, _ in ranked]
        chunk_of = dict(zip(all_rows, self.index.records.chunks_at(all_rows))) if all_rows else {}
        groups = distinct_passages(all_rows, chunk_of, DocumentTable(self.index.records), k)  # type: ignore[arg-type]
        score_of = dict(ranked)
        rows = np.array([g.rows[0] for g in groups], dtype=np.int64)
        dense_scores = scores_for(dense, rows) if mode != "bm25" else None
        bm25_scores = scores_for(sparse, rows) if mode != "dense" else None
        dense_ranks, bm25_ranks = dense.ranks(), sparse.ranks()
        hits = []
        for i, group in enumerate(groups):
            row, score, chunk = group.rows[0], score_of[group.rows[0]], group.chunk
            span = spans.get(chunk.text) or self._highlight(chunk.text, tokens, idf)
            hits.append(
                Hit(
                    rank=i + 1,
                    score=score,
                    dense_score=None if dense_scores is None else float(dense_scores[i]),
                    bm25_score=None if bm25_scores is None else float(bm25_scores[i]),
                    dense_rank=dense_ranks.get(row),
                    bm25_rank=bm25_ranks.get(row),
                    chunk=chunk,
                    document=self._document(chunk.doc_id),
                    highlight=span,
                    parts=group.parts,
                )
            )
        return hits

    def _document(self, doc_id: str) -> Document:
        doc = self.index.records.document(doc_id)
        if doc is None:  # a chunk always has its document; a backend that says otherwise is damaged
            raise LookupError(f"document {doc_id} of a retrieved chunk is missing from the index")
        return doc
