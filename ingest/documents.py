"""Core data types of the ingest step: a cleaned article and a chunk of it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One article after cleaning. `text` is what chunks and citations point into."""

    id: str
    title: str
    source: str
    published: str | None  # ISO date (YYYY-MM-DD) or None when unknown
    author: str | None
    url: str | None
    text: str


@dataclass(frozen=True)
class Chunk:
    """A contiguous span of a document: `document.text[start:end] == text` always holds."""

    id: str
    doc_id: str
    seq: int
    text: str
    start: int
    end: int
    content_hash: str


def content_hash(text: str) -> str:
    """Stable hash of a text (used to reuse embeddings when a chunk did not change)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def chunk_id(doc_id: str, seq: int) -> str:
    return f"{doc_id}#{seq:04d}"
