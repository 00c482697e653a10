"""Read a corpus directory of raw articles (`*.txt`, `*.html`, `*.htm`, optional `<name>.meta.json` sidecars) into Documents.

A file that cannot be an article (not UTF-8, binary, empty, no prose) is skipped: the caller
learns of it through `on_skip(path, reason)`, or, by default, a warning on the `ingest.reader`
logger (see `skip_warnings_to`). A corpus in which no article survives is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from ingest.cleaning import CleanedArticle, clean_article, repeated_lines
from ingest.documents import Document
from ingest.errors import CorpusNotFound, InvalidMetadata, UnreadableArticle

SIDECAR_FIELDS = ("title", "source", "published", "author", "url")
TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm")
ARTICLE_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES
ARTICLE_PATTERNS = ", ".join(f"*{s}" for s in ARTICLE_SUFFIXES)

SkipHandler = Callable[[Path, str], None]
logger = logging.getLogger("ingest.reader")


@dataclass(frozen=True)
class Parsed:
    """One article file read and cleaned: the document and how its page was parsed."""

    document: Document
    cleaned: CleanedArticle
    kind: str  # "text" | "html"


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The article files of a corpus, in a fixed (name) order."""
    if not corpus_dir.is_dir():
        raise CorpusNotFound(f"corpus directory not found: {corpus_dir}")
    files = sorted(p for p in corpus_dir.iterdir() if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES)
    if not files:
        raise CorpusNotFound(f"no articles ({ARTICLE_PATTERNS}) in corpus directory {corpus_dir}")
    return files


def corpus_hash(corpus_dir: Path) -> str:
    """Hash of every article and sidecar (names and bytes): changes whenever the corpus does."""
    digest = hashlib.sha256()
    for path in corpus_files(corpus_dir):
        for part in (path, sidecar_path(path)):
            if part.is_file():
                digest.update(part.name.encode())
                digest.update(b"\0")
                digest.update(part.read_bytes())
                digest.update(b"\0")
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".meta.json")


def is_html(path: Path) -> bool:
    return path.suffix.lower() in HTML_SUFFIXES


def read_page(path: Path) -> str:
    """The text of an article file; UnreadableArticle when it is empty, binary or not UTF-8.

    HTML pages may declare another charset (EUC-KR pages saved from older Korean sites)."""
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableArticle(f"{path}: empty file")
    if b"\0" in data:
        raise UnreadableArticle(f"{path}: binary file, not a text or HTML article")
    encoding = "utf-8-sig"
    if is_html(path):
        from ingest.html import declared_charset

        declared = declared_charset(data)
        if declared and declared.replace("_", "-") not in ("utf-8", "utf8"):
            encoding = declared
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableArticle(f"{path}: not {encoding.removesuffix('-sig').upper()} text ({exc.reason} at byte {exc.start})") from None
    except LookupError:
        raise UnreadableArticle(f"{path}: unknown charset '{encoding}' declared in the page") from None


def parse_document(path: Path, chrome: frozenset[str] = frozenset(), allow_empty: bool = False) -> Parsed:
    """Read and clean one article file, apply its sidecar; UnreadableArticle if no article text is
    left (unless `allow_empty`, for showing how a page was parsed)."""
    raw = read_page(path)
    if is_html(path):
        from ingest.html import clean_html_article

        cleaned, kind = clean_html_article(raw, chrome), "html"
    else:
        cleaned, kind = clean_article(raw, chrome), "text"
    if not cleaned.text.strip() and not allow_empty:
        raise UnreadableArticle(f"{path}: no article text found (no line of running prose)")
    doc = Document(
        id=path.stem,
        title=cleaned.title or path.stem,
        source=cleaned.source or "",
        published=cleaned.published,
        author=cleaned.author,
        url=None,
        text=cleaned.text,
    )
    overrides = read_sidecar(sidecar_path(path))
    return Parsed(replace(doc, **overrides) if overrides else doc, cleaned, kind)


def read_document(path: Path, chrome: frozenset[str] = frozenset()) -> Document:
    """Clean one article and apply its sidecar metadata, which wins over what was inferred."""
    return parse_document(path, chrome).document


def read_sidecar(path: Path) -> dict[str, str | None]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidMetadata(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidMetadata(f"{path}: expected a JSON object")
    unknown = sorted(set(data) - set(SIDECAR_FIELDS))
    if unknown:
        raise InvalidMetadata(f"{path}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(SIDECAR_FIELDS)}")
    for key, value in data.items():
        if value is not None and not isinstance(value, str):
            raise InvalidMetadata(f"{path}: field '{key}' must be a string or null")
    if data.get("published"):
        try:
            data["published"] = date.fromisoformat(data["published"]).isoformat()
        except ValueError:
            raise InvalidMetadata(f"{path}: 'published' must be an ISO date (YYYY-MM-DD)") from None
    if "source" in data and data["source"] is None:
        data["source"] = ""
    if "title" in data and not data["title"]:
        raise InvalidMetadata(f"{path}: 'title' must not be empty")
    return data


def read_corpus(corpus_dir: Path, on_skip: SkipHandler | None = None) -> list[Document]:
    """Every article of the corpus, cleaned, in file-name order.

    Files that are not articles are skipped and reported to `on_skip(path, reason)` (default: a
    warning on the `ingest.reader` logger). Lines repeated across the corpus's pages are treated
    as site chrome. CorpusNotFound when no article survives."""
    parsed = parse_corpus(corpus_dir, on_skip)
    return [p.document for p in parsed.values()]


def parse_corpus(corpus_dir: Path, on_skip: SkipHandler | None = None) -> dict[Path, Parsed]:
    """Like `read_corpus`, keeping how each page was parsed (for inspection and benchmarks)."""
    report = on_skip or _log_skip
    files = corpus_files(corpus_dir)
    pages = _readable_pages(files, report)
    chrome = repeated_lines(pages.values())
    parsed: dict[Path, Parsed] = {}
    for path in pages:
        try:
            parsed[path] = parse_document(path, chrome)
        except UnreadableArticle as exc:
            report(path, _reason(exc, path))
    if not parsed:
        raise CorpusNotFound(f"no readable article in corpus directory {corpus_dir} ({len(files)} file(s) skipped)")
    return parsed


def corpus_chrome(corpus_dir: Path) -> frozenset[str]:
    """The site chrome of a corpus: non-prose lines repeated on several of its pages."""
    try:
        files = corpus_files(corpus_dir)
    except CorpusNotFound:
        return frozenset()
    return repeated_lines(_readable_pages(files, lambda path, reason: None).values())


def _readable_pages(files: list[Path], report: SkipHandler) -> dict[Path, str]:
    pages: dict[Path, str] = {}
    for path in files:
        try:
            pages[path] = _chrome_view(path, read_page(path))
        except UnreadableArticle as exc:
            report(path, _reason(exc, path))
    return pages


def _chrome_view(path: Path, raw: str) -> str:
    if not is_html(path):
        return raw
    from ingest.html import visible_text

    return visible_text(raw)


def _reason(exc: UnreadableArticle, path: Path) -> str:
    return str(exc).removeprefix(f"{path}: ")


def _log_skip(path: Path, reason: str) -> None:
    logger.warning("skipped %s: %s", path, reason)


@contextmanager
def skip_warnings_to(emit: Callable[[str], None]) -> Iterator[None]:
    """Send the reader's skip warnings (one line per skipped file) to `emit` while the block runs."""

    class _Emit(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            emit(record.getMessage())

    handler = _Emit(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
