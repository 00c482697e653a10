"""All runtime settings in one typed class; environment variables use the prefix AIHUB_QA_.

Every limit the service enforces lives here, and only here: the request schema, the OpenAPI
document, the chat page (through GET /api/config) and the command line read them from this class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embedders import DEFAULT_EMBEDDER
from index.errors import InvalidSetting
from index.fusion import FusionConfig
from index.milvus_store import DEFAULT_COLLECTION, DEFAULT_URI
from index.tokenizers import DEFAULT_TOKENIZER
from ingest.chunking import ChunkingConfig

HARD_MAX_K = 1000  # a passage list longer than this is not an answer; also bounds memory per request


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIHUB_QA_", extra="ignore")

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("var/index")

    embedder: str = DEFAULT_EMBEDDER
    query_prefix: str | None = None  # sentence-transformers only; None = the model family's default
    passage_prefix: str | None = None
    tokenizer: str = DEFAULT_TOKENIZER
    chunk_tokens: int = Field(256, ge=16, le=8192)
    chunk_overlap: int = Field(48, ge=0)
    title_context: bool = False

    ann: Literal["auto", "flat", "hnsw", "ivf"] = "auto"  # index/ann.py: exact below 50,000 passages
    ann_ef_search: int | None = Field(None, ge=1)  # hnsw search breadth; None: as recorded in the manifest
    ann_nprobe: int | None = Field(None, ge=1)  # ivf cells searched; None: as recorded

    # Where the index lives: `local` (index_dir) or `milvus` (index/milvus_store.py). milvus_uri: a file
    # path (milvus-lite, one process at a time) or http(s)://host:19530 (a server: replicas share it).
    backend: Literal["local", "milvus"] = "local"
    milvus_uri: str = DEFAULT_URI
    milvus_token: SecretStr | None = None
    milvus_collection: str = DEFAULT_COLLECTION  # prefix of the collections: <prefix>_chunks, _documents, …

    fusion: Literal["convex", "rrf"] = "convex"
    bm25_weight: float = Field(FusionConfig.bm25_weight, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1)
    candidates: int = Field(50, ge=1)

    # Request limits (HTTP and CLI): the API schema, /api/config and the chat page follow them.
    default_k: int = Field(5, ge=1)
    max_k: int = Field(50, ge=1, le=HARD_MAX_K)
    max_question_chars: int = Field(2000, ge=1, le=100_000)
    max_body_bytes: int = Field(64 * 1024, ge=1024)

    # Server: slow or idle clients must not hold a connection (seconds).
    header_timeout: float = Field(10.0, gt=0)  # the request line and headers, from the first byte
    body_timeout: float = Field(10.0, gt=0)  # the whole request body
    keep_alive_timeout: int = Field(5, ge=1)  # an idle connection between requests
    search_workers: int = Field(4, ge=1, le=64)  # searches computed at once; the rest wait their turn

    cors_origins: list[str] = []
    api_key: SecretStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.default_k > self.max_k:
            raise ValueError(f"AIHUB_QA_DEFAULT_K ({self.default_k}) must not exceed AIHUB_QA_MAX_K ({self.max_k})")
        try:
            ChunkingConfig(self.chunk_tokens, self.chunk_overlap)  # the chunker's own rule
        except ValueError:
            raise ValueError(
                f"AIHUB_QA_CHUNK_OVERLAP ({self.chunk_overlap}) must be less than half of "
                f"AIHUB_QA_CHUNK_TOKENS ({self.chunk_tokens})"
            ) from None
        return self


def settings_error_line(exc: ValidationError) -> str:
    """The first problem of an invalid configuration as one line naming the setting."""
    first = exc.errors()[0]
    ctx_error = (first.get("ctx") or {}).get("error")
    message = str(ctx_error) if ctx_error is not None else first["msg"]
    loc = [str(part) for part in first.get("loc", ())]
    if not loc:
        return f"bad settings: {message}"
    name = loc[0]
    env = f"AIHUB_QA_{name.upper()}" if name in Settings.model_fields else ""
    where = f"{'.'.join(loc)} ({env})" if env else ".".join(loc)
    return f"bad setting {where}: {message}"


def settings_with(**overrides: object) -> Settings:
    """The settings from the environment with the given options over them (None: not given); an
    invalid one raises InvalidSetting, whose message is settings_error_line's."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise InvalidSetting(settings_error_line(exc)) from None
