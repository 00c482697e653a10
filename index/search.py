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

from index.embedders import BaseEmbedder, QueryJob, Ready
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
Warm = Callable[[str, Sequence[str], str], None]  # (question, its tokens, a passage's text)

MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
__all__ = ["FUSIONS", "MODES", "FusionConfig", "Hit", "SearchResult", "Searcher"]

# Passages split into tokenized sentences (PassageSentence, ~35 KB a passage: ~70 MB at most), read
# by highlighting and the answer step for every question that retrieves them.
PASSAGE_SENTENCE_CACHE = 2_000
TEXT_TOKEN_CACHE = 2_000  # whole passages tokenized (the answer step's passage coverage)
# In hybrid mode, BM25's best EARLY_PASSAGES·k passages are highlighted and warmed while the question
# is embedded (as far as the embedding leaves time): fusion takes most of its top k from them.
EARLY_PASSAGES = 2


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


# A search's lexical side (tokens, BM25, the highlights of BM25's best passages) runs in this pool
# while the thread that finishes the search waits for the question's vector and then runs the
# dense search itself: no hop between threads once the vector is there, and on a large index, where
# BM25 can outlast the embedding, the dense search still runs beside it (the engines, FAISS and
# BM25's numpy work release the GIL). Shared by every Searcher.
_LEXICAL_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="lexical-search")


@dataclass(frozen=True)
class Lexical:
    """What a search computes without the question's vector."""

    tokens: list[str]
    sparse: Ranked
    spans: dict[str, tuple[int, int]]  # highlight span by passage text, of BM25's best passages (hybrid)
    idf: Callable[[str], float] | None  # looked up already (hybrid), else None


@dataclass(frozen=True)
class PendingSearch:
    """A search under way (Searcher.start); finish() completes it (blocking)."""

    searcher: Searcher
    question: str
    k: int
    mode: str
    depth: int
    query: QueryJob | None  # the question's embedding (None in bm25 mode)
    lexical: Future[Lexical] | None  # in the pool (None in bm25 mode: finish() computes it)
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
        self,
        question: str,
        k: int = 5,
        mode: str = "hybrid",
        query_vector: np.ndarray | None = None,
        warm: Warm | None = None,
    ) -> PendingSearch:
        """Check the request, start embedding the question and, beside it, the lexical side;
        `finish()` does the rest. Never blocks, so a server can start both before it hands the
        request to a worker thread. Raises EmptyQuery / InvalidSetting at once.

        `warm(question, tokens, text)` is called on BM25's best passages while the question is still
        being embedded (hybrid mode), for work a later step will want (index.answer.AnswerDraft)."""
        started = time.perf_counter()
        question = question.strip()
        if not question:
            raise EmptyQuery("the question is empty")
        if mode not in MODES:
            raise InvalidSetting(f"unknown mode '{mode}'; use {', '.join(MODES)}")
        if k < 1:
            raise InvalidSetting(f"k must be at least 1, got {k}")
        depth = min(max(k, self.fusion.candidates), self.size)
        # BM25 needs no vector: its time hides behind the embedding's.
        query = lexical = None
        if mode in ("dense", "hybrid"):
            query = Ready(query_vector) if query_vector is not None else self.embedder.start_query(question)
            lexical = _LEXICAL_POOL.submit(self._lexical, question, k, mode, depth, query, warm)
        return PendingSearch(self, question, k, mode, depth, query, lexical, started)

    def _finish(self, pending: PendingSearch) -> SearchResult:
        question, mode, depth = pending.question, pending.mode, pending.depth
        if pending.query is None:
            lexical = self._lexical(question, pending.k, mode, depth, None, None)
            qvec, dense = None, Ranked.empty()
        else:
            try:
                qvec = pending.query.result()
                dense = self.dense.search(qvec, depth) if depth else Ranked.empty()
            finally:  # the lexical side is always waited for: its warm calls end before the search does
                assert pending.lexical is not None
                lexical = pending.lexical.result()
        tokens, sparse, spans = lexical.tokens, lexical.sparse, lexical.spans
        idf = lexical.idf or self._idf_of(tokens)
        if mode == "dense":
            ranked = order(list(zip(dense.rows.tolist(), dense.scores.tolist())))
        elif mode == "bm25":
            ranked = order(list(zip(sparse.rows.tolist(), sparse.scores.tolist())))
        else:
            ranked = fuse(dense, sparse, self.fusion)
        hits = self._hits(ranked, pending.k, mode, dense, sparse, tokens, idf, spans)
        took = (time.perf_counter() - pending.started) * 1000
        return SearchResult(question, mode, hits, took, tuple(tokens), qvec)

    def _lexical(
        self, question: str, k: int, mode: str, depth: int, query: QueryJob | None, warm: Warm | None
    ) -> Lexical:
        """Tokens and BM25's list; in hybrid mode, while the question is still being embedded, the
        highlights and idf of BM25's best EARLY_PASSAGES·k passages, warmed."""
        tokens = self.tokenizer.tokenize(question)
        sparse = self.sparse.search(tokens, depth) if mode in ("bm25", "hybrid") and depth else Ranked.empty()
        spans: dict[str, tuple[int, int]] = {}
        if query is None or mode != "hybrid":
            return Lexical(tokens, sparse, spans, None)
        idf = self._idf_of(tokens)
        top = sparse.rows[: EARLY_PASSAGES * k].tolist()
        for chunk in self.index.records.chunks_at(top) if top else []:
            if query.done():
                break
            spans[chunk.text] = self._highlight(chunk.text, tokens, idf)
            if warm is not None and not query.done():
                warm(question, tokens, chunk.text)
        return Lexical(tokens, sparse, spans, idf)

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
