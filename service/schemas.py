"""The JSON shapes users see (HTTP and `aihub-qa ask --json` share them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, create_model

from index.answer import Answer
from index.search import MODES, Hit, SearchResult
from ingest.documents import Document
from service.settings import Settings
from service.validation import QUESTION_PATTERN


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
    score: float = Field(
        description="the ranking score within this answer only: hybrid mode fuses per-question min-max "
        "normalised dense and BM25 scores (so the best passage is near 1 for any question, answerable or "
        "not); dense mode: cosine similarity; bm25 mode: BM25. Compare passages of one answer with it, "
        "never questions: use `confidence` for that"
    )
    scores: Scores
    text: str
    highlight: Span = Field(description="offsets of the best-answering sentence inside `text`")
    citation: Citation


class AnswerSentence(BaseModel):
    text: str = Field(description="the sentence of the articles that answers the question, verbatim")
    rank: int = Field(description="rank of the passage (in `passages`) the sentence comes from")
    citation: Citation = Field(description="the article; `start`/`end` are the sentence's offsets in its cleaned text")


class AskResponse(BaseModel):
    question: str
    mode: str
    took_ms: float
    answered: bool = Field(
        description="false when the service declines: the articles do not answer the question well enough; "
        "`answer` is then null and `passages` are only the closest passages found"
    )
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="calibrated probability that the answer sentence (or, when declining, the best sentence "
        "found) answers the question; comparable across questions: of the answers given at 0.8, about 80% "
        "were right on held-out questions. The service answers at or above its threshold",
    )
    answer: AnswerSentence | None = Field(description="the one sentence that answers the question; null when declining")
    passages: list[Passage] = Field(description="ranked passages (the closest ones when declining); the ranking never depends on the decline decision")


class AskRequest(BaseModel):
    """The body of POST /api/ask. Its limits are the configured ones: build the class with
    `ask_request_model(settings)`; this base only names the fields for type checkers."""

    model_config = ConfigDict(extra="forbid")

    question: str
    k: int | None = None
    mode: str = MODES[0]


def ask_request_model(settings: Settings) -> type[AskRequest]:
    """AskRequest with the configured limits, so that validation and the OpenAPI schema agree."""
    question = Annotated[
        str,
        Field(
            min_length=1,
            max_length=settings.max_question_chars,
            pattern=QUESTION_PATTERN,
            description="the question, in Korean or any language: at least one visible character, "
            "no control characters other than tab and line breaks",
        ),
    ]
    k = Annotated[
        StrictInt | None,
        Field(
            ge=1,
            le=settings.max_k,
            description=f"number of passages to return (default: {settings.default_k})",
        ),
    ]
    mode = Annotated[Literal[MODES], Field(description="how passages are found")]  # type: ignore[valid-type]
    return create_model(  # type: ignore[call-overload,no-any-return]
        "AskRequest",
        __base__=AskRequest,
        question=(question, ...),
        k=(k, None),
        mode=(mode, MODES[0]),
    )


class ServiceConfig(BaseModel):
    """The limits and choices of this server (GET /api/config): what the chat page offers."""

    max_question_chars: int
    default_k: int
    max_k: int
    modes: list[str]
    default_mode: str
    question_pattern: str


def service_config(settings: Settings) -> ServiceConfig:
    return ServiceConfig(
        max_question_chars=settings.max_question_chars,
        default_k=settings.default_k,
        max_k=settings.max_k,
        modes=list(MODES),
        default_mode=MODES[0],
        question_pattern=QUESTION_PATTERN,
    )


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


def passage_from_hit(hit: Hit, highlight: tuple[int, int] | None = None) -> Passage:
    """A passage; `highlight` (offsets in its text) replaces the hit's own, e.g. by the answer sentence."""
    doc, chunk = hit.document, hit.chunk
    start, end = highlight or hit.highlight
    return Passage(
        rank=hit.rank,
        score=round(hit.score, 6),
        scores=Scores(
            dense=None if hit.dense_score is None else round(hit.dense_score, 6),
            bm25=None if hit.bm25_score is None else round(hit.bm25_score, 6),
        ),
        text=chunk.text,
        highlight=Span(start=start, end=end),
        citation=Citation(doc_id=doc.id, start=chunk.start, end=chunk.end, **_metadata(doc)),
    )


def response_from_result(result: SearchResult, answer: Answer, took_ms: float | None = None) -> AskResponse:
    """The response; the answer's passage highlights the answer sentence."""
    sentence, out = answer.sentence, None
    if sentence is not None:
        doc = result.hits[sentence.rank - 1].document
        citation = Citation(doc_id=doc.id, start=sentence.start, end=sentence.end, **_metadata(doc))
        out = AnswerSentence(text=sentence.text, rank=sentence.rank, citation=citation)
    return AskResponse(
        question=result.question,
        mode=result.mode,
        took_ms=round(result.took_ms if took_ms is None else took_ms, 3),
        answered=answer.answered,
        confidence=round(answer.confidence, 4),
        answer=out,
        passages=[
            passage_from_hit(hit, (sentence.passage_start, sentence.passage_end) if sentence and sentence.rank == hit.rank else None)
            for hit in result.hits
        ],
    )
