"""The answer step begun while the question is embedded (index.answer.AnswerDraft): BM25's best
passages are featurized during the wait, each passage once, and the answer is the same."""

from __future__ import annotations

import threading

from index.answer import answer, begin_answer
from index.embedders import HashEmbedder
from index.search import EARLY_PASSAGES, Searcher
from index.sentences import SentenceFeaturizer

QUESTION = "광주 인공지능 데이터센터의 연산 능력은 얼마인가?"


class HeldEmbedder(HashEmbedder):
    """Holds every question's embedding until `release` is set."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.release = threading.Event()

    def _encode_queries(self, texts):
        assert self.release.wait(10)
        return super()._encode_queries(texts)


def test_bm25s_best_passages_are_featurized_while_the_question_is_embedded(hash_searcher: Searcher, monkeypatch) -> None:
    embedder = HeldEmbedder(hash_searcher.embedder.dim)
    embedder.spec = hash_searcher.embedder.spec
    searcher = Searcher(hash_searcher.index, embedder, hash_searcher.fusion)
    k = 3
    tokens = searcher.tokenizer.tokenize(QUESTION)
    rows = searcher.sparse.search(tokens, searcher.size).rows[: EARLY_PASSAGES * k].tolist()
    bm25_top = [c.text for c in searcher.index.records.chunks_at(rows)]  # BM25's best chunks, in order
    assert len(bm25_top) == EARLY_PASSAGES * k
    featurized: list[str] = []
    featurize = SentenceFeaturizer._featurize
    monkeypatch.setattr(SentenceFeaturizer, "_featurize", lambda self, text: featurized.append(text) or featurize(self, text))
    draft = begin_answer(searcher)
    warmed: list[str] = []

    def warm(question: str, tokens, text: str) -> None:
        assert not embedder.release.is_set()  # the question is still being embedded
        draft.warm(question, tokens, text)
        warmed.append(text)
        if len(warmed) == len(bm25_top):
            embedder.release.set()

    result = searcher.start(QUESTION, k=k, mode="hybrid", warm=warm).finish()
    assert warmed == bm25_top == featurized[: len(bm25_top)]
    found = answer(searcher, result, draft=draft)
    # Each passage featurized once: the warmed ones were not featurized again for the answer.
    assert sorted(featurized) == sorted(set(featurized))
    assert set(featurized) == set(bm25_top) | {h.chunk.text for h in result.hits}
    featurized.clear()
    assert answer(searcher, result) == found and featurized  # without the draft: the same answer, featurized anew
