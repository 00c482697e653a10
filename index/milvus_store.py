"""The Milvus backend's storage: collections, the manifest, and an incremental build (sync).

pymilvus speaks the same API to an embedded milvus-lite file (a path: tests, laptops) and to a
Milvus server or cluster (``http(s)://``). Four collections share a name prefix::

    <prefix>_chunks     one entity per passage: id (primary key), row (corpus order: ties break by
                        it, as in the local index), doc_id, seq, start, end, content_hash,
                        embed_key (hash of the embedded text), sig (hash of every stored field),
                        the dense vector, `tokens` (the passage's Korean tokens joined by spaces)
                        and `bm25`, the sparse vector Milvus derives from `tokens` itself
    <prefix>_documents  metadata and cleaned text (split in parts under Milvus's VARCHAR limit),
                        so citations need no local file
    <prefix>_terms      document frequency of every token (BM25 idf for highlighting)
    <prefix>_meta       one entity: the typed Manifest (index/manifest.py) as JSON

Korean BM25 runs inside Milvus: the built-in BM25 Function with the ``whitespace`` tokenizer over
text that our own MeCab tokenizer has already split (index/tokenizers.py). Its scores are exactly
(k1 + 1) times the project's BM25 (index/bm25.py: Lucene idf, k1 1.2, b 0.75), with idf and the
average passage length kept by Milvus over the whole collection. The alternative, client-side
sparse vectors (saturated tf per passage, idf as query weights), reproduces the scores as well,
but each passage's weight depends on the corpus's average length: any change to the corpus
changes every stored vector, so an incremental sync would rewrite the whole collection, and the
writer would have to own corpus statistics. With the server function a sync writes only the
passages that changed, and any number of stateless replicas read the same statistics.

Milvus has no collection properties in milvus-lite (UNIMPLEMENTED), so the manifest lives in a
one-entity collection. Every collection is created with consistency level ``Strong``: a search
waits until every write acknowledged before it is visible, so the query after a build (from any
replica) sees the build. The manifest is written last; a sync is not atomic like the local
index's version switch: queries during a sync may see a mix of old and new passages.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index.ann import AnnConfig
from index.bm25 import EMPTY_PASSAGE_TOKEN, BM25Params
from index.embedders import BaseEmbedder
from index.errors import IndexMismatch, IndexNotFound, InvalidSetting
from index.manifest import (
    FORMAT_VERSION,
    AnnRecord,
    BM25Record,
    CorpusRecord,
    Counts,
    Manifest,
    check_embedder as manifest_check_embedder,
    embedder_record,
    first_problem,
    now,
    package_versions,
)
from index.tokenizers import Tokenizer, tokenize_many
from ingest.documents import Chunk, Document, content_hash
from ingest.errors import AihubQaError

DEFAULT_URI = "var/milvus.db"  # milvus-lite file; a server is http://host:19530
DEFAULT_COLLECTION = "aihub_qa"
CONNECT_TIMEOUT = 5.0  # seconds to wait for a Milvus server before saying it cannot be reached
CONSISTENCY = "Strong"  # writes acknowledged before a query are visible to it (see the docstring)
WRITE_BATCH = 512  # entities per insert/upsert call
READ_BATCH = 4096  # entities per page when reading a collection or querying by ids
TEXT_PART_CHARS = 16_000  # a document's text is stored in parts: 16,000 chars ≤ 64 KB of UTF-8
MAX_VARCHAR = 65_535  # Milvus's VARCHAR limit, in bytes
DUMMY_DIM = 2  # Milvus needs a vector field in every collection; documents/terms/meta hold a constant one
MANIFEST_KEY = "manifest"
WRITING = "writing to Milvus"

Progress = Callable[[str, int, int], None]


class BackendUnavailable(AihubQaError):
    """Milvus cannot be reached (or refused a request): the reason in one line."""


@dataclass(frozen=True)
class MilvusConfig:
    """Where the collections live. `uri`: a file path (milvus-lite) or http(s)://host:port."""

    uri: str = DEFAULT_URI
    collection: str = DEFAULT_COLLECTION
    token: str = ""
    ann: AnnConfig = field(default_factory=AnnConfig)

    def __post_init__(self) -> None:
        if not self.collection or not all(ch.isalnum() or ch == "_" for ch in self.collection) or self.collection[0].isdigit():
            raise InvalidSetting(
                f"milvus collection prefix must be letters, digits and underscores, not starting with a digit; got '{self.collection}'"
            )

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "grpc://"))

    @property
    def location(self) -> str:
        """How messages name this index: milvus <uri> collection <prefix>."""
        return f"milvus {self.uri} collection {self.collection}"

    def name(self, kind: str) -> str:
        return f"{self.collection}_{kind}"

    def with_collection(self, collection: str) -> MilvusConfig:
        return MilvusConfig(self.uri, collection, self.token, self.ann)


def rebuild_hint(config: MilvusConfig) -> str:
    return f"rebuild with: AIHUB_QA_BACKEND=milvus AIHUB_QA_MILVUS_URI={config.uri} AIHUB_QA_MILVUS_COLLECTION={config.collection} aihub-qa build"


def one_line(exc: BaseException) -> str:
    """A Milvus/grpc error as one short line (its message, never its traceback)."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:240]


def connect(config: MilvusConfig) -> Any:
    """A MilvusClient; an unreachable server or unusable file is BackendUnavailable."""
    from pymilvus import MilvusClient

    _quiet_client_logs()
    try:
        if config.is_lite:
            import warnings
            from pathlib import Path

            Path(config.uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)

            with warnings.catch_warnings():  # milvus-lite 2.5 imports the deprecated pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                return MilvusClient(config.uri)
        return MilvusClient(uri=config.uri, token=config.token, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # pymilvus raises MilvusException, grpc errors or OSError here
        busy = config.is_lite and "not exist" not in str(exc)
        hint = " (milvus-lite opens a file from one process at a time; is another one using it?)" if busy else ""
        raise BackendUnavailable(f"cannot reach milvus at {config.uri}: {one_line(exc)}{hint}") from None


def _quiet_client_logs() -> None:
    """pymilvus and milvus-lite log their errors to stderr; ours say the same in one line."""
    import logging

    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    root = logging.getLogger()
    if not any(isinstance(f, _FromMilvusLite) for f in root.filters):
        root.addFilter(_FromMilvusLite())  # milvus-lite logs on the root logger


class _FromMilvusLite:
    @staticmethod
    def filter(record: Any) -> bool:
        return "milvus_lite" not in str(getattr(record, "pathname", ""))


def guarded(config: MilvusConfig, action: Callable[[], Any]) -> Any:
    """Run one Milvus call; a failure of Milvus itself is BackendUnavailable with one line."""
    try:
        return action()
    except AihubQaError:
        raise
    except Exception as exc:
        raise BackendUnavailable(f"milvus at {config.uri} failed: {one_line(exc)}") from None


# ---- schema ------------------------------------------------------------------------------------------


def dense_index(config: MilvusConfig, n: int) -> tuple[AnnRecord, dict[str, Any]]:
    """The dense index type from the backend's capabilities: milvus-lite has FLAT and IVF_FLAT only;
    a server gets HNSW for `auto` from AUTO_APPROXIMATE_FROM passages on (index/ann.py)."""
    requested = config.ann.type
    record = config.ann.resolve(n)
    if config.is_lite and record.type == "hnsw":
        if requested == "hnsw":
            raise InvalidSetting("milvus-lite has no HNSW index; use ann flat or ivf (or a Milvus server)")
        record = AnnRecord(type="flat", params={})  # auto on milvus-lite: exact search
    kind = {"flat": "FLAT", "hnsw": "HNSW", "ivf": "IVF_FLAT"}[record.type]
    params: dict[str, Any] = {}
    if record.type == "hnsw":
        params = {"M": record.params["m"], "efConstruction": record.params["ef_construction"]}
    elif record.type == "ivf":
        params = {"nlist": record.params["nlist"]}
    return record, {"index_type": kind, "metric_type": "IP", "params": params}


def search_params(record: AnnRecord, ef_search: int | None = None, nprobe: int | None = None) -> dict[str, Any]:
    if record.type == "hnsw":
        return {"metric_type": "IP", "params": {"ef": ef_search or record.params["ef_search"]}}
    if record.type == "ivf":
        return {"metric_type": "IP", "params": {"nprobe": nprobe or record.params["nprobe"]}}
    return {"metric_type": "IP", "params": {}}


def _create_chunks(client: Any, config: MilvusConfig, dim: int, dense: dict[str, Any], bm25: BM25Params) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("row", DataType.INT64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("seq", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
    schema.add_field("embed_key", DataType.VARCHAR, max_length=64)
    schema.add_field("sig", DataType.VARCHAR, max_length=64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field(
        "tokens", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
        analyzer_params={"tokenizer": "whitespace"},
    )
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["tokens"], output_field_names=["bm25"])
    )
    index = client.prepare_index_params()
    index.add_index("dense", **dense)
    index.add_index(
        "bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": bm25.k1, "bm25_b": bm25.b}
    )
    client.create_collection(config.name("chunks"), schema=schema, index_params=index, consistency_level=CONSISTENCY)


def _create_keyed(client: Any, name: str, fields: Sequence[tuple[str, str]]) -> None:
    """A collection keyed by a VARCHAR `key`, with scalar `fields` and the constant dummy vector."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
    for fname, kind in fields:
        if kind == "int":
            schema.add_field(fname, DataType.INT64)
        else:
            schema.add_field(fname, DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level=CONSISTENCY)


DOC_FIELDS = (("doc_id", "str"), ("part", "int"), ("ord", "int"), ("sig", "str"), ("meta", "str"), ("text", "str"))
TERM_FIELDS = (("df", "int"),)
META_FIELDS = (("value", "str"),)
_DUMMY = [0.0] * DUMMY_DIM


def _create_all(client: Any, config: MilvusConfig, dim: int, dense: dict[str, Any], bm25: BM25Params) -> None:
    _create_chunks(client, config, dim, dense, bm25)
    _create_keyed(client, config.name("documents"), DOC_FIELDS)
    _create_keyed(client, config.name("terms"), TERM_FIELDS)
    _create_keyed(client, config.name("meta"), META_FIELDS)


def drop_all(client: Any, config: MilvusConfig) -> None:
    for kind in ("meta", "chunks", "documents", "terms"):
        if client.has_collection(config.name(kind)):
            client.drop_collection(config.name(kind))


# ---- manifest ----------------------------------------------------------------------------------------


def read_manifest(client: Any, config: MilvusConfig) -> Manifest:
    """The manifest stored with the collections; IndexNotFound / IndexMismatch with what to run."""
    name = config.name("meta")
    if not guarded(config, lambda: client.has_collection(name)):
        raise IndexNotFound(f"no index in {config.location}; build it with: {rebuild_hint(config).split(': ', 1)[1]}")
    found = guarded(config, lambda: client.query(name, ids=[MANIFEST_KEY], output_fields=["value"]))
    if not found:
        raise IndexNotFound(f"the index in {config.location} is incomplete (no manifest); {rebuild_hint(config)}")
    from pydantic import ValidationError

    try:
        return Manifest.model_validate_json(found[0]["value"])
    except ValidationError as exc:
        raise IndexMismatch(f"the manifest in {config.location}: {first_problem(exc)}; {rebuild_hint(config)}") from None


def check_embedder(manifest: Manifest, embedder_spec: str, config: MilvusConfig) -> None:
    manifest_check_embedder(manifest, embedder_spec, f"in {config.location}", rebuild_hint(config))


def current_manifest(config: MilvusConfig) -> Manifest:
    return read_manifest(connect(config), config)


# ---- sync (an incremental build) -----------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    """What a build did. Counts of entities written or deleted per collection: a second build of an
    unchanged corpus has all of them zero."""

    index_dir: str  # where: "milvus <uri> collection <prefix>" (the name the CLI prints)
    documents: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    ann: str
    chunks_written: int = 0
    chunks_deleted: int = 0
    documents_written: int = 0
    documents_deleted: int = 0
    terms_written: int = 0
    terms_deleted: int = 0
    manifest_written: bool = False
    recreated: bool = False  # collections were dropped first (embedder, tokenizer or BM25 changed)

    @property
    def writes(self) -> int:
        return (
            self.chunks_written + self.chunks_deleted + self.documents_written + self.documents_deleted
            + self.terms_written + self.terms_deleted + int(self.manifest_written)
        )


def sync_index(
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    inputs: Sequence[str],
    config: MilvusConfig,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    manifest_base: dict[str, Any],
    progress: Progress | None = None,
) -> SyncReport:
    """Make the collections hold exactly `documents` and `chunks` (row i = chunks[i]), writing only
    what differs from what they hold; `inputs[i]` is the text embedded and tokenized for chunk i.

    `manifest_base`: the manifest fields the caller decides (chunking, title_context, corpus)."""
    started = time.perf_counter()
    client = connect(config)
    bm25 = BM25Params()
    ann_record, dense = dense_index(config, len(chunks))
    wanted_embedder = embedder_record(embedder.describe())
    recreated = False
    try:
        old = read_manifest(client, config)
    except (IndexNotFound, IndexMismatch):
        old = None
    if old is None or old.embedder.identity() != wanted_embedder.identity() or old.tokenizer != tokenizer.name or old.ann != ann_record or (
        old.bm25.k1, old.bm25.b) != (bm25.k1, bm25.b):
        guarded(config, lambda: drop_all(client, config))
        guarded(config, lambda: _create_all(client, config, embedder.dim, dense, bm25))
        recreated = old is not None
        old = None

    keys = [content_hash(text) for text in inputs]
    tokens = list(tokenize_many(tokenizer, inputs, _stage(progress, "tokenizing")))
    token_text = [" ".join(t) if t else EMPTY_PASSAGE_TOKEN for t in tokens]
    sigs = [_chunk_sig(row, c, key, text) for row, (c, key, text) in enumerate(zip(chunks, keys, token_text))]

    chunks_name = config.name("chunks")
    stored = {
        e["id"]: e for e in _read_all(client, config, chunks_name, ["id", "sig", "embed_key", "tokens"])
    }
    changed = [i for i, c in enumerate(chunks) if stored.get(c.id, {}).get("sig") != sigs[i]]
    wanted_ids = {c.id for c in chunks}
    gone = [cid for cid in stored if cid not in wanted_ids]

    # vectors: reuse any stored vector of the same embedded text, embed the rest
    by_key = {e["embed_key"]: cid for cid, e in stored.items()}
    reuse = {i: by_key[keys[i]] for i in changed if keys[i] in by_key}
    vectors = np.zeros((len(changed), embedder.dim), dtype=np.float32)
    position = {row: j for j, row in enumerate(changed)}
    if reuse:
        found = _vectors_of(client, config, list(dict.fromkeys(reuse.values())))
        for row, cid in reuse.items():
            vectors[position[row]] = found[cid]
    todo = [row for row in changed if row not in reuse]
    embed = _stage(progress, "embedding passages")
    for start in range(0, len(todo), 64):
        rows = todo[start : start + 64]
        vectors[[position[r] for r in rows]] = embedder.embed_passages([inputs[r] for r in rows])
        if embed:
            embed(min(start + 64, len(todo)), len(todo))

    # document frequencies: subtract what changed or disappeared, add what is written
    df_delta: Counter[str] = Counter()
    for cid in [chunks[i].id for i in changed if chunks[i].id in stored] + gone:
        df_delta.subtract(set(stored[cid]["tokens"].split(" ")))
    for i in changed:
        df_delta.update(set(token_text[i].split(" ")))

    write = _stage(progress, WRITING)
    entities = (
        {
            "id": chunks[i].id, "row": i, "doc_id": chunks[i].doc_id, "seq": chunks[i].seq, "start": chunks[i].start,
            "end": chunks[i].end, "content_hash": chunks[i].content_hash, "embed_key": keys[i], "sig": sigs[i],
            "dense": vectors[position[i]].tolist(), "tokens": _checked_tokens(token_text[i], chunks[i]),
        }
        for i in changed
    )
    _write(client, config, chunks_name, entities, len(changed), new_keys={c.id for c in chunks} - set(stored), key="id", progress=write)
    if gone:
        _delete(client, config, chunks_name, gone)

    doc_written, doc_deleted = _sync_documents(client, config, documents, chunks)
    terms_written, terms_deleted = _sync_terms(client, config, df_delta)

    counts = Counter(c.doc_id for c in chunks)
    del counts
    ids_digest = hashlib.sha256()
    for c in chunks:
        ids_digest.update(c.id.encode("utf-8") + b"\n")
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        embedder=wanted_embedder,
        tokenizer=tokenizer.name,
        ann=ann_record,
        bm25=BM25Record(k1=bm25.k1, b=bm25.b, vocabulary=_count(client, config, config.name("terms"))),
        counts=Counts(documents=len(documents), chunks=len(chunks)),
        chunk_ids_sha256=ids_digest.hexdigest(),
        files={},
        versions={**package_versions(), **_milvus_versions()},
        created=now(),
        **manifest_base,
    )
    manifest_written = old is None or _differs(old, manifest)
    if manifest_written:
        meta = {"key": MANIFEST_KEY, "value": manifest.model_dump_json(), "v": _DUMMY}
        guarded(config, lambda: client.upsert(config.name("meta"), [meta]))
    return SyncReport(
        index_dir=config.location,
        documents=len(documents),
        chunks=len(chunks),
        embedded=len(todo),
        reused=len(chunks) - len(todo),
        seconds=time.perf_counter() - started,
        ann=ann_record.type,
        chunks_written=len(changed),
        chunks_deleted=len(gone),
        documents_written=doc_written,
        documents_deleted=doc_deleted,
        terms_written=terms_written,
        terms_deleted=terms_deleted,
        manifest_written=manifest_written,
        recreated=recreated,
    )


def _differs(old: Manifest, new: Manifest) -> bool:
    """Anything but the creation time and package versions differs."""
    skip = {"created", "versions"}
    return old.model_dump(exclude=skip) != new.model_dump(exclude=skip)


def _milvus_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("pymilvus", "milvus-lite"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _chunk_sig(row: int, chunk: Chunk, key: str, tokens: str) -> str:
    parts = (str(row), chunk.doc_id, str(chunk.seq), str(chunk.start), str(chunk.end), chunk.content_hash, key, tokens)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _checked_tokens(text: str, chunk: Chunk) -> str:
    if len(text.encode("utf-8")) > MAX_VARCHAR:
        raise InvalidSetting(
            f"passage {chunk.id} has {len(text.encode('utf-8'))} bytes of BM25 tokens, over Milvus's {MAX_VARCHAR}; "
            "use smaller chunks"
        )
    return text


def _sync_documents(client: Any, config: MilvusConfig, documents: Sequence[Document], chunks: Sequence[Chunk]) -> tuple[int, int]:
    name = config.name("documents")
    counts = Counter(c.doc_id for c in chunks)
    wanted: dict[str, dict[str, Any]] = {}
    for ord_, doc in enumerate(documents):
        meta = json.dumps(
            {"title": doc.title, "source": doc.source, "published": doc.published, "author": doc.author,
             "url": doc.url, "chunks": counts.get(doc.id, 0)},
            ensure_ascii=False,
        )
        parts = [doc.text[i : i + TEXT_PART_CHARS] for i in range(0, len(doc.text), TEXT_PART_CHARS)] or [""]
        sig = hashlib.sha256(f"{ord_}\x1f{meta}\x1f{doc.text}".encode("utf-8")).hexdigest()[:32]
        for part, text in enumerate(parts):
            key = f"{doc.id}\x1f{part}"
            wanted[key] = {"key": key, "doc_id": doc.id, "part": part, "ord": ord_, "sig": sig, "meta": meta, "text": text, "v": _DUMMY}
    stored = {e["key"]: e["sig"] for e in _read_all(client, config, name, ["key", "sig"])}
    changed = [e for k, e in wanted.items() if stored.get(k) != e["sig"]]
    _write(client, config, name, iter(changed), len(changed), new_keys=set(wanted) - set(stored), key="key")
    gone = [k for k in stored if k not in wanted]
    if gone:
        _delete(client, config, name, gone, key="key")
    return len({e["doc_id"] for e in changed}), len({k.split("\x1f")[0] for k in gone} - {e["doc_id"] for e in wanted.values()})


def _sync_terms(client: Any, config: MilvusConfig, delta: Counter[str]) -> tuple[int, int]:
    name = config.name("terms")
    touched = [t for t, d in delta.items() if d != 0]
    if not touched:
        return 0, 0
    old = {}
    for start in range(0, len(touched), READ_BATCH):
        batch = touched[start : start + READ_BATCH]
        for e in guarded(config, lambda b=batch: client.query(name, ids=b, output_fields=["df"])):
            old[e["key"]] = int(e["df"])
    new = {t: old.get(t, 0) + delta[t] for t in touched}
    keep = [{"key": t, "df": df, "v": _DUMMY} for t, df in new.items() if df > 0]
    gone = [t for t, df in new.items() if df <= 0 and t in old]
    _write(client, config, name, iter(keep), len(keep), new_keys={t for t in new if t not in old}, key="key")
    if gone:
        _delete(client, config, name, gone, key="key")
    return len(keep), len(gone)


def _write(
    client: Any, config: MilvusConfig, name: str, entities: Iterable[dict[str, Any]], total: int,
    new_keys: set[str], key: str, progress: Callable[[int, int], None] | None = None,
) -> None:
    """Insert entities whose key is new, upsert the others, in batches."""
    done = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        inserts = [e for e in batch if e[key] in new_keys]
        upserts = [e for e in batch if e[key] not in new_keys]
        if inserts:
            guarded(config, lambda: client.insert(name, inserts))
        if upserts:
            guarded(config, lambda: client.upsert(name, upserts))

    for entity in entities:
        batch.append(entity)
        if len(batch) >= WRITE_BATCH:
            flush()
            done += len(batch)
            batch = []
            if progress:
                progress(done, total)
    if batch:
        flush()
        done += len(batch)
    if progress:
        progress(done, total)


def _delete(client: Any, config: MilvusConfig, name: str, keys: Sequence[str], key: str = "id") -> None:
    for start in range(0, len(keys), READ_BATCH):
        batch = list(keys[start : start + READ_BATCH])
        guarded(config, lambda b=batch: client.delete(name, ids=b))


def _read_all(client: Any, config: MilvusConfig, name: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    """Every entity of a collection (the listed fields), page by page."""
    if not guarded(config, lambda: client.has_collection(name)):
        return
    iterator = guarded(config, lambda: client.query_iterator(name, batch_size=READ_BATCH, filter="", output_fields=fields))
    try:
        while True:
            page = guarded(config, iterator.next)
            if not page:
                break
            yield from page
    finally:
        iterator.close()


def _vectors_of(client: Any, config: MilvusConfig, ids: Sequence[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    name = config.name("chunks")
    for start in range(0, len(ids), READ_BATCH):
        batch = list(ids[start : start + READ_BATCH])
        for e in guarded(config, lambda b=batch: client.query(name, ids=b, output_fields=["dense"])):
            out[e["id"]] = np.asarray(e["dense"], dtype=np.float32)
    return out


def _count(client: Any, config: MilvusConfig, name: str) -> int:
    found = guarded(config, lambda: client.query(name, filter="", output_fields=["count(*)"]))
    return int(found[0]["count(*)"])


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def build_milvus(
    documents: Sequence[Document],
    config: MilvusConfig,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    chunking: Any,
    corpus: CorpusRecord,
    progress: Progress | None = None,
    title_context: bool = False,
) -> SyncReport:
    """index.store.build_index's counterpart: the same passages, synced into Milvus."""
    from index.store import check_chunk_size, chunking_record, passages_of

    check_chunk_size(chunking, embedder)
    chunks, inputs = passages_of(documents, embedder, chunking, title_context)
    base = {"chunking": chunking_record(chunking), "title_context": title_context, "corpus": corpus}
    return sync_index(documents, chunks, inputs, config, embedder, tokenizer, base, progress)


def is_stale(
    config: MilvusConfig, corpus_digest: str, embedder_spec: str, tokenizer: str, chunking: Any, title_context: bool
) -> bool:
    """True when the collections are missing or hold another corpus content or build settings."""
    from index.store import built_differently, chunking_record

    try:
        manifest = current_manifest(config)
    except (IndexNotFound, IndexMismatch):
        return True
    return (
        manifest.embedder.spec != embedder_spec
        or built_differently(manifest, tokenizer=tokenizer, chunking=chunking_record(chunking), title_context=title_context)
        or manifest.corpus.hash != corpus_digest
    )
