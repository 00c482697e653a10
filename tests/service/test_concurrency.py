"""Many concurrent requests to a real uvicorn server with the real model give the single-request answers."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from index.embedders import make_embedder
from index.search import Searcher
from index.answer import answer
from service.schemas import response_from_result


def _answered(searcher: Searcher, result):  # type: ignore[no-untyped-def]
    return response_from_result(result, answer(searcher, result))

QUESTIONS = (
    "AI 산업융합 집적단지 조성 사업비는 얼마인가?",
    "광주가 인공지능 중심도시를 선포한 해는?",
    "첨단3지구에 들어서는 시설은 무엇인가?",
    "AI 실증센터는 언제 가동되었나?",
    "메타버스 융합도시 계획",
    "인공지능 인재 양성 프로그램",
    "국가 인공지능 융복합단지 예산은?",
    "데이터센터 연산 능력 페타플롭스",
)
MODES = ("hybrid", "dense", "bm25")
KS = (1, 3, 5, 10)
ROUNDS = 3
WORKERS = 16


def without_took(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key != "took_ms"}


@pytest.mark.model
def test_concurrent_mixed_requests_get_the_single_request_answers(real_server: str, real_searcher: Searcher) -> None:
    combos = [(q, mode, KS[(i + j) % len(KS)]) for i, q in enumerate(QUESTIONS) for j, mode in enumerate(MODES)]
    # The expected answers come from a separate searcher with its own model instance, one query at a
    # time. The server has never seen these questions, so under load its engine computes them afresh.
    alone = Searcher(real_searcher.index, make_embedder(real_searcher.embedder.spec), real_searcher.fusion)
    expected = {
        combo: without_took(_answered(alone, alone.search(combo[0], k=combo[2], mode=combo[1])).model_dump(mode="json"))
        for combo in combos
    }
    requests = combos * ROUNDS
    random.Random(7).shuffle(requests)
    assert len(requests) >= 50

    local = threading.local()
    start = threading.Barrier(WORKERS)

    def ask(combo: tuple[str, str, int]) -> tuple[tuple[str, str, int], int, dict]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=real_server, timeout=60)
            start.wait(timeout=60)  # every worker holds a connection before the first request flies
        question, mode, k = combo
        response = client.post("/api/ask", json={"question": question, "mode": mode, "k": k})
        return combo, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(ask, requests))

    assert len(answers) == len(requests)
    for combo, status, body in answers:
        assert status == 200, (combo, body)
        assert without_took(body) == expected[combo], combo
    assert {len(body["passages"]) for _, _, body in answers} == set(KS)
