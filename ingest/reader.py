"""Read a corpus directory of raw articles (`*.txt`, optional `<name>.meta.json` sidecars) into Documents."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

from ingest.cleaning import clean_article
from ingest.documents import Document
from ingest.errors import CorpusNotFound, InvalidMetadata

SIDECAR_FIELDS = ("title", "source", "published", "author", "url")


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The article files of a corpus, in a fixed (name) order."""
    if not corpus_dir.is_dir():
        raise CorpusNotFound(f"corpus directory not found: {corpus_dir}")
    files = sorted(p for p in corpus_dir.glob("*.txt") if p.is_file())
    if not files:
        raise CorpusNotFound(f"no articles (*.txt) in corpus directory {corpus_dir}")
    return files


def corpus_hash(corpus_dir: Path) -> str:
    """Hash of every article and sidecar (names and bytes): changes whenever the corpus does."""
    digest = hashlib.sha256()
    for path in corpus_files(corpus_dir):
        for part in (path, path.with_suffix(".meta.json")):
            if part.is_file():
                digest.update(part.name.encode())
                digest.update(b"\0")
                digest.update(part.read_bytes())
                digest.update(b"\0")
    return digest.hexdigest()


def read_document(path: Path) -> Document:
    """Clean one article and apply its sidecar metadata, which wins over what was inferred."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusNotFound(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    cleaned = clean_article(raw)
    doc = Document(
        id=path.stem,
        title=cleaned.title or path.stem,
        source=cleaned.source or "",
        published=cleaned.published,
        author=cleaned.author,
        url=None,
        text=cleaned.text,
    )
    overrides = read_sidecar(path.with_suffix(".meta.json"))
    return replace(doc, **overrides) if overrides else doc


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


def read_corpus(corpus_dir: Path) -> list[Document]:
    """Every article of the corpus, cleaned, in file-name order. Empty articles are skipped."""
    docs = [read_document(path) for path in corpus_files(corpus_dir)]
    return [doc for doc in docs if doc.text.strip()]
