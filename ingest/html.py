"""Read a news page saved from a browser (.html/.htm): main text and metadata with trafilatura.

trafilatura finds the article's main content and the page's title, date, author and site name.
The main text then goes through the same cleaner as a text dump (furniture left inside the main
content, captions, metadata lines), and the whole visible page is searched for the labelled
date stamp, byline and copyright line, which beat trafilatura's guesses (its date may come from
a "today" bar).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from ingest import metadata as meta
from ingest.cleaning import CleanedArticle, DroppedLine, PageHints, clean_article, page_lines
from ingest.signals import is_prose

# Elements after which a browser starts a new line.
_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr "
    "li main nav ol p pre section table tr ul".split()
)
_CELLS = frozenset(("td", "th"))  # a table row stays one line, its cells joined by " | "
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.IGNORECASE)
_REPORTER_SUFFIX = re.compile(r"\s*(?:기자|특파원)$")
MIN_EXTRACTED_CHARS = 20  # trafilatura's default (250) sends short articles to a cruder fallback


@dataclass(frozen=True)
class HtmlPage:
    main_text: str  # the visible lines of the region trafilatura found to hold the article
    visible_text: str  # every visible line of the page, for metadata and for the dropped-lines report
    hints: PageHints


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in a <meta> tag (pages saved from Korean sites may be EUC-KR)."""
    m = _CHARSET.search(data[:4096])
    return m.group(1).decode("ascii", "replace").lower() if m else None


@lru_cache(maxsize=1)
def _config():
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # no signal-based timeout (not allowed off the main thread)
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(MIN_EXTRACTED_CHARS))
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "1")
    return config


def visible_text(html: str) -> str:
    """The page's text as a browser lays it out in lines (scripts, styles and <head> left out)."""
    import lxml.html

    root = lxml.html.document_fromstring(html)
    for el in root.xpath("//script|//style|//noscript|//template|//head"):
        el.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
            if el.tag != "br":
                el.text = "\n" + (el.text or "")
        elif isinstance(el.tag, str) and el.tag in _CELLS:
            el.tail = " | " + (el.tail or "")
    lines = (re.sub(r"[ \t]+", " ", line).strip().removesuffix(" |").strip() for line in root.text_content().split("\n"))
    return "\n".join(lines)


def _squash(text: str) -> str:
    return re.sub(r"[\s|]+", "", text)


def main_region(visible: str, main: str) -> str:
    """The visible lines from the first to the last line of trafilatura's main text.

    trafilatura finds where the article is but drops some of its short parts (bulleted lists,
    some tables); taking the visible lines of that region lets the cleaner judge each line
    (keep the article's lists, drop a related-articles box) the same way as for a text dump."""
    wanted = {_squash(line) for line in main.split("\n") if _squash(line)}
    lines = visible.split("\n")
    hits = [i for i, line in enumerate(lines) if _squash(line) and _squash(line) in wanted]
    if not hits:
        return main
    return "\n".join(lines[hits[0] : hits[-1] + 1])


def parse_html(html: str) -> HtmlPage:
    import trafilatura

    main = trafilatura.extract(
        html, output_format="txt", include_tables=True, include_comments=False, include_images=False,
        deduplicate=False, config=_config(),
    ) or ""
    found = trafilatura.extract_metadata(html)
    visible = visible_text(html)
    main = main_region(visible, main)
    lines = page_lines(visible)
    site = getattr(found, "sitename", None) or None
    title = getattr(found, "title", None) or None
    if title and site:
        title = re.sub(rf"\s*[-|:·]\s*{re.escape(site)}\s*$", "", title)
    stamps = [s for line in lines if not is_prose(line) for s in meta.find_stamps(line)]
    published = next((s.published for s in stamps if s.first), None) or next(iter(s.published for s in stamps), None)
    author = next((a for line in lines if not is_prose(line) for a in [meta.parse_byline(line)] if a), None)
    if author is None and getattr(found, "author", None):
        author = _REPORTER_SUFFIX.sub("", found.author.split(";")[0]).strip() or None
    copyright_outlet = next((o for line in lines for o in [meta.outlet_from_copyright(line)] if o), None)
    hints = PageHints(
        title=title,
        published=published or getattr(found, "date", None) or None,
        author=author,
        source=copyright_outlet or site,
    )
    return HtmlPage(main_text=main, visible_text=visible, hints=hints)


def clean_html_article(html: str, chrome: frozenset[str] = frozenset()) -> CleanedArticle:
    """Clean a saved HTML page: trafilatura's main text through the text cleaner, page metadata as hints."""
    page = parse_html(html)
    cleaned = clean_article(page.main_text, chrome, page.hints)
    main_lines = set(page_lines(page.main_text))
    outside = tuple(
        DroppedLine(0, line, "outside the page's main content (trafilatura)")
        for line in page_lines(page.visible_text)
        if line not in main_lines
    )
    return replace(cleaned, dropped=outside + cleaned.dropped)
