"""Index an external dataset's own corpus once, into a cache directory reused by later runs.

The corpus goes through the product's pipeline (``index.store.build_index``) with
``chunking=None``: one passage per dataset passage, the passage id kept as the document id
and the passage title as the document title. The cache directory is named after what
decides its content::

    <cache root>/<content hash[:16]>-<embedder slug>-<tokenizer slug>[-title]

and is reused only when its manifest agrees on all of them; anything else rebuilds it
(vectors of unchanged passages are still reused by ``build_index``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from eval.datasets import EvalDataset
from index.embedders import BaseEmbedder, canonical_spec
from index.errors import IndexMismatch, IndexNotFound
from index.manifest import CorpusRecord
from index.store import LoadedIndex, Progress, build_index, built_differently, chunking_record, current_manifest, load_index
from index.tokenizers import Tokenizer
from ingest.documents import Document

_SLUG_MAX = 40


@dataclass(frozen=True)
class CachedIndex:
    """A dataset's index, loaded, and whether it came from the cache or was just built."""

    index: LoadedIndex
    directory: Path
    reused: bool
    embedded: int  # passages embedded by this run (0 when reused)


def slug(text: str) -> str:
    """A file-name-safe form of a spec: 'hash:64' -> 'hash-64', 'mecab+bigram' -> 'mecab-bigram'.

    Long specs (local model paths) are cut and suffixed with a short hash so they stay unique.
    """
    out = re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.") or "x"
    if len(out) > _SLUG_MAX:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        out = f"{out[: _SLUG_MAX - 9].rstrip('-.')}-{digest}"
    return out


def cache_dir_for(
    root: Path, dataset: EvalDataset, embedder_spec: str, tokenizer: str, title_context: bool = False
) -> Path:
    """Where the index of `dataset`'s corpus lives for this embedder and tokenizer."""
    name = f"{dataset.content_hash[:16]}-{slug(canonical_spec(embedder_spec))}-{slug(tokenizer)}"
    return Path(root) / (name + ("-title" if title_context else ""))


def dataset_documents(dataset: EvalDataset) -> list[Document]:
    """The dataset's passages as Documents (id and title kept; no outlet, date or author)."""
    if dataset.passages is None:
        raise ValueError(f"dataset {dataset.name} has no corpus of its own (format {dataset.format})")
    return [
        Document(id=p.id, title=p.title, source=dataset.name, published=None, author=None, url=None, text=p.text)
        for p in dataset.passages
    ]


def is_reusable(directory: Path, dataset: EvalDataset, embedder: BaseEmbedder, tokenizer: Tokenizer, title_context: bool) -> bool:
    """True when `directory` holds an index of exactly this corpus, embedder, tokenizer and title setting."""
    try:
        manifest = current_manifest(directory)
    except (IndexNotFound, IndexMismatch):
        return False
    return manifest.corpus.hash == dataset.content_hash and not built_differently(
        manifest,
        embedder=embedder.describe(),
        tokenizer=tokenizer.name,
        chunking=chunking_record(None),
        title_context=title_context,
    )


def ensure_dataset_index(
    dataset: EvalDataset,
    root: Path,
    embedder: BaseEmbedder,
    tokenizer: Tokenizer,
    title_context: bool = False,
    progress: Progress | None = None,
) -> CachedIndex:
    """Load the cached index of the dataset's corpus, building it first when needed."""
    directory = cache_dir_for(root, dataset, embedder.spec, tokenizer.name, title_context)
    if is_reusable(directory, dataset, embedder, tokenizer, title_context):
        try:
            return CachedIndex(load_index(directory, embedder.spec), directory, reused=True, embedded=0)
        except (IndexNotFound, IndexMismatch):
            pass  # damaged cache: rebuild it below
    report = build_index(
        dataset_documents(dataset),
        directory,
        embedder,
        tokenizer,
        chunking=None,
        corpus=CorpusRecord(path=None, hash=dataset.content_hash),
        progress=progress,
        title_context=title_context,
    )
    return CachedIndex(load_index(directory, embedder.spec), directory, reused=False, embedded=report.embedded)
