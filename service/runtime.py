"""Build the heavy objects (embedder, index, searcher) from settings, once per process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.ann import AnnConfig
from index.backend import SearchBackend
from index.embedders import BaseEmbedder, canonical_spec, make_embedder
from index.errors import IndexMismatch, IndexNotFound
from index.search import FusionConfig, Searcher
from index.store import Progress, build_corpus_index, current_manifest, is_stale, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig
from service.settings import Settings

if TYPE_CHECKING:
    from index.milvus_store import MilvusConfig


def embedder_from(settings: Settings) -> BaseEmbedder:
    return make_embedder(settings.embedder, settings.query_prefix, settings.passage_prefix)


def fusion_from(settings: Settings) -> FusionConfig:
    return FusionConfig(settings.fusion, settings.bm25_weight, settings.rrf_k, settings.candidates)


def chunking_from(settings: Settings) -> ChunkingConfig:
    return ChunkingConfig(settings.chunk_tokens, settings.chunk_overlap)


def ann_from(settings: Settings) -> AnnConfig:
    return AnnConfig(type=settings.ann)


def milvus_from(settings: Settings) -> MilvusConfig:
    """The Milvus location of the settings (pymilvus itself is imported only when it is used)."""
    from index.milvus_store import MilvusConfig

    token = settings.milvus_token.get_secret_value() if settings.milvus_token else ""
    return MilvusConfig(str(settings.milvus_uri), settings.milvus_collection, token, ann_from(settings))


def where(settings: Settings) -> str:
    """How messages name the configured index."""
    return milvus_from(settings).location if settings.backend == "milvus" else str(settings.index_dir)


def build(settings: Settings, embedder: BaseEmbedder, progress: Progress | None = None) -> Any:
    """Build (local) or sync (milvus) the index of the configured corpus; returns its report."""
    if settings.backend == "milvus":
        from index.milvus_store import build_milvus
        from index.manifest import CorpusRecord
        from ingest.reader import corpus_hash, read_corpus

        corpus = CorpusRecord(path=str(Path(settings.corpus_dir).resolve()), hash=corpus_hash(settings.corpus_dir))
        return build_milvus(
            read_corpus(settings.corpus_dir), milvus_from(settings), embedder, make_tokenizer(settings.tokenizer),
            chunking_from(settings), corpus, progress, settings.title_context,
        )
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


def open_backend(settings: Settings, embedder_spec: str | None = None) -> SearchBackend:
    """The one place that picks the storage backend: the local index directory or Milvus."""
    if settings.backend == "milvus":
        from index.milvus_search import open_milvus

        return open_milvus(milvus_from(settings), embedder_spec, settings.ann_ef_search, settings.ann_nprobe)
    return load_index(Path(settings.index_dir), embedder_spec, settings.ann_ef_search, settings.ann_nprobe)


def open_searcher(settings: Settings, embedder: BaseEmbedder | None = None) -> Searcher:
    """Open the configured index and check it was built with the configured embedder.

    The index is opened first: a missing or mismatched index is reported before the model is
    loaded (on a first start, loading means converting it, which takes a while and prints)."""
    if embedder is not None:
        return Searcher(open_backend(settings, embedder.spec), embedder, fusion_from(settings))
    backend = open_backend(settings, canonical_spec(settings.embedder))
    return Searcher(backend, embedder_from(settings), fusion_from(settings))


def _manifest(settings: Settings) -> Any:
    if settings.backend == "milvus":
        from index.milvus_store import current_manifest as milvus_manifest

        return milvus_manifest(milvus_from(settings))
    return current_manifest(Path(settings.index_dir))


def index_is_stale(settings: Settings) -> bool:
    if settings.backend == "milvus":
        from index.milvus_store import is_stale as milvus_is_stale
        from ingest.reader import corpus_hash

        return milvus_is_stale(
            milvus_from(settings), corpus_hash(settings.corpus_dir), canonical_spec(settings.embedder),
            settings.tokenizer, chunking_from(settings), settings.title_context,
        )
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
    try:
        manifest = _manifest(settings)
    except (IndexNotFound, IndexMismatch):
        return None
    configured = Path(settings.corpus_dir).resolve()
    recorded = manifest.corpus.path
    if recorded is not None and Path(recorded) == configured:
        return None
    origin = f"corpus {recorded}" if recorded else "a dataset (by aihub-qa eval)"
    return f"the index at {where(settings)} was built from {origin}, not from {configured}"
