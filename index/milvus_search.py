"""The Milvus backend for search: the SearchBackend protocol (index/backend.py) over Milvus collections
(index/milvus_store.py). Fusion stays ours (index/fusion.py): each retriever returns its candidates
from Milvus and the exact score of any other row, so both backends rank identically.

- Dense: Milvus finds the nearest passages (FLAT: exact; HNSW/IVF on a server); `score_of` reads the
  stored vectors of the asked rows by their `row` field and takes inner products here.
- BM25: Milvus scores `tokens` with its BM25 function; scores are divided by (k1 + 1) to equal the
  project's BM25. `score_of` asks Milvus the same BM25 query restricted (filter) to the asked rows,
  so an exact score comes from the same statistics; rows without a query word score 0.
- Ties: each retriever asks for a few more passages than needed and orders them by (score, row), as
  the local index does, so passages with equal scores keep corpus order.

Nothing is kept in the process but the manifest read at start: chunk and document records, idf for
highlighting and the counts are read from Milvus when needed, so replicas are stateless.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from index.errors import IndexMismatch
from index.manifest import Manifest
from index.milvus_store import (
    READ_BATCH,
    MilvusConfig,
    check_embedder,
    connect,
    guarded,
    read_manifest,
    rebuild_hint,
    search_params,
)
from index.retrievers import Ranked
from ingest.documents import Chunk, Document

TIE_MARGIN = 16  # extra candidates fetched so that ties at the cut-off keep corpus order
MAX_LIMIT = 16_384  # Milvus's largest topk
_CHUNK_FIELDS = ["row", "id", "doc_id", "seq", "start", "end", "content_hash"]


def rows_filter(rows: Sequence[int]) -> str:
    return f"row in [{','.join(str(int(r)) for r in rows)}]"


def literal(values: Sequence[str]) -> str:
    """A list of strings as a Milvus expression literal (JSON string syntax: quotes escaped)."""
    return "[" + ",".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def _ordered(rows: list[int], scores: list[float], depth: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rows, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float32)
    order = np.lexsort((r, -s))[:depth]
    return r[order], s[order]


class MilvusDense:
    def __init__(self, backend: MilvusBackend) -> None:
        self.b = backend

    def search(self, query_vector: np.ndarray, depth: int) -> Ranked:
        b = self.b
        b.forget_idf()
        q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        limit = min(depth + TIE_MARGIN, MAX_LIMIT)
        found = guarded(b.config, lambda: b.client.search(
            b.chunks_name, data=[q.tolist()], anns_field="dense", limit=limit, output_fields=["row"],
            search_params=b.dense_params,
        ))[0]
        rows, scores = _ordered([h["entity"]["row"] for h in found], [h["distance"] for h in found], depth)
        return Ranked(rows, scores, lambda rows_: self.scores(q, rows_))

    def scores(self, query_vector: np.ndarray, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        rows = [int(r) for r in rows]
        if not rows:
            return np.zeros(0, np.float32)
        found = {e["row"]: e["dense"] for e in self.b.query_rows(rows, ["row", "dense"])}
        vectors = np.asarray([found[r] for r in rows], dtype=np.float32)
        return vectors @ np.asarray(query_vector, np.float32)


class MilvusSparse:
    def __init__(self, backend: MilvusBackend) -> None:
        self.b = backend

    def search(self, query_tokens: Sequence[str], depth: int) -> Ranked:
        self.b.forget_idf()
        self.b.prefetch_idf(query_tokens)  # highlighting asks for these next: one query, not one per token
        text = " ".join(query_tokens)
        if not text:
            return Ranked.empty()
        limit = min(depth + TIE_MARGIN, MAX_LIMIT)
        rows, scores = self._search(text, limit)
        rows, scores = _ordered(rows, scores, depth)
        keep = scores > 0
        return Ranked(rows[keep], scores[keep], lambda rows_: self.scores(text, rows_))

    def _search(self, text: str, limit: int, rows: Sequence[int] | None = None) -> tuple[list[int], list[float]]:
        b = self.b
        kwargs: dict[str, Any] = {}
        if rows is not None:
            kwargs = {"filter": rows_filter(rows)}
        found = guarded(b.config, lambda: b.client.search(
            b.chunks_name, data=[text], anns_field="bm25", limit=limit, output_fields=["row"],
            search_params={"metric_type": "BM25"}, **kwargs,
        ))[0]
        scale = b.manifest.bm25.k1 + 1  # Milvus's BM25 is (k1 + 1) times Lucene's
        return [h["entity"]["row"] for h in found], [h["distance"] / scale for h in found]

    def scores(self, text: str, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        rows = [int(r) for r in rows]
        out = np.zeros(len(rows), np.float32)
        if not rows or not text:
            return out
        known: dict[int, float] = {}
        for start in range(0, len(rows), MAX_LIMIT):
            batch = rows[start : start + MAX_LIMIT]
            found_rows, found_scores = self._search(text, len(batch), batch)
            known.update(zip(found_rows, found_scores))
        for i, r in enumerate(rows):
            out[i] = known.get(r, 0.0)
        return out


class MilvusRecords:
    """Chunks and documents read from Milvus on demand (the RecordReader protocol)."""

    def __init__(self, backend: MilvusBackend) -> None:
        self.b = backend
        self.n_chunks = backend.manifest.counts.chunks
        self.n_documents = backend.manifest.counts.documents

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        found = {e["row"]: e for e in self.b.query_rows([int(r) for r in rows], _CHUNK_FIELDS)}
        texts = self._texts({e["doc_id"] for e in found.values()})
        return [self._chunk(found[int(r)], texts) for r in rows]

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every chunk in row order (eval judges relevance over all of them)."""
        for start in range(0, self.n_chunks, READ_BATCH):
            yield from self.chunks_at(list(range(start, min(start + READ_BATCH, self.n_chunks))))

    @staticmethod
    def _chunk(e: dict[str, Any], texts: dict[str, str]) -> Chunk:
        text = texts[e["doc_id"]][e["start"] : e["end"]]
        return Chunk(e["id"], e["doc_id"], e["seq"], text, e["start"], e["end"], e["content_hash"])

    def _texts(self, doc_ids: set[str]) -> dict[str, str]:
        return {doc_id: doc.text for doc_id, (doc, _) in self._documents(sorted(doc_ids)).items()}

    def _documents(self, doc_ids: Sequence[str], with_text: bool = True) -> dict[str, tuple[Document, int]]:
        if not doc_ids:
            return {}
        fields = ["doc_id", "part", "meta"] + (["text"] if with_text else [])
        b = self.b
        parts: dict[str, list[tuple[int, str]]] = {}
        metas: dict[str, dict[str, Any]] = {}
        for start in range(0, len(doc_ids), READ_BATCH):
            batch = list(doc_ids[start : start + READ_BATCH])
            for e in guarded(b.config, lambda bt=batch: b.client.query(
                b.documents_name, filter=f"doc_id in {literal(bt)}", output_fields=fields,
            )):
                parts.setdefault(e["doc_id"], []).append((e["part"], e.get("text", "")))
                metas[e["doc_id"]] = json.loads(e["meta"])
        out = {}
        for doc_id, meta in metas.items():
            text = "".join(t for _, t in sorted(parts[doc_id])) if with_text else ""
            doc = Document(doc_id, meta["title"], meta["source"], meta["published"], meta["author"], meta["url"], text)
            out[doc_id] = (doc, int(meta["chunks"]))
        return out

    def document(self, doc_id: str) -> Document | None:
        found = self._documents([doc_id]).get(doc_id)
        return found[0] if found else None

    def chunk_count(self, doc_id: str) -> int:
        found = self._documents([doc_id], with_text=False).get(doc_id)
        return found[1] if found else 0

    def documents_page(self, offset: int, limit: int) -> list[tuple[Document, int]]:
        b = self.b
        found = guarded(b.config, lambda: b.client.query(
            b.documents_name, filter=f"part == 0 and ord >= {int(offset)} and ord < {int(offset) + int(limit)}",
            output_fields=["doc_id", "ord", "meta"],
        ))
        out = []
        for e in sorted(found, key=lambda e: e["ord"]):
            meta = json.loads(e["meta"])
            doc = Document(e["doc_id"], meta["title"], meta["source"], meta["published"], meta["author"], meta["url"], "")
            out.append((doc, int(meta["chunks"])))
        return out


class MilvusBackend:
    """A SearchBackend over the collections of one `MilvusConfig`."""

    def __init__(self, config: MilvusConfig, client: Any, manifest: Manifest, ef_search: int | None = None, nprobe: int | None = None) -> None:
        self.config = config
        self.client = client
        self.manifest = manifest
        self.chunks_name = config.name("chunks")
        self.documents_name = config.name("documents")
        self.terms_name = config.name("terms")
        self.dense_params = search_params(manifest.ann, ef_search, nprobe)
        self.records = MilvusRecords(self)
        self._dense = MilvusDense(self)
        self._sparse = MilvusSparse(self)
        self._idf: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def directory(self) -> str:
        """Where the index lives, for messages and reports (the local index's is its directory)."""
        return self.config.location

    @property
    def size(self) -> int:
        return self.manifest.counts.chunks

    @property
    def dense(self) -> MilvusDense:
        return self._dense

    @property
    def sparse(self) -> MilvusSparse:
        return self._sparse

    @property
    def chunks(self) -> list[Chunk]:
        return list(self.records.iter_chunks())

    def query_rows(self, rows: list[int], fields: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(rows), READ_BATCH):
            batch = rows[start : start + READ_BATCH]
            out.extend(guarded(self.config, lambda b=batch: self.client.query(
                self.chunks_name, filter=rows_filter(b), output_fields=fields,
            )))
        return out

    def forget_idf(self) -> None:
        """Each query reads document frequencies afresh (another process may have synced since)."""
        self._idf = {}

    def prefetch_idf(self, tokens: Sequence[str]) -> None:
        wanted = sorted(set(tokens) - set(self._idf))
        if not wanted:
            return
        found = guarded(self.config, lambda: self.client.query(self.terms_name, ids=wanted, output_fields=["df"]))
        df = {e["key"]: int(e["df"]) for e in found}
        cache = self._idf
        for token in wanted:
            cache[token] = self._lucene_idf(df.get(token, 0))

    def idf_many(self, tokens: Sequence[str]) -> dict[str, float]:
        """Lucene idf of every token, the unknown ones read in one query."""
        self.prefetch_idf(tokens)
        cache = self._idf
        return {t: cache[t] if t in cache else self.idf(t) for t in tokens}

    def _lucene_idf(self, df: int) -> float:
        n = self.size
        return float(np.log1p((n - df + 0.5) / (df + 0.5)))

    def idf(self, token: str) -> float:
        """Lucene idf from the terms collection (the same formula as index/bm25.py)."""
        cache = self._idf
        if token not in cache:
            cache[token] = self._lucene_idf(self.document_frequency(token))
        return cache[token]

    def document_frequency(self, token: str) -> int:
        """How many passages hold the token (0 for a word the corpus never uses)."""
        found = guarded(self.config, lambda: self.client.query(self.terms_name, ids=[token], output_fields=["df"]))
        return int(found[0]["df"]) if found else 0


def open_milvus(
    config: MilvusConfig, embedder_spec: str | None = None, ef_search: int | None = None, nprobe: int | None = None
) -> MilvusBackend:
    """Connect, read the manifest and check it against the configured embedder and the collections."""
    client = connect(config)
    manifest = read_manifest(client, config)
    if embedder_spec is not None:
        check_embedder(manifest, embedder_spec, config)
    names = [config.name(k) for k in ("chunks", "documents", "terms")]
    missing = [n for n in names if not guarded(config, lambda n=n: client.has_collection(n))]
    if missing:
        raise IndexMismatch(f"the index in {config.location} is incomplete ({', '.join(missing)} missing); {rebuild_hint(config)}")
    found = guarded(config, lambda: client.query(config.name("chunks"), filter="", output_fields=["count(*)"]))
    n = int(found[0]["count(*)"])
    if n != manifest.counts.chunks:
        raise IndexMismatch(
            f"the index in {config.location} does not match its manifest ({manifest.counts.chunks} chunks): "
            f"the chunks collection has {n}; {rebuild_hint(config)}"
        )
    return MilvusBackend(config, client, manifest, ef_search, nprobe)
