"""Reading a corpus directory: file order, sidecar metadata, corpus hash, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.errors import CorpusNotFound, InvalidMetadata
from ingest.reader import corpus_hash, read_corpus, read_document


def test_corpus_is_read_in_name_order(small_corpus: Path) -> None:
    assert [d.id for d in read_corpus(small_corpus)] == ["a", "b", "c"]


def test_sidecar_overrides_inferred_metadata(small_corpus: Path) -> None:
    (small_corpus / "a.meta.json").write_text(
        json.dumps({"source": "광주일보", "published": "2024-03-01", "url": "https://example.org/a", "author": None}),
        encoding="utf-8",
    )
    doc = read_document(small_corpus / "a.txt")
    assert (doc.title, doc.source, doc.published, doc.url, doc.author) == (
        "광주 데이터센터 착공", "광주일보", "2024-03-01", "https://example.org/a", None
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"a\.meta\.json: not valid JSON"),
        ('["x"]', r"a\.meta\.json: expected a JSON object"),
        ('{"publisher": "x"}', r"a\.meta\.json: unknown field\(s\) publisher; allowed: title, source, published, author, url"),
        ('{"published": "2024/03/01"}', r"a\.meta\.json: 'published' must be an ISO date \(YYYY-MM-DD\)"),
        ('{"author": 3}', r"a\.meta\.json: field 'author' must be a string or null"),
    ],
)
def test_bad_sidecar_is_a_clear_error(small_corpus: Path, content: str, message: str) -> None:
    (small_corpus / "a.meta.json").write_text(content, encoding="utf-8")
    with pytest.raises(InvalidMetadata, match=message):
        read_document(small_corpus / "a.txt")


def test_missing_or_empty_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFound, match="corpus directory not found"):
        read_corpus(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusNotFound, match=r"no articles \(\*\.txt, \*\.html, \*\.htm\) in corpus directory"):
        read_corpus(tmp_path / "empty")


def test_corpus_hash_changes_with_any_article_or_sidecar(small_corpus: Path) -> None:
    before = corpus_hash(small_corpus)
    assert corpus_hash(small_corpus) == before
    (small_corpus / "b.meta.json").write_text('{"source": "x"}', encoding="utf-8")
    after_sidecar = corpus_hash(small_corpus)
    assert after_sidecar != before
    (small_corpus / "c.txt").write_text("바뀐 제목\n\n바뀐 본문이다.", encoding="utf-8")
    assert corpus_hash(small_corpus) != after_sidecar
