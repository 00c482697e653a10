"""Warming the sentence vectors of a small index (index.answer.prefill_sentence_vectors): once
warm, answering embeds no sentence, answers are the same as cold, and a server does it by itself
in the background once ready. The hash embedder stands in for the one the answer models were
fitted with (so that answers use sentence vectors); the server test runs the real one."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import anyio
import pytest
from fastapi.testclient import TestClient

from index.answer import FULL, ModelFile, _answerer, answer, prefill_sentence_vectors, shipped_models
from index.embedders import HashEmbedder
from index.search import Searcher
from index.sentences import SentenceVectors
from service.app import create_app
from service.deps import ServiceState
from service.metrics import Metrics
from service.settings import Settings

QUESTIONS = [
    "광주 인공지능 데이터센터의 연산 능력은 얼마인가?",
    "AI 사관학교 수료생은 몇 명인가?",
    "광주 AI 집적단지 사업비는 얼마인가?",
    "인공지능 중심도시 광주는 언제 선정되었나?",
]


class CountingEmbedder(HashEmbedder):
    """Counts the passage texts it embeds (sentences, when answering)."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.passages: list[str] = []

    def _encode_passages(self, texts):
        self.passages.extend(texts)
        return super()._encode_passages(texts)


def fresh(searcher: Searcher) -> tuple[Searcher, CountingEmbedder]:
    """A searcher over the same index with its own (empty) sentence-vector cache."""
    embedder = CountingEmbedder(searcher.embedder.dim)
    embedder.spec = searcher.embedder.spec
    return Searcher(searcher.index, embedder, searcher.fusion), embedder


def fitted_for(searcher: Searcher) -> ModelFile:
    """The shipped answer models, as if fitted with `searcher`'s embedder."""
    return replace(shipped_models(), embedder=searcher.embedder.spec)


def answers(searcher: Searcher) -> list[tuple]:
    found = []
    for q in QUESTIONS:
        a = answer(searcher, searcher.search(q, k=5), fitted_for(searcher))
        assert a.variant == FULL
        found.append((a.answered, a.confidence, a.best.text if a.best else None))
    return found


def test_a_warm_index_answers_without_embedding_a_sentence_and_answers_the_same(hash_searcher: Searcher) -> None:
    cold, cold_embedder = fresh(hash_searcher)
    expected = answers(cold)
    assert cold_embedder.passages  # a cold searcher embeds the sentences it ranks

    warm, embedder = fresh(hash_searcher)
    held = prefill_sentence_vectors(warm, models=fitted_for(warm))
    assert held == len(set(embedder.passages)) == len(embedder.passages) > 0  # each sentence once
    assert set(cold_embedder.passages) <= set(embedder.passages)
    embedder.passages.clear()
    assert answers(warm) == expected
    assert embedder.passages == []


def test_an_index_with_more_sentences_than_the_cache_holds_is_not_warmed(hash_searcher: Searcher) -> None:
    searcher, embedder = fresh(hash_searcher)
    answerer = _answerer(searcher)
    every = len(answerer.sentence_inputs(10**9))
    assert every > hash_searcher.size  # more sentences than passages: the passage count alone does not decide
    models = fitted_for(searcher)
    answerer.vectors = SentenceVectors(searcher.embedder.embed_passages_each, size=every - 1)
    assert prefill_sentence_vectors(searcher, models=models) == 0 and embedder.passages == []
    answerer.vectors = SentenceVectors(searcher.embedder.embed_passages_each, size=every)
    assert prefill_sentence_vectors(searcher, models=models) == every


def test_nothing_is_warmed_for_an_embedder_answers_do_not_use_vectors_of(hash_searcher: Searcher) -> None:
    searcher, embedder = fresh(hash_searcher)
    assert prefill_sentence_vectors(searcher) == 0 and embedder.passages == []  # shipped models: e5-small's


def test_a_set_stop_ends_the_warm_up(hash_searcher: Searcher) -> None:
    searcher, embedder = fresh(hash_searcher)
    stop = threading.Event()
    stop.set()
    assert prefill_sentence_vectors(searcher, stop, fitted_for(searcher)) == 0 and embedder.passages == []


def test_the_warm_up_waits_while_questions_are_answered(hash_searcher: Searcher) -> None:
    searcher, embedder = fresh(hash_searcher)
    every = len(_answerer(searcher).sentence_inputs(10**9))
    answering = threading.Event()
    answering.set()
    held: list[int] = []
    worker = threading.Thread(
        target=lambda: held.append(prefill_sentence_vectors(searcher, None, fitted_for(searcher), busy=answering.is_set))
    )
    worker.start()
    time.sleep(0.3)
    assert embedder.passages == [] and worker.is_alive()  # nothing embedded while a question is answered
    answering.clear()
    worker.join(30)
    assert held == [every] and len(embedder.passages) == every


def test_the_service_is_searching_while_a_question_holds_a_turn(hash_settings: Settings) -> None:
    state = ServiceState(hash_settings, Metrics())

    async def ask() -> list[bool]:
        seen = [state.searching()]
        async with state.search_slots():
            seen.append(state.searching())
        return [*seen, state.searching()]

    assert anyio.run(ask) == [False, True, False]


@pytest.mark.model
def test_a_server_warms_the_sentence_vectors_once_ready(real_settings: Settings, real_searcher: Searcher) -> None:
    searcher = Searcher(real_searcher.index, real_searcher.embedder, real_searcher.fusion)  # an empty cache
    vectors = _answerer(searcher).vectors
    every = len(_answerer(searcher).sentence_inputs(vectors.size))
    assert 0 < every <= vectors.size
    with TestClient(create_app(real_settings, searcher)) as client:
        state = client.app.state.service
        assert state.searcher is searcher
        state._prefill.join(120)
        assert len(vectors) == every
        for question in QUESTIONS:
            body = client.post("/api/ask", json={"question": question, "k": 5}).json()
            assert body["passages"] and body["confidence"] > 0
        assert len(vectors) == every  # nothing new was embedded to answer
