"""What search needs from a storage backend (the local index directory, or Milvus collections).

A backend holds passages in a fixed row order (ties break by row: corpus order) and offers the two
retrievers, the records of chunks and documents, and the manifest it was built with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from index.manifest import Manifest
from index.retrievers import Ranked
from ingest.documents import Chunk, Document


class DenseSearch(Protocol):
    def search(self, query_vector: np.ndarray, depth: int) -> Ranked: ...


class SparseSearch(Protocol):
    def search(self, query_tokens: Sequence[str], depth: int) -> Ranked: ...


class RecordReader(Protocol):
    n_chunks: int
    n_documents: int

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]: ...
    def document(self, doc_id: str) -> Document | None: ...
    def chunk_count(self, doc_id: str) -> int: ...
    def documents_page(self, offset: int, limit: int) -> list[tuple[Document, int]]: ...


class SearchBackend(Protocol):
    manifest: Manifest
    records: RecordReader

    @property
    def size(self) -> int: ...
    @property
    def dense(self) -> DenseSearch: ...
    @property
    def sparse(self) -> SparseSearch: ...
    def idf(self, token: str) -> float: ...
    def idf_many(self, tokens: Sequence[str]) -> dict[str, float]: ...  # one round trip on a remote backend
    def document_frequency(self, token: str) -> int: ...
