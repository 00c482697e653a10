"""Split a document into overlapping passages measured in the embedder's tokens, keeping offsets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.documents import Chunk, Document, chunk_id, content_hash

# Paragraph, line, then Korean and general sentence endings, then words, then characters:
# a sentence is only cut when it alone is longer than the limit.
KOREAN_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", "다. ", "요. ", "? ", "! ", ". ", "…", " ", "")

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 256
    overlap_tokens: int = 48

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError(f"overlap_tokens must be in [0, max_tokens/2), got {self.overlap_tokens}")

    def as_dict(self) -> dict[str, int | list[str]]:
        return {**asdict(self), "separators": list(KOREAN_SEPARATORS)}


class Chunker:
    """Wraps langchain's recursive splitter and recovers each chunk's exact offsets."""

    def __init__(self, config: ChunkingConfig, count_tokens: TokenCounter) -> None:
        self.config = config
        self._splitter = RecursiveCharacterTextSplitter(
            separators=list(KOREAN_SEPARATORS),
            keep_separator="end",
            chunk_size=config.max_tokens,
            chunk_overlap=config.overlap_tokens,
            length_function=count_tokens,
            strip_whitespace=True,
        )

    def split(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        search_from = 0
        for piece in self._splitter.split_text(doc.text):
            start = doc.text.find(piece, search_from)
            if start < 0:  # cannot happen with strip_whitespace splitting, but never emit a bad offset
                raise RuntimeError(f"chunk of {doc.id} not found in its document text")
            end = start + len(piece)
            seq = len(chunks)
            chunks.append(Chunk(chunk_id(doc.id, seq), doc.id, seq, piece, start, end, content_hash(piece)))
            search_from = start + 1
        return chunks
