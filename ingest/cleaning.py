"""Turn a raw web page dump of a news article into clean article text plus metadata.

How the page is read (no rule names an outlet). ``ingest.signals`` says what one line looks
like, ``ingest.layout`` finds the body, ``ingest.headline`` the headline; this module puts it together:
1. Every line gets a weight: running prose (long, mostly Hangul, ends sentences) counts for the
   article, everything else against it. The article body is the densest run of prose: the span
   with the highest total weight.
2. The reporter's sign-off in the second half of that span closes the article: what follows is
   page furniture (comment boxes, advertisements), even when it reads like prose.
3. The headline is chosen among the lines before the body: a line printed twice, or followed by
   the byline or date stamp, wins; site names, menus, breadcrumbs, date bars and UI labels never
   qualify. Deck lines between the headline and the body stay, as the first paragraphs.
4. Inside the body, furniture goes: a "관련기사"/"많이 본 뉴스"/ad box (its header and the short
   lines after it), link-arrow lines, UI labels, hashtags, stamps and bylines, and lines repeated
   across other pages of the same corpus. The article's own subheads, lists and table rows stay.
5. Metadata comes from labelled stamps, bylines, lead datelines and the copyright line.

Photo captions are KEPT, as their own paragraph starting with ``[사진] `` (they often carry
facts, e.g. a site's size or a project's budget); a bare photo credit with no description
("이미지=OO 제공") is dropped. Where a photo was laid out in the middle of a sentence, the two
halves of the sentence are joined again and the caption follows the paragraph.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest import metadata as meta
from ingest import signals as sig
from ingest.headline import find_title, headline_in_body, is_deck
from ingest.layout import PageLine, classify, continues_body, densest_span, extend_over_boxes, photo_split_start

CAPTION_MARK = "[사진] "

_PARTICLE_START = re.compile(r"^(?:의|을|를|은|는|이|가|에|와|과|로|도|만)(?:\s|$)")
_CUT_SYLLABLE = re.compile(r"\s[가-힣]$")
_SIGNOFF_AFTER = 0.5  # a sign-off only closes the article once half its prose has been read
_EMBED_FRAME_MAX_HANGUL = 0.5  # "View this post on Instagram" next to an embedded post: its frame


@dataclass(frozen=True)
class DroppedLine:
    line: int  # 1-based line number in the page text
    text: str
    reason: str


@dataclass(frozen=True)
class PageHints:
    """Metadata a page carried outside its text (HTML meta tags); used where the text says nothing."""

    title: str | None = None
    published: str | None = None
    author: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class CleanedArticle:
    title: str
    text: str
    published: str | None
    author: str | None
    source: str | None
    dropped: tuple[DroppedLine, ...] = field(default=(), compare=False)


@dataclass
class _Para:
    kind: str  # "body" | "caption"
    text: str


def normalize_text(raw: str) -> str:
    """NFC, unified newlines, no-break and zero-width spaces made plain."""
    text = unicodedata.normalize("NFC", raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    return text


def page_lines(raw: str) -> list[str]:
    """The non-empty lines of a page, stripped and without typographic bullets."""
    return [line for line in (sig.strip_bullet(x.strip()) for x in normalize_text(raw).split("\n")) if line]


def repeated_lines(pages: Iterable[str], min_pages: int = 2) -> frozenset[str]:
    """Site chrome: short non-prose lines that recur on several pages of the same corpus."""
    counts: dict[str, int] = {}
    for raw in pages:
        for line in set(page_lines(raw)):
            counts[line] = counts.get(line, 0) + 1
    return frozenset(line for line, n in counts.items() if n >= min_pages and not sig.is_prose(line))


def clean_article(raw: str, chrome: frozenset[str] = frozenset(), hints: PageHints | None = None) -> CleanedArticle:
    """Clean one raw article; see the module docstring for what is kept and dropped."""
    hints = hints or PageHints()
    numbered = [(i + 1, sig.strip_bullet(x.strip())) for i, x in enumerate(normalize_text(raw).split("\n"))]
    lines = [classify(no, text) for no, text in numbered if text]
    dropped: list[DroppedLine] = []

    def drop(line: PageLine, reason: str) -> None:
        dropped.append(DroppedLine(line.no, line.text, reason))

    span = densest_span(lines)
    if span is None:
        for line in lines:
            drop(line, "no article prose on the page")
        published, author = _date_and_author(lines, 0, hints)
        return CleanedArticle(hints.title or "", "", published, author, hints.source, tuple(dropped))
    start, end = span
    start = photo_split_start(lines, start)
    end = extend_over_boxes(lines, end)

    # The sign-off closes the article; a trailing list, table or caption right after the last
    # paragraph still belongs to it.
    tail_kept: str | None = None
    prose_total = sum(len(x.text) for x in lines[start : end + 1] if x.kind == "prose") or 1
    seen = 0
    signoff: tuple[str, str | None] | None = None
    for i in range(start, end + 1):
        line = lines[i]
        if line.kind == "prose":
            seen += len(line.text)
        split = meta.split_byline_tail(line.text) if line.kind == "prose" else None
        if split is not None and seen / prose_total > _SIGNOFF_AFTER:
            tail_kept, name, outlet = split
            signoff = (name, outlet)
            end = i
            break
        if line.kind == "byline" and line.author and seen / prose_total > _SIGNOFF_AFTER and i > start:
            end = i - 1
            break
    if tail_kept is None:
        while end + 1 < len(lines) and continues_body(lines[end + 1]):
            end += 1

    title, title_at, lead_author, lead_outlet = find_title(lines, start, chrome, hints.title)
    if not title:
        inside = headline_in_body(lines, start, end, chrome)
        if inside is not None:
            title = lines[inside].text
    copyright_outlet = next((o for x in lines if x.kind == "copyright" for o in [meta.outlet_from_copyright(x.text)] if o), None)
    site_names = {n for n in (copyright_outlet, hints.source, lead_outlet) if n}

    kept: list[tuple[int, str]] = []  # (line number, text)
    for i, line in enumerate(lines):
        if i < start:
            if title_at is not None and i < title_at and line.kind == "prose" and meta.split_lead(line.text):
                kept.append((line.no, line.text))  # a wire lead printed above its headline
            elif title_at is not None and i < title_at:
                drop(line, _meta_reason(line) or _furniture_reason(line.text) or "above the headline (site name, menu, date bar)")
            elif i == title_at:
                drop(line, "headline (kept as the title)")
            elif line.text == title:
                drop(line, "headline repeated")
            elif line.kind in ("other", "prose") and is_deck(line.text, chrome, site_names):
                kept.append((line.no, line.text))
            else:
                drop(line, _meta_reason(line) or _furniture_reason(line.text) or "between headline and body, not a sub-headline")
        elif i > end:
            drop(line, _meta_reason(line) or "after the end of the article (" + (_furniture_reason(line.text) or "past its last paragraph or sign-off") + ")")
        else:
            kept.extend((line.no, t) for t in _body_line(lines, i, start, title, chrome, drop, tail_kept if i == end else None))
    published, author = _date_and_author(lines, start, hints, lead_author)
    if author is None and signoff is not None:
        author = signoff[0]
    source = copyright_outlet or lead_outlet or hints.source

    paras: list[_Para] = []
    for no, line in kept:
        lead = meta.split_lead(line) if not any(p.kind == "body" for p in paras[1:]) else None
        if lead is not None and (lead.outlet or lead.author):
            source = source or lead.outlet
            author = author or lead.author
            line = lead.rest
            if not line:
                continue
        if sig.is_credit_only(line):
            dropped.append(DroppedLine(no, line, "photo credit without a caption"))
            continue
        if sig.is_caption(line) and not line.startswith(CAPTION_MARK):
            paras.append(_Para("caption", CAPTION_MARK + line))
            continue
        for part in line.split("||"):  # decks listing sub-headlines as "a||b||c"
            if part.strip():
                paras.append(_Para("body", part.strip()))

    if source is None:
        source = _fallback_outlet(lines, start, signoff)
    paras = _rejoin_split_sentences(paras)
    text = "\n\n".join(p.text for p in paras)
    dropped.sort(key=lambda d: d.line)
    return CleanedArticle(title=title, text=text, published=published, author=author, source=source, dropped=tuple(dropped))


def _meta_reason(line: PageLine) -> str | None:
    return {
        "stamp": "date stamp (metadata)",
        "byline": "byline (metadata)",
        "copyright": "copyright line",
    }.get(line.kind)


# Lines that are furniture wherever they stand, with the reason `inspect` shows.
_LINK_AND_TAGS: tuple[tuple[Callable[[str], bool], str], ...] = (
    (sig.is_link_marked, "link to another article"),
    (sig.is_hashtags, "hashtags"),
)
_OUTSIDE_BODY: tuple[tuple[Callable[[str], bool], str], ...] = (
    (sig.is_box_header, "related-articles, ranking or ad box"),
    (sig.is_menu, "menu or breadcrumb"),
    (sig.is_ui_label, "UI label"),
    *_LINK_AND_TAGS,
    (sig.has_bare_date, "undated-label date (today bar, print edition or embedded post)"),
)
_IN_BODY: tuple[tuple[Callable[[str], bool], str], ...] = (
    *_LINK_AND_TAGS,
    (sig.is_table_rule, "table rule"),
    (sig.is_embedded_post_header, "embedded post header"),
)


def _first_reason(text: str, checks: tuple[tuple[Callable[[str], bool], str], ...]) -> str | None:
    return next((reason for check, reason in checks if check(text)), None)


def _furniture_reason(text: str) -> str | None:
    return _first_reason(text, _OUTSIDE_BODY)


def _article_part(text: str) -> bool:
    """A subhead, bulleted item, table row or caption: the article's own, even between boxes."""
    return (sig.is_list_item(text) and not sig.is_ranked_item(text)) or sig.is_table_row(text) or sig.is_caption(text)


def _body_line(
    lines: list[PageLine], i: int, start: int, title: str, chrome: frozenset[str],
    drop: Callable[[PageLine, str], None], tail: str | None,
) -> list[str]:
    """The text a line of the body span contributes (nothing when it is furniture)."""
    line = lines[i]
    text = line.text
    if tail is not None:
        drop(line, "reporter sign-off (metadata)")
        return [tail] if tail else []
    if line.kind != "prose":
        reason = _meta_reason(line) or _in_body_furniture(lines, i, start, title, chrome)
        if reason:
            drop(line, reason)
            return []
    return [text]


def _in_body_furniture(lines: list[PageLine], i: int, start: int, title: str, chrome: frozenset[str]) -> str | None:
    text = lines[i].text
    if text == title:
        return "headline repeated"
    marked = sig.is_list_item(text) and not sig.is_ranked_item(text)
    if text in chrome and not marked:
        return "repeated on other pages of this corpus (site chrome)"
    if sig.is_box_header(text):
        return "related-articles, ranking or ad box"
    # Short lines after a box header belong to the box, up to the next paragraph or the first
    # line that is the article's own (a subhead, a bullet, a table row, a caption).
    j = i
    while j >= start and lines[j].kind != "prose" and not _article_part(lines[j].text):
        if j < i and sig.is_box_header(lines[j].text):
            return "related-articles, ranking or ad box"
        j -= 1
    reason = _first_reason(text, _IN_BODY)
    if reason:
        return reason
    near_embed = any(0 <= j < len(lines) and sig.is_embedded_post_header(lines[j].text) for j in range(i - 2, i + 3))
    if near_embed and sig.hangul_ratio(text) < _EMBED_FRAME_MAX_HANGUL:
        return "embedded post (its frame)"
    if sig.is_copyright(text):
        return "copyright line"
    if len(text) <= 12 and sig.is_ui_label(text):
        return "UI label"
    if sig.is_menu(text) and not _next_to_table_row(lines, i):
        return "menu"
    return None


def _next_to_table_row(lines: list[PageLine], i: int) -> bool:
    pipes = lines[i].text.count("|")
    return any(
        0 <= j < len(lines) and lines[j].text.count("|") == pipes and sig.is_table_row(lines[j].text) for j in (i - 1, i + 1)
    )


def _date_and_author(
    lines: list[PageLine], body_start: int, hints: PageHints, lead_author: str | None = None
) -> tuple[str | None, str | None]:
    stamps = [s for x in lines if x.kind in ("stamp", "byline") for s in x.stamps]
    first = next((s.published for s in stamps if s.first and s.labelled), None)
    edit = next((s.published for s in stamps if not s.first and s.labelled), None)
    bare = next((s.published for s in stamps if not s.labelled), None)
    published = first or edit or hints.published or bare
    header_bylines = [x.author for x in lines[:body_start] if x.author]
    any_bylines = [x.author for x in lines if x.author]
    author = lead_author or (header_bylines or [None])[0] or (any_bylines or [None])[0] or hints.author
    return published, author


def _fallback_outlet(lines: list[PageLine], body_start: int, signoff: tuple[str, str | None] | None) -> str | None:
    """When no copyright line, dateline or site name names the outlet: a site name printed above
    the headline ("한빛일보", "호남IT저널"), then the reporter's e-mail domain."""
    for line in lines[:body_start]:
        if meta.is_outlet_name(line.text) or meta.looks_like_outlet_name(line.text):
            return line.text
    if signoff is not None and signoff[1]:
        return signoff[1]
    for line in lines:
        for domain in meta.email_domains(line.text):
            outlet = meta.outlet_of_email(domain)
            if outlet:
                return outlet
    return None


def _rejoin_split_sentences(paras: list[_Para]) -> list[_Para]:
    """Join a sentence that the page layout cut in two around a photo (or mid-word)."""
    out: list[_Para] = []
    i = 0
    while i < len(paras):
        cur = paras[i]
        i += 1
        if cur.kind != "body":
            out.append(cur)
            continue
        held: list[_Para] = []
        while i < len(paras) and sig.is_sentence_half_length(cur.text) and not sig.ends_clause(cur.text):
            cut_word = bool(_CUT_SYLLABLE.search(cur.text)) and bool(sig.has_sentence_end(cur.text))
            j = i
            skipped: list[_Para] = []
            while j < len(paras) and (
                paras[j].kind == "caption" or (sig.is_sentence_half_length(paras[j].text) and not sig.has_sentence_end(paras[j].text))
            ):
                skipped.append(paras[j])
                j += 1
            has_caption = any(p.kind == "caption" for p in skipped)
            if j >= len(paras) or not (has_caption or (cut_word and not skipped)):
                break
            nxt = paras[j].text
            glue = "" if cut_word or _PARTICLE_START.match(nxt) else " "
            cur = _Para("body", cur.text + glue + nxt)
            held.extend(skipped)
            i = j + 1
        out.append(cur)
        out.extend(held)
    return out
