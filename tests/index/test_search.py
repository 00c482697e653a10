"""Search modes, fusion arithmetic, tie order, highlights and errors (fast: hash embedder, real BM25 + FAISS)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from index.errors import EmptyQuery, InvalidSetting
from index.highlight import best_sentence, sentence_spans
from index.search import FusionConfig, Searcher
from index.store import build_corpus_index, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig


@pytest.fixture()
def searcher(small_corpus: Path, tmp_path: Path, hash_embedder) -> Searcher:
    build_corpus_index(small_corpus, tmp_path / "idx", hash_embedder, make_tokenizer("mecab"), ChunkingConfig(40, 8))
    return Searcher(load_index(tmp_path / "idx"), hash_embedder)


def test_bm25_finds_the_passage_with_the_words(searcher: Searcher) -> None:
    result = searcher.search("사관학교 수료생은 몇 명?", k=3, mode="bm25")
    top = result.hits[0]
    assert top.chunk.doc_id == "b" and "155명" in top.chunk.text
    assert top.dense_score is None and top.bm25_score == top.score > 0 and top.bm25_rank == 1
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert all(h.score > 0 for h in result.hits)  # passages sharing no word are not returned


def test_dense_ranks_by_cosine(searcher: Searcher) -> None:
    question = "서울은 오늘 맑고 기온은 영상 10도다."
    result = searcher.search(question, k=searcher.size, mode="dense")
    q = searcher.embedder.embed_query(question)
    expected = sorted(range(searcher.size), key=lambda r: (-float(searcher.index.vectors[r] @ q), r))
    assert [searcher.index.chunks.index(h.chunk) for h in result.hits] == expected
    assert all(h.bm25_score is None and h.dense_score == pytest.approx(h.score) for h in result.hits)


def test_convex_fusion_is_the_weighted_sum_of_min_max_normalised_scores(searcher: Searcher) -> None:
    question = "데이터센터 연산 능력"
    w = 0.6
    s = Searcher(searcher.index, searcher.embedder, FusionConfig("convex", w))
    result = s.search(question, k=searcher.size, mode="hybrid")
    q = s.embedder.embed_query(question)
    dense = searcher.index.vectors @ q
    bm25 = searcher.index.bm25.scores(s.tokenizer.tokenize(question))
    norm = lambda x: (x - x.min()) / (x.max() - x.min())  # noqa: E731
    expected = w * norm(bm25) + (1 - w) * norm(dense)
    for hit in result.hits:
        row = searcher.index.chunks.index(hit.chunk)
        assert hit.score == pytest.approx(expected[row], abs=1e-6)
        assert hit.dense_score == pytest.approx(dense[row], abs=1e-6) and hit.bm25_score == pytest.approx(bm25[row])
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert result.hits[0].chunk.doc_id == "a"


def test_rrf_fusion(searcher: Searcher) -> None:
    s = Searcher(searcher.index, searcher.embedder, FusionConfig("rrf", rrf_k=60))
    result = s.search("데이터센터 연산 능력", k=searcher.size, mode="hybrid")
    for hit in result.hits:
        expected = sum(1 / (60 + r) for r in (hit.dense_rank, hit.bm25_rank) if r is not None)
        assert hit.score == pytest.approx(expected)


def test_weight_extremes_reproduce_each_retriever(searcher: Searcher) -> None:
    q = "사관학교 수료생 경쟁률"
    only_bm25 = Searcher(searcher.index, searcher.embedder, FusionConfig("convex", 1.0)).search(q, k=2)
    bm25_ids = [h.chunk.id for h in searcher.search(q, k=2, mode="bm25").hits]
    assert bm25_ids and [h.chunk.id for h in only_bm25.hits][: len(bm25_ids)] == bm25_ids
    only_dense = Searcher(searcher.index, searcher.embedder, FusionConfig("convex", 0.0)).search(q, k=2)
    assert [h.chunk.id for h in only_dense.hits] == [h.chunk.id for h in searcher.search(q, k=2, mode="dense").hits]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_ties_break_in_corpus_order(tmp_path: Path, hash_embedder, mode: str) -> None:
    # Three copies of one article: their passages score exactly alike in every retriever.
    from tests.conftest import write_article

    corpus = tmp_path / "corpus"
    for name in ("t1", "t2", "t3"):
        write_article(corpus, name, "광주 데이터센터", ["광주시는 인공지능 데이터센터를 첨단3지구에 짓는다."])
    write_article(corpus, "x", "서울 날씨", ["서울은 오늘 맑고 기온은 영상 10도다."])
    build_corpus_index(corpus, tmp_path / "idx", hash_embedder, make_tokenizer("mecab"), ChunkingConfig(40, 8))
    searcher = Searcher(load_index(tmp_path / "idx"), hash_embedder)

    hits = searcher.search("광주 데이터센터", k=searcher.size, mode=mode).hits
    copies = [h for h in hits if h.document.id in ("t1", "t2", "t3")]

    assert len({h.score for h in copies}) == 1  # a real tie
    assert [h.document.id for h in copies] == ["t1", "t2", "t3"]  # in corpus (row) order
    rows = [searcher.index.chunks.index(h.chunk) for h in copies]
    assert rows == sorted(rows) and [h.rank for h in copies] == [copies[0].rank + i for i in range(3)]


def test_results_are_deterministic(searcher: Searcher) -> None:
    a = searcher.search("광주 인공지능", k=5)
    b = searcher.search("광주 인공지능", k=5)
    assert [(h.chunk.id, h.score) for h in a.hits] == [(h.chunk.id, h.score) for h in b.hits]


def test_hit_carries_citation_data_and_a_highlight_inside_the_passage(searcher: Searcher) -> None:
    hit = searcher.search("연산 능력은 몇 페타플롭스?", k=1, mode="bm25").hits[0]
    start, end = hit.highlight
    assert hit.chunk.text[start:end] == "연산 능력은 88.5페타플롭스 규모다."
    assert hit.document.id == hit.chunk.doc_id and hit.document.title == "광주 데이터센터 착공"


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question(searcher: Searcher, question: str) -> None:
    with pytest.raises(EmptyQuery, match="the question is empty"):
        searcher.search(question)


def test_bad_mode_and_fusion(searcher: Searcher) -> None:
    with pytest.raises(InvalidSetting, match="unknown mode 'fuzzy'; use hybrid, dense, bm25"):
        searcher.search("광주", mode="fuzzy")
    with pytest.raises(InvalidSetting, match="unknown fusion 'max'; use convex or rrf"):
        FusionConfig("max")
    with pytest.raises(InvalidSetting, match="bm25 weight must be between 0 and 1, got 1.5"):
        FusionConfig("convex", 1.5)


def test_k_larger_than_the_corpus(searcher: Searcher) -> None:
    assert len(searcher.search("광주", k=500, mode="dense").hits) == searcher.size


def test_sentence_spans_and_best_sentence() -> None:
    text = "첫 문장이다. 둘째 문장은 \"인용이다.\"\n\n셋째? 넷째!"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["첫 문장이다.", "둘째 문장은 \"인용이다.\"", "셋째?", "넷째!"]
    tok = make_tokenizer("mecab")
    span = best_sentence(text, tok.tokenize("인용"), tok.tokenize, lambda t: 1.0)
    assert text[span[0] : span[1]] == "둘째 문장은 \"인용이다.\""
    # No overlap at all: the first sentence.
    assert best_sentence(text, ["zzz"], tok.tokenize, lambda t: 1.0) == (0, 7)


class SlowEmbedder:
    """The fixture's embedder, with every question embedding taking `delay` seconds (a real model's wait)."""

    def __init__(self, inner, delay: float) -> None:
        self._inner, self._delay = inner, delay

    def embed_query(self, text: str) -> np.ndarray:
        import time

        time.sleep(self._delay)
        return self._inner.embed_query(text)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def test_highlights_made_while_the_question_is_embedded_are_the_ones_made_after(searcher: Searcher) -> None:
    slow = Searcher(searcher.index, SlowEmbedder(searcher.embedder, 0.05))  # BM25's passages highlighted during the wait
    question = "광주 인공지능 사관학교 수료생"
    for mode in ("hybrid", "dense", "bm25"):
        fast, waited = searcher.search(question, k=4, mode=mode), slow.search(question, k=4, mode=mode)
        assert [(h.chunk, h.score, h.highlight) for h in waited.hits] == [(h.chunk, h.score, h.highlight) for h in fast.hits]
    tokens = searcher.tokenizer.tokenize(question)
    idf = searcher.index.idf_many(tokens).__getitem__
    for hit in slow.search(question, k=4).hits:
        assert hit.highlight == best_sentence(hit.chunk.text, tokens, searcher.tokenizer.tokenize, idf)


def test_a_search_started_checks_its_request_at_once_and_finishes_as_search_does(searcher: Searcher) -> None:
    with pytest.raises(EmptyQuery):
        searcher.start("   ")
    with pytest.raises(InvalidSetting):
        searcher.start("광주", mode="fuzzy")
    pending = searcher.start("광주 데이터센터", k=3)
    assert pending.query is not None  # the embedding is under way before finish() is called
    started, direct = pending.finish(), searcher.search("광주 데이터센터", k=3)
    assert [(h.chunk, h.score, h.highlight) for h in started.hits] == [(h.chunk, h.score, h.highlight) for h in direct.hits]
    assert searcher.start("광주", mode="bm25").query is None


def test_the_dense_search_runs_while_bm25_does_once_the_vector_is_there(searcher: Searcher, monkeypatch) -> None:
    """On a large index BM25 can outlast the embedding: the dense search must not wait for it."""
    dense_searched = threading.Event()
    calls: list[int] = []
    dense_search, sparse_search = searcher.dense.search, searcher.sparse.search

    def dense(qvec, depth):
        calls.append(depth)
        dense_searched.set()
        return dense_search(qvec, depth)

    def sparse(tokens, depth):  # finishes only once the dense search has run meanwhile
        assert dense_searched.wait(10), "the dense search waited for BM25"
        return sparse_search(tokens, depth)

    monkeypatch.setattr(searcher.dense, "search", dense)
    monkeypatch.setattr(searcher.sparse, "search", sparse)
    vector = searcher.embedder.embed_query("광주 데이터센터")
    result = searcher.search("광주 데이터센터", k=3, mode="hybrid", query_vector=vector)
    assert len(calls) == 1 and result.hits  # searched once, by one of the two threads
    dense_searched.clear()
    searcher.search("광주 데이터센터 예산", k=3, mode="hybrid")  # the same while the question is embedded
    assert len(calls) == 2


def test_chunk_records_are_kept_in_memory_up_to_the_cache_size(searcher: Searcher, monkeypatch) -> None:
    records = searcher.index.records
    rows = list(range(min(6, records.n_chunks)))
    expected = [records.chunk(r) for r in rows]
    monkeypatch.setattr(records._chunks, "size", 4)
    assert records.chunks_at(rows[::-1]) == expected[::-1]
    assert len(records._chunks) == 4  # at most its size kept
    kept = records._chunks.keys()[-2:]
    monkeypatch.setattr(records, "_all", lambda *a: pytest.fail("read again from the file"))
    assert records.chunks_at(kept) == [expected[rows.index(r)] for r in kept]  # cached: no query
