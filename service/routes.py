"""HTTP routes: the question-answering API under /api, and the operational endpoints.

The operational routes and every dependency are `async` and do no blocking work: they answer on
the event loop at once, whatever the searches in the worker threads are doing. Searches run in
threads, at most `settings.search_workers` at a time; a search whose client has hung up while it
waited for its turn is skipped.
"""

# No `from __future__ import annotations`: FastAPI reads the body type of `ask`, a class built
# per app from the settings, from the live annotation.

import time
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response

from index.answer import Answer, AnswerDraft, answer, begin_answer
from index.search import PendingSearch, SearchResult
from service.deps import SearcherDep, SettingsDep, StateDep, require_json, searcher_of
from service.errors_http import DocumentNotFound, ErrorBody, shown
from service.schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    AskResponse,
    DocumentDetail,
    DocumentPage,
    ServiceConfig,
    ask_request_model,
    document_summary,
    response_from_result,
    service_config,
)
from service.settings import Settings

CLIENT_CLOSED_REQUEST = 499  # nginx's code for "the client hung up first": only ever seen in metrics


def _finish_and_answer(pending: PendingSearch, draft: AnswerDraft) -> tuple[SearchResult, Answer]:
    result = pending.finish()
    return result, answer(pending.searcher, result, draft=draft)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def api_router(settings: Settings) -> APIRouter:
    """The /api routes, with the request schema built from the configured limits."""
    api = APIRouter(prefix="/api", tags=["api"], responses=_errors(503))
    ask_request = ask_request_model(settings)

    @api.post(
        "/ask",
        response_model=AskResponse,
        dependencies=[Depends(require_json)],
        responses=_errors(400, 408, 413, 415, 422),
        summary="Answer a question: one cited answer sentence with a calibrated confidence (or a decline), and ranked passages",
    )
    async def ask(body: ask_request, request: Request, searcher: SearcherDep, state: StateDep) -> Any:  # type: ignore[valid-type]
        """The same JSON as `aihub-qa ask --json`. Each passage's citation points at `text[start:end]`
        of the document that `GET /api/documents/{doc_id}` returns."""
        request.state.mode = body.mode  # labels this request's latency in the metrics
        k = state.settings.default_k if body.k is None else body.k
        async with state.search_slots():
            if await request.is_disconnected():  # hung up while waiting for a turn: nobody to answer
                state.metrics.searches_skipped.inc()
                return Response(status_code=CLIENT_CLOSED_REQUEST)
            started = time.perf_counter()
            # The question's embedding and BM25 start now, before the hop to a worker thread; the
            # answer step featurizes BM25's best passages while the question is embedded.
            draft = begin_answer(searcher)
            pending = searcher.start(body.question, k=k, mode=body.mode, warm=draft.warm)
            result, found = await anyio.to_thread.run_sync(_finish_and_answer, pending, draft)
        return response_from_result(result, found, (time.perf_counter() - started) * 1000)

    @api.get("/config", response_model=ServiceConfig, summary="This server's limits and search modes")
    async def config(settings: SettingsDep) -> ServiceConfig:
        """What the chat page offers: the longest question, the choices of k and the search modes."""
        return service_config(settings)

    @api.get(
        "/documents", response_model=DocumentPage, responses=_errors(422),
        summary="List the indexed articles, a page at a time",
    )
    async def list_documents(
        searcher: SearcherDep,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="documents per page")] = DEFAULT_PAGE,
        offset: Annotated[int, Query(ge=0, description="documents to skip (corpus order)")] = 0,
    ) -> DocumentPage:
        """Documents in corpus order, without their text; `total` counts them all."""
        records = searcher.index.records
        rows = records.documents_page(offset, limit) if offset < records.n_documents else []
        page = [document_summary(doc, chunks) for doc, chunks in rows]
        return DocumentPage(total=records.n_documents, limit=limit, offset=offset, documents=page)

    @api.get(
        "/documents/{doc_id}",
        response_model=DocumentDetail,
        responses=_errors(404),
        summary="One article: metadata and the cleaned text that citations point into",
    )
    async def get_document(doc_id: str, searcher: SearcherDep) -> DocumentDetail:
        doc = searcher.index.records.document(doc_id)
        if doc is None:
            raise DocumentNotFound(f"no document with id {shown(doc_id)}; GET /api/documents lists them")
        summary = document_summary(doc, searcher.index.records.chunk_count(doc.id))
        return DocumentDetail(**summary.model_dump(), text=doc.text)

    return api


ops = APIRouter(tags=["operations"])


@ops.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@ops.get("/readyz", responses=_errors(503), summary="Readiness: the index is loaded and the model warm")
async def readyz(state: StateDep) -> dict[str, Any]:
    searcher = searcher_of(state)
    return {
        "status": "ready",
        "documents": searcher.index.records.n_documents,
        "chunks": searcher.size,
        "embedder": searcher.embedder.spec,
    }


@ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
