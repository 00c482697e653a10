"""The JSON shapes users see (HTTP and `aihub-qa ask --json` share them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from index.search import Hit, SearchResult
from ingest.documents import Document


class Scores(BaseModel):
    dense: float | None
    bm25: float | None


class Span(BaseModel):
    start: int
    end: int


class Citation(BaseModel):
    doc_id: str
    title: str
    source: str
    published: str | None
    author: str | None
    url: str | None
    start: int = Field(description="offset of the passage in the document's cleaned text")
    end: int


class Passage(BaseModel):
    rank: int
    score: float
    scores: Scores
    text: str
    highlight: Span = Field(description="offsets of the best-answering sentence inside `text`")
    citation: Citation


class AskResponse(BaseModel):
    question: str
    mode: str
    took_ms: float
    passages: list[Passage]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000, description="the question, in Korean or any language")
    k: int | None = Field(
        None, ge=1, le=50, description="number of passages to return (default: the server's default_k, 5 unless configured)"
    )
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class DocumentSummary(BaseModel):
    id: str
    title: str
    source: str
    published: str | None
    author: str | None
    url: str | None
    chunks: int


DEFAULT_PAGE = 100
MAX_PAGE = 1000


class DocumentPage(BaseModel):
    total: int = Field(description="documents in the index")
    limit: int
    offset: int
    documents: list[DocumentSummary]


class DocumentDetail(DocumentSummary):
    text: str


def _metadata(doc: Document) -> dict[str, str | None]:
    """The article fields that citations and document listings share."""
    return {"title": doc.title, "source": doc.source, "published": doc.published, "author": doc.author, "url": doc.url}


def document_summary(doc: Document, chunks: int) -> DocumentSummary:
    return DocumentSummary(id=doc.id, chunks=chunks, **_metadata(doc))


def passage_from_hit(hit: Hit) -> Passage:
    doc, chunk = hit.document, hit.chunk
    return Passage(
        rank=hit.rank,
        score=round(hit.score, 6),
        scores=Scores(
            dense=None if hit.dense_score is None else round(hit.dense_score, 6),
            bm25=None if hit.bm25_score is None else round(hit.bm25_score, 6),
        ),
        text=chunk.text,
        highlight=Span(start=hit.highlight[0], end=hit.highlight[1]),
        citation=Citation(doc_id=doc.id, start=chunk.start, end=chunk.end, **_metadata(doc)),
    )


def response_from_result(result: SearchResult) -> AskResponse:
    return AskResponse(
        question=result.question,
        mode=result.mode,
        took_ms=round(result.took_ms, 3),
        passages=[passage_from_hit(hit) for hit in result.hits],
    )
