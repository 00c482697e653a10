"""The local index: build a version from documents (resumably, in bounded memory), load and check it.

A version directory (see index/directory.py for the index directory around it)::

    manifest.json     typed record of how it was built and what its files hold (index/manifest.py)
    vectors.npy       float32 passage vectors, row i = chunk i (memory-mapped: exact scores, reuse)
    vectors.faiss     the dense search structure over the same rows (flat, hnsw or ivf)
    bm25/             BM25 postings (memory-mapped) and vocabulary
    records.sqlite    chunk and document records (index/records.py)

A build embeds only passages whose text has no vector yet: vectors are reused by content hash
from the live version and from `staging/`, where every embedded batch is saved as it is done, so
a build that was killed resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.ann import AnnConfig, build_ann, configure_search
from index.bm25 import BM25Builder, BM25Index
from index.directory import IndexDirectory
from index.embedders import BaseEmbedder
from index.errors import IndexMismatch, IndexNotFound
from index.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    BM25Record,
    ChunkingRecord,
    CorpusRecord,
    Counts,
    Manifest,
    check_files,
    check_embedder as manifest_check_embedder,
    embedder_record,
    file_record,
    now,
    package_versions,
    read_manifest,
    rebuild_hint,
)
from index.retrievers import DenseRetriever, SparseRetriever
from index.records import RECORDS, ChunkTable, DocumentTable, Records, write_records
from index.tokenizers import Tokenizer, tokenize_many
from ingest.chunking import Chunker, ChunkingConfig
from ingest.documents import Chunk, Document, chunk_id, content_hash
from ingest.reader import corpus_hash, read_corpus

VECTORS = "vectors.npy"
DENSE = "vectors.faiss"
BM25_DIR = "bm25"
EMBED_BATCH = 64
STAGING_FLUSH_SECONDS = 30.0  # an interrupted build loses at most this much embedding work
STAGING_FLUSH_ROWS = 4096
CHUNK_IDS_CHECK_MAX = 250_000  # rows; above, the records file is checked by size (hashing ids takes seconds)
_COPY_BLOCK = 65_536

# (stage, done, total): stages are "embedding passages", "tokenizing", "building the dense index".
Progress = Callable[[str, int, int], None]
EMBEDDING = "embedding passages"
TOKENIZING = "tokenizing"
DENSE_BUILD = "building the dense index"


@dataclass(frozen=True)
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    embedded: int  # chunks whose vectors were computed in this build
    reused: int  # chunks whose vectors came from an earlier build (same content hash)
    seconds: float
    ann: str


@dataclass
class LoadedIndex:
    """Everything search needs. `vectors` (memory-mapped), the dense index, BM25 and the records
    are row-aligned; chunks and documents are read from the records file on demand."""

    directory: Path
    version: Path
    manifest: Manifest
    faiss_index: Any
    vectors: np.ndarray
    bm25: BM25Index
    records: Records
    chunks: ChunkTable = field(init=False)
    documents: DocumentTable = field(init=False)

    def __post_init__(self) -> None:
        self.chunks = ChunkTable(self.records)
        self.documents = DocumentTable(self.records)

    @property
    def size(self) -> int:
        return self.records.n_chunks

    @property
    def dense(self) -> DenseRetriever:
        return DenseRetriever(self.faiss_index, self.vectors)

    @property
    def sparse(self) -> SparseRetriever:
        return SparseRetriever(self.bm25)

    def idf(self, token: str) -> float:
        return self.bm25.idf(token)

    def idf_many(self, tokens: Sequence[str]) -> dict[str, float]:
        return {t: self.bm25.idf(t) for t in tokens}

    def document_frequency(self, token: str) -> int:
        return self.bm25.document_frequency(token)


def build_index(
    documents: Sequence[Document],
    index_dir: Path,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    chunking: ChunkingConfig | None,
    corpus: CorpusRecord,
    progress: Progress | None = None,
    title_context: bool = False,
    ann: AnnConfig | None = None,
) -> BuildReport:
    """Chunk, embed (reusing every vector already computed) and publish a new index version.

    With `title_context`, each passage is embedded and BM25-indexed with its article's title in
    front (chunk text and offsets stay exactly the article's). With `chunking=None` every document
    is one passage (benchmarks whose corpus is already passages).
    """
    started = time.perf_counter()
    check_chunk_size(chunking, embedder)
    directory = IndexDirectory(index_dir)
    directory.claim()
    with directory.lock():
        directory.remove_unused()
        chunks, inputs = passages_of(documents, embedder, chunking, title_context)
        keys = [content_hash(text) for text in inputs]
        version = directory.new_version()
        try:
            embedded = _fill_vectors(version / VECTORS, keys, inputs, embedder, directory, progress)
            vectors = np.load(version / VECTORS, mmap_mode="r")
            ann_record = (ann or AnnConfig()).resolve(len(chunks))
            _write_dense(ann_record, vectors, version / DENSE, progress)
            builder = BM25Builder()
            for tokens in tokenize_many(tokenizer, inputs, _stage(progress, TOKENIZING)):
                builder.add(tokens)
            bm25 = builder.build()
            del builder
            bm25.save(version / BM25_DIR)
            ids_digest = write_records(version / RECORDS, documents, chunks, keys)
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                embedder=embedder_record(embedder.describe()),
                tokenizer=tokenizer.name,
                chunking=chunking_record(chunking),
                title_context=title_context,
                ann=ann_record,
                bm25=BM25Record(k1=bm25.params.k1, b=bm25.params.b, vocabulary=len(bm25.vocab)),
                corpus=corpus,
                counts=Counts(documents=len(documents), chunks=len(chunks)),
                chunk_ids_sha256=ids_digest,
                files={
                    str(p.relative_to(version)): file_record(p) for p in sorted(version.rglob("*")) if p.is_file()
                },
                versions=package_versions(),
                created=now(),
            )
            (version / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
            directory.publish(version)
        except BaseException:
            import shutil

            shutil.rmtree(version, ignore_errors=True)
            raise
        _clear_staging(directory.staging())
    return BuildReport(
        index_dir=Path(index_dir),
        documents=len(documents),
        chunks=len(chunks),
        embedded=embedded,
        reused=len(chunks) - embedded,
        seconds=time.perf_counter() - started,
        ann=ann_record.type,
    )


def build_corpus_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    chunking: ChunkingConfig,
    progress: Progress | None = None,
    title_context: bool = False,
    ann: AnnConfig | None = None,
) -> BuildReport:
    """Build (or refresh) the index of a corpus directory of raw articles."""
    corpus = CorpusRecord(path=str(Path(corpus_dir).resolve()), hash=corpus_hash(corpus_dir))
    documents = read_corpus(corpus_dir)
    return build_index(documents, index_dir, embedder, tokenizer, chunking, corpus, progress, title_context, ann)


def chunking_record(chunking: ChunkingConfig | None) -> ChunkingRecord:
    """How the manifest records a chunking config (None: one passage per document)."""
    if chunking is None:
        return ChunkingRecord(whole_documents=True)
    return ChunkingRecord.model_validate(chunking.as_dict())


def check_chunk_size(chunking: ChunkingConfig | None, embedder: BaseEmbedder) -> None:
    if chunking is not None and chunking.max_tokens > embedder.max_tokens:
        raise IndexMismatch(
            f"chunk size {chunking.max_tokens} exceeds the embedder's maximum of {embedder.max_tokens} tokens"
        )


def passages_of(
    documents: Sequence[Document], embedder: BaseEmbedder, chunking: ChunkingConfig | None, title_context: bool
) -> tuple[list[Chunk], list[str]]:
    """The chunks of `documents` in corpus order and the text embedded and BM25-indexed for each
    (shared by every backend's build, so both index the same passages)."""
    if chunking is None:
        chunks = [whole_document_chunk(doc) for doc in documents]
    else:
        chunker = Chunker(chunking, embedder.count_tokens)
        chunks = [chunk for doc in documents for chunk in chunker.split(doc)]
    titles = {doc.id: doc.title for doc in documents}
    return chunks, [passage_input(c, titles[c.doc_id], title_context) for c in chunks]


def whole_document_chunk(doc: Document) -> Chunk:
    return Chunk(chunk_id(doc.id, 0), doc.id, 0, doc.text, 0, len(doc.text), content_hash(doc.text))


def passage_input(chunk: Chunk, title: str, title_context: bool) -> str:
    """The text that is embedded and BM25-indexed for a chunk."""
    return f"{title}\n{chunk.text}" if title_context and title else chunk.text


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _write_dense(record: Any, vectors: np.ndarray, path: Path, progress: Progress | None) -> None:
    import faiss

    index = build_ann(record, vectors, _stage(progress, DENSE_BUILD))
    faiss.write_index(index, str(path))


# ---- vectors: reuse by content hash, resumable embedding -----------------------------------------

_STAGING_META = "embedder.json"


def _fill_vectors(
    path: Path,
    keys: Sequence[str],
    inputs: Sequence[str],
    embedder: BaseEmbedder,
    directory: IndexDirectory,
    progress: Progress | None,
) -> int:
    """Write vectors.npy row by row; returns how many passages were embedded now."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(keys), embedder.dim))
    missing = np.ones(len(keys), dtype=bool)
    wanted: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        wanted.setdefault(key, []).append(row)
    staging = directory.staging()
    description = json.dumps(embedder.describe(), sort_keys=True)
    meta = staging / _STAGING_META
    if not meta.is_file() or meta.read_text(encoding="utf-8") != description:
        _clear_staging(staging)
        staging.mkdir(parents=True, exist_ok=True)
        meta.write_text(description, encoding="utf-8")
    for source_keys, source_vectors in _reuse_sources(directory, embedder, staging):
        _copy_matching(out, missing, wanted, source_keys, source_vectors)

    todo = sorted((int(r) for r in np.flatnonzero(missing)), key=lambda r: len(inputs[r]))
    embed = _stage(progress, EMBEDDING)
    if embed:
        embed(0, len(todo))
    pending_rows: list[int] = []
    last_flush = time.monotonic()
    for start in range(0, len(todo), EMBED_BATCH):
        rows = todo[start : start + EMBED_BATCH]
        out[rows] = embedder.embed_passages([inputs[r] for r in rows])
        pending_rows.extend(rows)
        if len(pending_rows) >= STAGING_FLUSH_ROWS or time.monotonic() - last_flush > STAGING_FLUSH_SECONDS:
            _write_shard(staging, [keys[r] for r in pending_rows], out[pending_rows])
            pending_rows, last_flush = [], time.monotonic()
        if embed:
            embed(min(start + EMBED_BATCH, len(todo)), len(todo))
    out.flush()
    del out
    return len(todo)


def _reuse_sources(directory: IndexDirectory, embedder: BaseEmbedder, staging: Path):  # type: ignore[no-untyped-def]
    """(keys, vectors) pairs to take vectors from: the live version (same embedder), then staging."""
    try:
        version = directory.current_version()
        manifest = read_manifest(version, directory.path)
        if manifest.embedder.identity() == embedder_record(embedder.describe()).identity():
            keys = Records(version / RECORDS).embed_keys()
            yield keys, np.load(version / VECTORS, mmap_mode="r")
    except (IndexNotFound, IndexMismatch, OSError, ValueError, sqlite3.Error):
        pass  # no usable live version: nothing to reuse from it
    for keys_file in sorted(staging.glob("*.keys")):
        try:
            keys = keys_file.read_text(encoding="utf-8").split("\n")
            vectors = np.load(keys_file.with_suffix(".npy"), mmap_mode="r")
        except (OSError, ValueError):
            continue  # a shard cut short by a crash: its passages are embedded again
        if vectors.shape == (len(keys), embedder.dim):
            yield keys, vectors


def _copy_matching(
    out: np.ndarray, missing: np.ndarray, wanted: dict[str, list[int]], keys: Sequence[str], vectors: np.ndarray
) -> None:
    pairs = [(row, i) for i, key in enumerate(keys) for row in wanted.get(key, ()) if missing[row]]
    for start in range(0, len(pairs), _COPY_BLOCK):
        block = pairs[start : start + _COPY_BLOCK]
        rows = [p[0] for p in block]
        out[rows] = vectors[[p[1] for p in block]]
        missing[rows] = False


def _write_shard(staging: Path, keys: Sequence[str], vectors: np.ndarray) -> None:
    """Save embedded vectors so a killed build can resume: the .keys file is renamed in last."""
    name = f"{time.time_ns():020d}-{os.getpid()}"
    np.save(staging / f"{name}.npy", np.ascontiguousarray(vectors))
    tmp = staging / f".{name}.keys.tmp"
    tmp.write_text("\n".join(keys), encoding="utf-8")
    os.replace(tmp, staging / f"{name}.keys")


def _clear_staging(staging: Path) -> None:
    if staging.is_dir():
        for entry in staging.iterdir():
            if entry.is_file():
                entry.unlink(missing_ok=True)


# ---- loading ---------------------------------------------------------------------------------------


def current_manifest(index_dir: Path) -> Manifest:
    """The manifest of the live version; IndexNotFound / IndexMismatch with what to run."""
    directory = IndexDirectory(index_dir)
    return read_manifest(directory.current_version(), Path(index_dir))


def check_embedder(manifest: Manifest, embedder_spec: str, index_dir: Path) -> None:
    manifest_check_embedder(manifest, embedder_spec, f"at {index_dir}", f"rebuild with: aihub-qa build --index {index_dir}")


def load_index(
    index_dir: Path, embedder_spec: str | None = None, ef_search: int | None = None, nprobe: int | None = None
) -> LoadedIndex:
    """Load and check the live version: its files against the manifest, the rows against each other."""
    index_dir = Path(index_dir)
    version = IndexDirectory(index_dir).current_version()
    manifest = read_manifest(version, index_dir)
    if embedder_spec is not None:
        check_embedder(manifest, embedder_spec, index_dir)
    check_files(manifest, version, index_dir)
    faiss_index = _read(index_dir, DENSE, lambda: _read_faiss(version / DENSE))
    # memory-mapped, read through a plain ndarray view (no numpy.memmap overhead on each read)
    vectors = _read(index_dir, VECTORS, lambda: np.asarray(np.load(version / VECTORS, mmap_mode="r")))
    bm25 = _read(index_dir, BM25_DIR, lambda: BM25Index.load(version / BM25_DIR))
    records = _read(index_dir, RECORDS, lambda: Records(version / RECORDS))
    _check_consistent(index_dir, manifest, faiss_index, vectors, bm25, records)
    configure_search(faiss_index, manifest.ann, ef_search, nprobe)
    # One query at a time is searched per thread: FAISS's OpenMP threads only add overhead there
    # (flat search at 10k: 0.5 ms CPU on one thread against 3.1 ms on two, measured side by side).
    faiss_threads(1)
    return LoadedIndex(index_dir, version, manifest, faiss_index, vectors, bm25, records)


def faiss_threads(n: int) -> None:
    import faiss

    faiss.omp_set_num_threads(n)


def _read_faiss(path: Path) -> Any:
    import faiss

    return faiss.read_index(str(path))


def _read(index_dir: Path, name: str, reader: Callable[[], Any]) -> Any:
    try:
        return reader()
    except Exception as exc:  # any unreadable file means the same thing to the user
        reason = str(exc).strip().splitlines()[-1][:160] if str(exc).strip() else type(exc).__name__
        raise IndexMismatch(f"index at {index_dir} is damaged: {name} cannot be read ({reason}); {rebuild_hint(index_dir)}") from None


def _check_consistent(
    index_dir: Path, manifest: Manifest, faiss_index: Any, vectors: np.ndarray, bm25: BM25Index, records: Records
) -> None:
    hint = rebuild_hint(index_dir)
    dim = manifest.embedder.dim
    if faiss_index.d != dim or vectors.ndim != 2 or vectors.shape[1] != dim:
        found = vectors.shape[1] if vectors.ndim == 2 else vectors.shape
        raise IndexMismatch(
            f"index at {index_dir} does not match its manifest: vectors have dimension {faiss_index.d} "
            f"(vectors.faiss) and {found} (vectors.npy), the manifest's embedder has {dim}; {hint}"
        )
    counts = {
        "vectors.faiss": faiss_index.ntotal,
        "vectors.npy": vectors.shape[0],
        "bm25": bm25.n_docs,
        "records.sqlite": records.n_chunks,
    }
    wrong = {name: n for name, n in counts.items() if n != manifest.counts.chunks}
    if wrong:
        found = ", ".join(f"{name} has {n}" for name, n in wrong.items())
        raise IndexMismatch(
            f"index at {index_dir} does not match its manifest ({manifest.counts.chunks} chunks): {found}; {hint}"
        )
    if records.n_documents != manifest.counts.documents:
        raise IndexMismatch(
            f"index at {index_dir} does not match its manifest: {records.n_documents} documents, "
            f"the manifest says {manifest.counts.documents}; {hint}"
        )
    if records.n_chunks <= CHUNK_IDS_CHECK_MAX and records.chunk_ids_sha256() != manifest.chunk_ids_sha256:
        raise IndexMismatch(f"index at {index_dir} is damaged: chunk records are not in their recorded order; {hint}")


# ---- staleness ---------------------------------------------------------------------------------------


def built_differently(
    manifest: Manifest,
    *,
    embedder: dict[str, Any] | None = None,
    tokenizer: str | None = None,
    chunking: ChunkingRecord | None = None,
    title_context: bool | None = None,
) -> bool:
    """True when the manifest records another embedder (full description), tokenizer, chunking or
    title setting than the ones given; None means "not checked"."""
    return (
        (embedder is not None and manifest.embedder.identity() != embedder_record(embedder).identity())
        or (tokenizer is not None and manifest.tokenizer != tokenizer)
        or (chunking is not None and manifest.chunking != chunking)
        or (title_context is not None and manifest.title_context != title_context)
    )


def is_stale(
    index_dir: Path,
    corpus_dir: Path,
    embedder_spec: str,
    tokenizer: str | None = None,
    chunking: ChunkingConfig | None = None,
    title_context: bool | None = None,
) -> bool:
    """True when the index is missing, unreadable, or built from another corpus content, embedder,
    tokenizer, chunking or title setting than the ones given (None: not checked)."""
    try:
        manifest = current_manifest(index_dir)
        check_embedder(manifest, embedder_spec, index_dir)
    except (IndexNotFound, IndexMismatch):
        return True
    record = chunking_record(chunking) if chunking is not None else None
    if built_differently(manifest, tokenizer=tokenizer, chunking=record, title_context=title_context):
        return True
    return manifest.corpus.hash != corpus_hash(corpus_dir)
