"""The headline among the lines above the body, and the deck lines (sub-headlines) under it.

A line printed twice, or one the byline or date stamp directly follows, wins; site names, menus,
breadcrumbs, date bars, UI labels and a browser's "headline | site" title bar never qualify.
"""

from __future__ import annotations

from ingest import metadata as meta
from ingest import signals as sig
from ingest.layout import PageLine

_HEADLINE_MAX_CHARS = 120
_HEADLINE_MIN_CHARS = 8
_DECK_MIN_HANGUL = 0.5


def find_title(
    lines: list[PageLine], body_start: int, chrome: frozenset[str], hint: str | None
) -> tuple[str, int | None, str | None, str | None]:
    """(headline, its line index, author and outlet from a "[OO뉴스=홍길동 기자] headline" line)."""
    header = lines[:body_start]
    if hint:
        at = next((i for i, x in enumerate(header) if x.text == hint), None)
        return hint, at, None, None
    best: tuple[float, int, str, str | None, str | None] | None = None
    texts = [x.text for x in header]
    texts += [_browser_title_head(t, texts) for t in texts if _browser_title_head(t, texts)]
    for i, line in enumerate(header):
        text, author, outlet = line.text, None, None
        lead = meta.split_lead(text)
        if lead is not None and lead.author and lead.rest:
            text, author, outlet = lead.rest, lead.author, lead.outlet
        elif line.kind not in ("other", "prose"):
            continue
        if not _headline_candidate(text, chrome) or _browser_title_head(text, texts):
            continue
        score = 1.0 if len(text) >= 10 else 0.0
        if texts.count(line.text) >= 2:
            score += 3
        following = [x for x in header[i + 1 :] if x.text != line.text and not sig.is_furniture(x.text)][:3]
        if author or (following and following[0].kind in ("stamp", "byline")):
            score += 2  # the byline or date stamp right under it
        elif any(x.kind in ("stamp", "byline") for x in following):
            score += 1
        if sig.ends_sentence(text) and text.endswith("."):
            score -= 3
        if best is None or score > best[0]:
            best = (score, i, text, author, outlet)
    if best is None:  # a short headline ("서울 날씨"): the first line that is not furniture
        at = next((i for i, x in enumerate(header) if x.kind == "other" and not _not_headline(x.text, chrome)), None)
        return (header[at].text, at, None, None) if at is not None else ("", None, None, None)
    return best[2], best[1], best[3], best[4]


def _browser_title_head(text: str, texts: list[str]) -> str | None:
    """"헤드라인 | 사이트명" (a browser's title bar) whose head is printed on its own too: the head."""
    for sep in (" | ", " - ", " :: ", " < "):
        head = text.rsplit(sep, 1)[0]
        if head != text and head in texts:
            return head
    return None


def headline_in_body(lines: list[PageLine], start: int, end: int, chrome: frozenset[str]) -> int | None:
    """A wire layout that opens with the lead: the headline is then the short line in the first
    lines of the body that the date stamp or byline directly follows."""
    for i in range(start, min(end, start + 3)):
        line, nxt = lines[i], lines[i + 1]
        if line.kind == "other" and nxt.kind in ("stamp", "byline") and _headline_candidate(line.text, chrome):
            return i
    return None


def _headline_candidate(text: str, chrome: frozenset[str]) -> bool:
    return not (len(text) < _HEADLINE_MIN_CHARS or sig.is_list_item(text) or _not_headline(text, chrome))


def _not_headline(text: str, chrome: frozenset[str]) -> bool:
    return bool(
        text in chrome
        or len(text) > _HEADLINE_MAX_CHARS
        or sig.is_furniture(text)
        or sig.is_hashtags(text)
        or meta.is_outlet_name(text)
        or sig.has_bare_date(text)
        or sig.hangul_ratio(text) < 0.3
    )


def is_deck(text: str, chrome: frozenset[str], site_names: set[str]) -> bool:
    """A sub-headline between the headline and the body (kept), as opposed to a UI line (dropped)."""
    return not (
        text in chrome
        or text in site_names
        or sig.is_furniture(text)
        or sig.is_hashtags(text)
        or sig.is_embedded_post_header(text)
        or meta.is_outlet_name(text)
        or sig.has_bare_date(text)
        or sig.hangul_ratio(text) < _DECK_MIN_HANGUL
        or len(text) < _HEADLINE_MIN_CHARS
    )
