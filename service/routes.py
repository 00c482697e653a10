"""HTTP routes: the question-answering API under /api, and the operational endpoints."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from index.answer import answer
from service.deps import SearcherDep, SettingsDep, StateDep, get_searcher, require_json
from service.errors_http import DocumentNotFound, ErrorBody, shown
from service.schemas import AskRequest, AskResponse, DocumentDetail, DocumentSummary, document_summary, response_from_result
from service.validation import check_ask


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


api = APIRouter(prefix="/api", tags=["api"], responses=_errors(503))
ops = APIRouter(tags=["operations"])


@api.post(
    "/ask",
    response_model=AskResponse,
    dependencies=[Depends(require_json)],
    responses=_errors(400, 413, 415, 422),
    summary="Answer a question: one cited answer sentence with a calibrated confidence (or a decline), and ranked passages",
)
def ask(body: AskRequest, request: Request, searcher: SearcherDep, settings: SettingsDep) -> AskResponse:
    """The same JSON as `aihub-qa ask --json`. Each passage's citation points at `text[start:end]`
    of the document that `GET /api/documents/{doc_id}` returns."""
    check_ask(body, settings)
    request.state.mode = body.mode  # labels this request's latency in the metrics
    k = settings.default_k if body.k is None else body.k
    started = time.perf_counter()
    result = searcher.search(body.question, k=k, mode=body.mode)
    return response_from_result(result, answer(searcher, result), (time.perf_counter() - started) * 1000)


@api.get("/documents", response_model=list[DocumentSummary], summary="List the indexed articles")
def list_documents(searcher: SearcherDep) -> list[DocumentSummary]:
    counts = searcher.index.chunk_counts
    return [document_summary(doc, counts.get(doc.id, 0)) for doc in searcher.index.documents.values()]


@api.get(
    "/documents/{doc_id}",
    response_model=DocumentDetail,
    responses=_errors(404),
    summary="One article: metadata and the cleaned text that citations point into",
)
def get_document(doc_id: str, searcher: SearcherDep) -> DocumentDetail:
    doc = searcher.index.documents.get(doc_id)
    if doc is None:
        raise DocumentNotFound(f"no document with id {shown(doc_id)}; GET /api/documents lists them")
    summary = document_summary(doc, searcher.index.chunk_counts.get(doc.id, 0))
    return DocumentDetail(**summary.model_dump(), text=doc.text)


@ops.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@ops.get("/readyz", responses=_errors(503), summary="Readiness: the index is loaded and the model warm")
def readyz(state: StateDep) -> dict[str, Any]:
    searcher = get_searcher(state)
    return {
        "status": "ready",
        "documents": len(searcher.index.documents),
        "chunks": searcher.size,
        "embedder": searcher.embedder.spec,
    }


@ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
