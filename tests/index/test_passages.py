"""Overlapping chunks of one article merge into one passage with exact offsets."""

from __future__ import annotations

from index.highlight import sentence_spans
from index.passages import distinct_passages
from ingest.documents import Chunk, Document, content_hash

TEXT = "첫 문장이다. 둘째 문장이다. 셋째 문장이다. 넷째 문장이다. 다섯째 문장이다."


def _doc(doc_id: str, text: str = TEXT) -> Document:
    return Document(id=doc_id, title=doc_id, source="s", published=None, author=None, url=None, text=text)


def _chunk(doc: Document, seq: int, start: int, end: int) -> Chunk:
    text = doc.text[start:end]
    return Chunk(f"{doc.id}#{seq:04d}", doc.id, seq, text, start, end, content_hash(text))


A, B = _doc("a"), _doc("b")
# a#0 = sentences 1-2, a#1 = sentences 2-3 (overlap: sentence 2), a#2 = sentences 4-5 (no overlap with a#1)
CHUNKS = [
    _chunk(A, 0, 0, 16),
    _chunk(A, 1, 8, 24),
    _chunk(A, 2, 25, len(TEXT)),
    _chunk(B, 0, 0, 16),
]
DOCS = {"a": A, "b": B}


def test_overlapping_chunks_of_one_article_become_one_passage_with_the_union_span() -> None:
    groups = distinct_passages([1, 0, 3], CHUNKS, DOCS, k=5)
    assert [g.rows for g in groups] == [(1, 0), (3,)]
    merged = groups[0].chunk
    assert (merged.start, merged.end) == (0, 24)
    assert merged.text == A.text[merged.start : merged.end]
    assert merged.id == "a#0001"  # the best-ranked part names it
    assert [p.id for p in groups[0].parts] == ["a#0001", "a#0000"]


def test_chunks_that_do_not_overlap_or_come_from_other_articles_stay_apart() -> None:
    groups = distinct_passages([0, 2, 3], CHUNKS, DOCS, k=5)
    assert [g.rows for g in groups] == [(0,), (2,), (3,)]
    assert groups[0].chunk is CHUNKS[0]  # unchanged when nothing merged


def test_a_chunk_bridging_two_passages_joins_them_under_the_better_rank() -> None:
    bridge = _chunk(A, 3, 14, 30)  # overlaps a#1 (8-24) and a#2 (25-…)
    chunks = CHUNKS + [bridge]
    groups = distinct_passages([2, 3, 1, 4], chunks, DOCS, k=5)
    assert [g.rows for g in groups] == [(2, 4, 1), (3,)]
    assert (groups[0].chunk.start, groups[0].chunk.end) == (8, len(TEXT))


def test_merging_still_fills_k_passages_and_stops_there() -> None:
    groups = distinct_passages([0, 1, 3, 2], CHUNKS, DOCS, k=2)
    assert [g.rows for g in groups] == [(0, 1), (3,)]


def test_no_two_passages_share_a_sentence() -> None:
    groups = distinct_passages([0, 1, 2, 3], CHUNKS, DOCS, k=5)
    seen: set[tuple[str, int, int]] = set()
    for g in groups:
        for s, e in sentence_spans(g.chunk.text):
            key = (g.chunk.doc_id, g.chunk.start + s, g.chunk.start + e)
            assert key not in seen
            seen.add(key)
