"""What routes share: the service state (settings, metrics, the searcher once loaded) and its dependencies."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request

from index.answer import prefill_sentence_vectors
from index.search import MODES, Searcher
from ingest.errors import AihubQaError
from service import runtime
from service.errors_http import NotReady, UnsupportedMediaType, log, shown
from service.metrics import Metrics
from service.settings import Settings

WARM_UP_QUESTION = "광주 인공지능 중심도시"
LOADING_MESSAGE = "the index is still loading; try again in a few seconds"


@dataclass
class ServiceState:
    """One per app. `searcher` is set once the index is loaded and the model has answered a query."""

    settings: Settings
    metrics: Metrics
    searcher: Searcher | None = None
    problem: str | None = None  # why loading failed, for /readyz and 503s
    _slots: anyio.CapacityLimiter | None = field(default=None, repr=False)
    _prefill: threading.Thread | None = field(default=None, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def search_slots(self) -> anyio.CapacityLimiter:
        """The turns to search: `settings.search_workers` at once (made on first use, inside the event loop)."""
        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self.settings.search_workers)
        return self._slots

    def searching(self) -> bool:
        """Whether a question is being searched or answered now (any thread may ask)."""
        return self._slots is not None and self._slots.borrowed_tokens > 0

    def load(self, preloaded: Searcher | None = None) -> None:
        """Open the index (unless one is given) and warm the model with one query. Blocking."""
        try:
            searcher = preloaded or runtime.open_searcher(self.settings)
            searcher.search(WARM_UP_QUESTION, k=1, mode=MODES[0])
        except AihubQaError as exc:
            self.problem = f"the index could not be loaded: {exc}"
            log.error("%s", self.problem)
            return
        except Exception:
            self.problem = "the index could not be loaded; see the server log"
            log.exception("loading the index failed")
            return
        self.metrics.index_loaded(searcher)
        self.searcher = searcher
        log.info("ready: %d documents, %d passages", searcher.index.records.n_documents, searcher.size)
        self._prefill = threading.Thread(
            target=self._prefill_sentences, args=(searcher,), name="aihub-qa-prefill", daemon=True
        )
        self._prefill.start()

    def _prefill_sentences(self, searcher: Searcher) -> None:
        """In the background once ready: the sentence vectors of a small index (see prefill_sentence_vectors)."""
        started = time.perf_counter()
        try:
            held = prefill_sentence_vectors(searcher, self._stopping, busy=self.searching)
        except Exception:  # only a warm-up: answers embed what they need themselves
            log.exception("warming the sentence vectors failed")
            return
        if held:
            log.info("sentence vectors warm: %d in %.1f s", held, time.perf_counter() - started)

    def close(self) -> None:
        """Stop background work (at shutdown): the prefill ends after the sentence it is embedding."""
        self._stopping.set()
        if self._prefill is not None:
            self._prefill.join()


# Every dependency is async and does no blocking work: a sync one would wait for a worker thread.


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


def searcher_of(state: ServiceState) -> Searcher:
    if state.searcher is None:
        raise NotReady(state.problem or LOADING_MESSAGE)
    return state.searcher


async def get_searcher(state: StateDep) -> Searcher:
    return searcher_of(state)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]


async def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (`application/json` or `application/*+json`)."""
    declared = request.headers.get("content-type")
    media = (declared or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind == "application" and (subtype == "json" or subtype.endswith("+json")):
        return
    if not declared:
        raise UnsupportedMediaType("the Content-Type header is missing; send the body as application/json")
    raise UnsupportedMediaType(f"Content-Type must be application/json, got {shown(declared)}")
