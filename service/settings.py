"""All runtime settings in one typed class; environment variables use the prefix AIHUB_QA_."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embedders import DEFAULT_EMBEDDER
from index.tokenizers import DEFAULT_TOKENIZER


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

    fusion: Literal["convex", "rrf"] = "convex"
    bm25_weight: float = Field(0.6, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1)
    candidates: int = Field(50, ge=1)

    default_k: int = Field(5, ge=1, le=50)
    max_k: int = Field(50, ge=1, le=50)
    max_question_chars: int = Field(2000, ge=1)
    cors_origins: list[str] = []
    api_key: SecretStr | None = None
