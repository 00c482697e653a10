"""BM25 over pre-tokenized passages, backed by bm25s (sparse matrices, saved as plain files)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DF_FILE = "df.json"


class BM25Index:
    """Scores every passage for a tokenized query; also keeps document frequencies for highlighting."""

    def __init__(self, retriever: object, df: dict[str, int], n_docs: int) -> None:
        self._retriever = retriever
        self._vocab: dict[str, int] = getattr(retriever, "vocab_dict", {}) or {}
        self.df = df
        self.n_docs = n_docs

    @classmethod
    def build(cls, token_lists: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        # bm25s needs at least one token per passage; an empty passage gets a token no query has.
        retriever.index([tokens or ["\x00"] for tokens in token_lists], show_progress=False)
        df: Counter[str] = Counter()
        for tokens in token_lists:
            df.update(set(tokens))
        return cls(retriever, dict(df), len(token_lists))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(directory))  # type: ignore[attr-defined]
        (directory / DF_FILE).write_text(json.dumps({"n_docs": self.n_docs, "df": self.df}, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        import bm25s

        retriever = bm25s.BM25.load(str(directory))
        meta = json.loads((directory / DF_FILE).read_text())
        return cls(retriever, meta["df"], int(meta["n_docs"]))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage (zeros when no query token is in the vocabulary)."""
        known = [t for t in query_tokens if t in self._vocab]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]

    def idf(self, token: str) -> float:
        """Lucene-style idf, used to weigh query words when picking the sentence to highlight."""
        df = self.df.get(token, 0)
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))
