"""Where the article is on a page: each line classified, then the body found as the densest run of prose.

Every line gets a kind (prose, date stamp, byline, copyright, other) and a weight: running prose
pulls the body span in, metadata lines push it away hard (the body never straddles the byline
bar), other short lines (lists, captions, furniture) a little. The body is the span with the
highest total weight, carried past boxes that sit between paragraphs and back over a first
sentence a photo cut in two.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest import metadata as meta
from ingest import signals as sig

_PROSE_BASE = 1.0
_PROSE_PER_100_CHARS = 1.0
_META_WEIGHT = -3.0
_OTHER_WEIGHT = -0.6
_FURNITURE_WEIGHT = -1.0
_ARTICLE_PART_WEIGHT = -0.2  # list items, table rows, captions: usually the article's own
_MAX_BOX_LINES = 15  # a gap in the body longer than this ends it
_TIMED_DATE_LINE_MAX = 40  # a bare "date + time" line this short is a stamp ("2024.09.09 14:20", "익명 2024.09.09 16:12")
META_KINDS = ("stamp", "byline", "copyright")


@dataclass
class PageLine:
    no: int  # 1-based line number in the page text
    text: str
    kind: str  # "prose" | "stamp" | "byline" | "copyright" | "other"
    stamps: list[meta.Stamp]
    author: str | None


def classify(no: int, text: str) -> PageLine:
    """Classify one non-empty line of a page."""
    prose = sig.is_prose(text)
    stamps = meta.find_stamps(text) if not prose else []
    author = meta.parse_byline(text) if not prose else None
    if not prose and not stamps and (author or len(text) <= _TIMED_DATE_LINE_MAX) and not sig.is_embedded_post_header(text):
        timed = meta.find_timed_date(text)
        stamps = [timed] if timed else []
    if stamps:
        kind = "stamp"
    elif author or sig.is_email_only(text):
        kind = "byline"
    elif sig.is_copyright(text):
        kind = "copyright"
    elif prose and not _headline_like(text):
        kind = "prose"
    else:
        kind = "other"
    return PageLine(no, text, kind, stamps, author)


def _headline_like(text: str) -> bool:
    """A short line that ends like a headline ("…기대효과는?") rather than a paragraph ("…했다.")."""
    return len(text) <= 80 and not text.rstrip("\"'”’」』)]").endswith(".") and not sig.has_sentence_end(text)


def _weight(line: PageLine) -> float:
    if line.kind == "prose":
        return _PROSE_BASE + _PROSE_PER_100_CHARS * min(len(line.text), 200) / 100
    if line.kind in META_KINDS:
        return _META_WEIGHT
    text = line.text
    if sig.is_furniture(text) or sig.is_box_header(text):
        return _FURNITURE_WEIGHT
    if sig.is_list_item(text) or sig.is_table_row(text) or sig.is_table_rule(text) or sig.is_caption(text):
        return _ARTICLE_PART_WEIGHT
    return _OTHER_WEIGHT


def densest_span(lines: list[PageLine]) -> tuple[int, int] | None:
    """Indices [start, end] of the run of lines with the highest total weight (Kadane)."""
    best: tuple[float, int, int] | None = None
    total, start = 0.0, 0
    for i, line in enumerate(lines):
        w = _weight(line)
        if total <= 0:
            total, start = w, i
        else:
            total += w
        if line.kind == "prose" and (best is None or total > best[0]):
            best = (total, start, i)
    return (best[1], best[2]) if best else None


def extend_over_boxes(lines: list[PageLine], end: int) -> int:
    """Carry the body's end past a box or list that sits between paragraphs ("관련기사", an ad, a
    long list) when more paragraphs follow before any byline, stamp, copyright line or UI label."""
    j = end + 1
    while j < len(lines) and j - end <= _MAX_BOX_LINES:
        line = lines[j]
        if line.kind == "prose":
            end = j
        elif line.kind != "other" or (sig.is_ui_label(line.text) and not sig.is_box_header(line.text)):
            break
        j += 1
    return end


def photo_split_start(lines: list[PageLine], start: int) -> int:
    """Move the body's start back over a first sentence that a photo cut in two (its first half
    ends without a sentence end; the caption sits between the halves)."""
    j = start - 1
    while j >= 0 and lines[j].kind == "other" and sig.is_caption(lines[j].text):
        j -= 1
    if j < start - 1 and j >= 0 and lines[j].kind == "other" and sig.is_sentence_half_length(lines[j].text) and not sig.ends_clause(lines[j].text):
        return j
    return start


def continues_body(line: PageLine) -> bool:
    text = line.text
    if line.kind != "other" or sig.is_furniture(text) or sig.is_box_header(text):
        return False
    return sig.is_list_item(text) or sig.is_table_row(text) or sig.is_caption(text)
