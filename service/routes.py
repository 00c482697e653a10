"""HTTP routes: the question-answering API under /api, and the operational endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from service.deps import SearcherDep, SettingsDep, StateDep, get_searcher, require_json
from service.errors_http import DocumentNotFound, ErrorBody, shown
from service.schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    AskRequest,
    AskResponse,
    DocumentDetail,
    DocumentPage,
    document_summary,
    response_from_result,
)
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
    summary="Answer a question with ranked, cited passages",
)
def ask(body: AskRequest, request: Request, searcher: SearcherDep, settings: SettingsDep) -> AskResponse:
    """The same JSON as `aihub-qa ask --json`. Each passage's citation points at `text[start:end]`
    of the document that `GET /api/documents/{doc_id}` returns."""
    check_ask(body, settings)
    request.state.mode = body.mode  # labels this request's latency in the metrics
    k = settings.default_k if body.k is None else body.k
    return response_from_result(searcher.search(body.question, k=k, mode=body.mode))


@api.get("/documents", response_model=DocumentPage, responses=_errors(422), summary="List the indexed articles, a page at a time")
def list_documents(
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
def get_document(doc_id: str, searcher: SearcherDep) -> DocumentDetail:
    doc = searcher.index.records.document(doc_id)
    if doc is None:
        raise DocumentNotFound(f"no document with id {shown(doc_id)}; GET /api/documents lists them")
    summary = document_summary(doc, searcher.index.records.chunk_count(doc.id))
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
