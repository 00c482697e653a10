"""Turn ranked chunks into distinct passages: overlapping chunks of one article become one passage.

Chunks overlap by design (the chunker repeats ~48 tokens at each boundary), so two neighbouring
chunks of the same article can both rank high and show the same sentence twice. Walking the
ranking best first, a chunk that overlaps a passage already taken from the same article is merged
into it: the passage becomes the union span, with exact offsets into the
article, ``text == document.text[start:end]``. A merged passage keeps the rank of its best chunk;
the passages below move up, so the caller still gets ``k`` distinct passages when it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingest.documents import Chunk, Document, content_hash


@dataclass(frozen=True)
class PassageGroup:
    """One passage to show: the chunk rows it is made of (best first) and its merged span."""

    rows: tuple[int, ...]  # index rows, in ranking order; rows[0] is the best-ranked
    chunk: Chunk  # the union span; a single chunk unchanged when nothing merged
    parts: tuple[Chunk, ...]  # the original chunks, in ranking order


def distinct_passages(
    ranked_rows: Sequence[int],
    chunks: Sequence[Chunk] | Mapping[int, Chunk],
    documents: Mapping[str, Document],
    k: int,
) -> list[PassageGroup]:
    """At most `k` passages from `ranked_rows` (best first), overlapping same-article chunks merged.

    Rows after the k-th distinct passage are not looked at, so a low-ranked chunk never grows
    a passage that it would not have reached on its own.
    """
    groups: list[list[int]] = []  # rows per passage, in ranking order
    spans: list[tuple[str, int, int]] = []  # (doc_id, start, end) per passage
    for row in ranked_rows:
        c = chunks[row]
        hits = [i for i, (doc, s, e) in enumerate(spans) if doc == c.doc_id and c.start < e and s < c.end]
        if not hits:
            if len(groups) == k:
                break
            groups.append([row])
            spans.append((c.doc_id, c.start, c.end))
            continue
        # The chunk joins the best passage it touches; a chunk bridging two passages joins them.
        first = hits[0]
        doc, start, end = spans[first]
        start, end = min(start, c.start), max(end, c.end)
        groups[first].append(row)
        for i in reversed(hits[1:]):
            start, end = min(start, spans[i][1]), max(end, spans[i][2])
            groups[first].extend(groups[i])
            del groups[i], spans[i]
        spans[first] = (doc, start, end)
    return [_group(rows, span, chunks, documents) for rows, span in zip(groups, spans)]


def _group(
    rows: list[int], span: tuple[str, int, int], chunks: Sequence[Chunk] | Mapping[int, Chunk], documents: Mapping[str, Document]
) -> PassageGroup:
    parts = tuple(chunks[r] for r in rows)
    best = parts[0]
    if len(parts) == 1:
        return PassageGroup((rows[0],), best, parts)
    doc_id, start, end = span
    text = documents[doc_id].text[start:end]
    merged = Chunk(
        id=best.id,
        doc_id=doc_id,
        seq=min(p.seq for p in parts),
        text=text,
        start=start,
        end=end,
        content_hash=content_hash(text),
    )
    return PassageGroup(tuple(rows), merged, parts)
