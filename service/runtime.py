"""Build the heavy objects (embedder, index, searcher) from settings, once per process."""

from __future__ import annotations

from pathlib import Path

from index.embedders import BaseEmbedder, canonical_spec, make_embedder
from index.search import FusionConfig, Searcher
from index.store import BuildReport, Progress, build_corpus_index, is_stale, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig
from service.settings import Settings


def embedder_from(settings: Settings) -> BaseEmbedder:
    return make_embedder(settings.embedder, settings.query_prefix, settings.passage_prefix)


def fusion_from(settings: Settings) -> FusionConfig:
    return FusionConfig(settings.fusion, settings.bm25_weight, settings.rrf_k, settings.candidates)


def chunking_from(settings: Settings) -> ChunkingConfig:
    return ChunkingConfig(settings.chunk_tokens, settings.chunk_overlap)


def build(settings: Settings, embedder: BaseEmbedder, progress: Progress | None = None) -> BuildReport:
    return build_corpus_index(
        settings.corpus_dir,
        settings.index_dir,
        embedder,
        make_tokenizer(settings.tokenizer),
        chunking_from(settings),
        progress=progress,
        title_context=settings.title_context,
    )


def open_searcher(settings: Settings, embedder: BaseEmbedder | None = None) -> Searcher:
    """Load the index at settings.index_dir and check it was built with the configured embedder."""
    embedder = embedder or embedder_from(settings)
    index = load_index(Path(settings.index_dir), embedder.spec)
    return Searcher(index, embedder, fusion_from(settings))


def index_is_stale(settings: Settings) -> bool:
    return is_stale(
        Path(settings.index_dir),
        Path(settings.corpus_dir),
        canonical_spec(settings.embedder),
        tokenizer=settings.tokenizer,
        chunking=chunking_from(settings),
        title_context=settings.title_context,
    )
