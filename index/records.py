"""Chunk and document records of an index version, in one SQLite file read lazily.

Row *i* of the `chunks` table is vector *i* and BM25 row *i*. A chunk's text is not stored: it is
its document's text between `start` and `end` (stored once, in `documents`), which is the citation
invariant itself. Opening the file costs nothing; a query reads the few rows it returns.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import overload

from ingest.documents import Chunk, Document

RECORDS = "records.sqlite"
_DOC_FIELDS = "id, title, source, published, author, url"
_CHUNK_COLUMNS = 'c.id, c.doc_id, c.seq, substr(d.text, c.start + 1, c."end" - c.start), c.start, c."end", c.content_hash'
_CHUNK_FROM = "FROM chunks c JOIN documents d ON d.id = c.doc_id"
_CHUNK_SELECT = f"SELECT {_CHUNK_COLUMNS} {_CHUNK_FROM}"


def write_records(
    path: Path, documents: Sequence[Document], chunks: Sequence[Chunk], embed_keys: Sequence[str]
) -> str:
    """Write the records file; returns the sha256 of the chunk ids in row order (for the manifest)."""
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    ids = hashlib.sha256()
    con = sqlite3.connect(path)
    try:
        con.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE documents (
                ord INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, source TEXT NOT NULL,
                published TEXT, author TEXT, url TEXT, text TEXT NOT NULL, chunks INTEGER NOT NULL);
            CREATE TABLE chunks (
                row INTEGER PRIMARY KEY, id TEXT NOT NULL, doc_id TEXT NOT NULL, seq INTEGER NOT NULL,
                start INTEGER NOT NULL, "end" INTEGER NOT NULL, content_hash TEXT NOT NULL, embed_key TEXT NOT NULL);
            """
        )
        con.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (i, d.id, d.title, d.source, d.published, d.author, d.url, d.text, counts.get(d.id, 0))
                for i, d in enumerate(documents)
            ),
        )

        def rows() -> Iterator[tuple[object, ...]]:
            for row, (c, key) in enumerate(zip(chunks, embed_keys, strict=True)):
                ids.update(c.id.encode("utf-8") + b"\n")
                yield (row, c.id, c.doc_id, c.seq, c.start, c.end, c.content_hash, key)

        con.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows())
        con.commit()
    finally:
        con.close()
    return ids.hexdigest()


class Records:
    """Read-only access to a records file; safe to share between threads (one connection each)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._document = lru_cache(maxsize=512)(self._load_document)
        con = self._con()
        self.n_chunks: int = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
        self.n_documents: int = con.execute("SELECT count(*) FROM documents").fetchone()[0]

    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self._local.con = con
        return con

    # ---- chunks ------------------------------------------------------------------------------
    def chunk(self, row: int) -> Chunk:
        found = self._con().execute(f"{_CHUNK_SELECT} WHERE c.row = ?", (row,)).fetchone()
        if found is None:
            raise IndexError(f"no chunk at row {row}")
        return Chunk(*found)

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        marks = ",".join("?" * len(rows))
        found = {
            r[0]: Chunk(*r[1:])
            for r in self._con().execute(
                f"SELECT c.row, {_CHUNK_COLUMNS} {_CHUNK_FROM} WHERE c.row IN ({marks})", tuple(rows)
            )
        }
        return [found[row] for row in rows]

    def iter_chunks(self) -> Iterator[Chunk]:
        for found in self._con().execute(f"{_CHUNK_SELECT} ORDER BY c.row"):
            yield Chunk(*found)

    def chunk_ids_sha256(self) -> str:
        digest = hashlib.sha256()
        for (chunk_id,) in self._con().execute("SELECT id FROM chunks ORDER BY row"):
            digest.update(chunk_id.encode("utf-8") + b"\n")
        return digest.hexdigest()

    def embed_keys(self) -> list[str]:
        return [key for (key,) in self._con().execute("SELECT embed_key FROM chunks ORDER BY row")]

    # ---- documents ---------------------------------------------------------------------------
    def document(self, doc_id: str) -> Document | None:
        return self._document(doc_id)

    def _load_document(self, doc_id: str) -> Document | None:
        found = self._con().execute(f"SELECT {_DOC_FIELDS}, text FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return Document(*found) if found else None

    def chunk_count(self, doc_id: str) -> int:
        found = self._con().execute("SELECT chunks FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return int(found[0]) if found else 0

    def documents_page(self, offset: int, limit: int) -> list[tuple[Document, int]]:
        """Documents in corpus order with their chunk counts (text left empty: listings need none)."""
        return [
            (Document(*r[:6], text=""), int(r[6]))
            for r in self._con().execute(
                f"SELECT {_DOC_FIELDS}, chunks FROM documents ORDER BY ord LIMIT ? OFFSET ?", (limit, offset)
            )
        ]

    def document_ids(self) -> list[str]:
        return [doc_id for (doc_id,) in self._con().execute("SELECT id FROM documents ORDER BY ord")]


class ChunkTable(Sequence[Chunk]):
    """`index.chunks`: the chunks in row order, read from the records file on demand."""

    def __init__(self, records: Records) -> None:
        self._records = records

    def __len__(self) -> int:
        return self._records.n_chunks

    @overload
    def __getitem__(self, row: int) -> Chunk: ...
    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...
    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return self._records.chunks_at(list(range(len(self)))[row])
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"chunk row {row} out of range")
        return self._records.chunk(row)

    def __iter__(self) -> Iterator[Chunk]:
        return self._records.iter_chunks()


class DocumentTable(Mapping[str, Document]):
    """`index.documents`: documents by id, in corpus order, read on demand."""

    def __init__(self, records: Records) -> None:
        self._records = records

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._records.document(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def __len__(self) -> int:
        return self._records.n_documents

    def __iter__(self) -> Iterator[str]:
        return iter(self._records.document_ids())

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._records.document(doc_id) is not None
