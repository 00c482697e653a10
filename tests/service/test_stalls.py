"""Searches that take long never hold up the operational routes, and a search whose client hung up
while waiting for its turn is never computed. A real uvicorn server on loopback; searches are made
slow on purpose by a gate the test opens."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import httpx
import pytest

from index.search import PendingSearch, SearchResult, Searcher
from service.app import create_app
from service.server import BackgroundServer
from service.settings import Settings

GATED = "게이트 "  # questions starting with this wait for the gate to open


class GatedSearcher(Searcher):
    """The real searcher; questions starting with GATED wait until `gate` is set. Records every question."""

    def __init__(self, inner: Searcher) -> None:
        super().__init__(inner.index, inner.embedder, inner.fusion)
        self.gate = threading.Event()
        self.questions: list[str] = []

    def _finish(self, pending: PendingSearch) -> SearchResult:  # the part of a search that runs in a worker thread
        self.questions.append(pending.question)
        if pending.question.startswith(GATED):
            self.gate.wait(timeout=60)
        return super()._finish(pending)


def serve(settings: Settings, searcher: Searcher, **limits: int) -> BackgroundServer:
    return BackgroundServer(create_app(settings.model_copy(update=limits), searcher))


@pytest.fixture
def gated(hash_searcher: Searcher) -> Iterator[GatedSearcher]:
    searcher = GatedSearcher(hash_searcher)
    yield searcher
    searcher.gate.set()


def test_health_readiness_and_metrics_answer_while_every_worker_thread_is_busy(
    hash_settings: Settings, gated: GatedSearcher
) -> None:
    busy = 40  # anyio's default number of worker threads: a route that needs one would wait
    with serve(hash_settings, gated, search_workers=busy) as url, ThreadPoolExecutor(busy) as pool:
        asks = [
            pool.submit(httpx.post, f"{url}api/ask", json={"question": f"{GATED}광주 {i}", "k": 1}, timeout=60)
            for i in range(busy)
        ]
        deadline = time.monotonic() + 30
        while sum(q.startswith(GATED) for q in gated.questions) < busy and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(q.startswith(GATED) for q in gated.questions) == busy  # every worker thread is waiting

        with httpx.Client(base_url=url, timeout=5) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").json()["status"] == "ready"
            assert "aihub_qa_ready 1.0" in client.get("/metrics").text
            assert client.get("/api/config").status_code == 200

        gated.gate.set()
        assert [a.result().status_code for a in asks] == [200] * busy


def test_a_search_whose_client_hung_up_while_waiting_is_skipped(hash_settings: Settings, gated: GatedSearcher) -> None:
    abandoned = "버려진 질문"
    with serve(hash_settings, gated, search_workers=1) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{url}api/ask", json={"question": f"{GATED}광주", "k": 1}, timeout=60)
        while not gated.questions or not gated.questions[-1].startswith(GATED):
            time.sleep(0.02)  # the only turn to search is taken
        body = ('{"question": "%s"}' % abandoned).encode()
        parsed = urlparse(url)
        with socket.create_connection((parsed.hostname, parsed.port)) as sock:
            sock.sendall(
                b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            time.sleep(0.5)  # the server has read it and waits for a turn; then the client hangs up
        time.sleep(0.2)
        gated.gate.set()
        assert first.result().status_code == 200
        metrics = ""
        deadline = time.monotonic() + 10
        while "aihub_qa_searches_skipped_total 1.0" not in metrics and time.monotonic() < deadline:
            metrics = httpx.get(f"{url}metrics").text
            time.sleep(0.05)

    assert "aihub_qa_searches_skipped_total 1.0" in metrics
    assert abandoned not in gated.questions
    assert 'status="499"' in metrics
