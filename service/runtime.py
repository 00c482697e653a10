"""Build the heavy objects (embedder, index, searcher) from settings, once per process."""

from __future__ import annotations

from pathlib import Path

from index.ann import AnnConfig
from index.embedders import BaseEmbedder, canonical_spec, make_embedder
from index.errors import IndexMismatch, IndexNotFound
from index.search import FusionConfig, Searcher
from index.store import BuildReport, Progress, build_corpus_index, current_manifest, is_stale, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig
from service.settings import Settings


def embedder_from(settings: Settings) -> BaseEmbedder:
    return make_embedder(settings.embedder, settings.query_prefix, settings.passage_prefix)


def fusion_from(settings: Settings) -> FusionConfig:
    return FusionConfig(settings.fusion, settings.bm25_weight, settings.rrf_k, settings.candidates)


def chunking_from(settings: Settings) -> ChunkingConfig:
    return ChunkingConfig(settings.chunk_tokens, settings.chunk_overlap)


def ann_from(settings: Settings) -> AnnConfig:
    return AnnConfig(type=settings.ann)


def build(settings: Settings, embedder: BaseEmbedder, progress: Progress | None = None) -> BuildReport:
    return build_corpus_index(
        settings.corpus_dir,
        settings.index_dir,
        embedder,
        make_tokenizer(settings.tokenizer),
        chunking_from(settings),
        progress=progress,
        title_context=settings.title_context,
        ann=ann_from(settings),
    )


def open_searcher(settings: Settings, embedder: BaseEmbedder | None = None) -> Searcher:
    """Load the index at settings.index_dir and check it was built with the configured embedder."""
    embedder = embedder or embedder_from(settings)
    index = load_index(Path(settings.index_dir), embedder.spec, settings.ann_ef_search, settings.ann_nprobe)
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


def other_corpus(settings: Settings) -> str | None:
    """Why the index must not be rebuilt from the configured corpus: it records another one.

    None when there is no index yet or it records the configured corpus directory."""
    index_dir = Path(settings.index_dir)
    try:
        manifest = current_manifest(index_dir)
    except (IndexNotFound, IndexMismatch):
        return None
    configured = Path(settings.corpus_dir).resolve()
    recorded = manifest.corpus.path
    if recorded is not None and Path(recorded) == configured:
        return None
    origin = f"corpus {recorded}" if recorded else "a dataset (by aihub-qa eval)"
    return f"the index at {index_dir} was built from {origin}, not from {configured}"
