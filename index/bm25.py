"""Okapi BM25 (Lucene's idf) over pre-tokenized passages, built and scored for large corpora.

The index is a token-major sparse matrix of precomputed per-(token, passage) scores, the layout
bm25s uses: for token t, passages `indices[indptr[t]:indptr[t+1]]` with scores `data[...]`. It is
built with vectorised numpy (no per-token Python loop; document frequencies are the column
lengths) and saved as plain .npy files that load memory-mapped: a query reads only the postings of
its own tokens. Scores equal bm25s's `lucene` method (tested against it):

    score(q, d) = Σ_{t ∈ q} idf(t) · tf / (tf + k1 · (1 − b + b · |d| / avgdl)),
    idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PARAMS_FILE = "params.json"
# `top` first scores only the query's words found in at most this share of the passages (the
# rare, high-idf ones); a common word's long posting list is read only for the few passages that
# can still reach the top (MaxScore), and is skipped for all others.
COMMON_WORD_SHARE = 1 / 64
VOCAB_FILE = "vocab.json"
ARRAYS = ("data", "indices", "indptr")
# Passages per block of `BM25Builder.build`: its temporaries (keys, sort) scale with a block, not the corpus.
BUILD_BLOCK_PASSAGES = 65_536
EMPTY_PASSAGE_TOKEN = "\x00"  # an empty passage still has length 1 (as bm25s counts it); no query has it


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75


class BM25Builder:
    """Collects passages' tokens as integer ids in one flat int32 buffer (a million passages of
    ~240 tokens take ~1.2 GB), then builds the index block by block in bounded memory."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._tokens = array("i")  # every passage's token ids, one after another
        self._lengths = array("q")  # tokens per passage

    def add(self, tokens: Sequence[str]) -> None:
        vocab = self.vocab
        tokens = tokens or (EMPTY_PASSAGE_TOKEN,)
        try:  # most passages of a large corpus have only known words: look them up in C
            ids = list(map(vocab.__getitem__, tokens))
        except KeyError:
            ids = [vocab.setdefault(t, len(vocab)) for t in tokens]
        self._tokens.fromlist(ids)
        self._lengths.append(len(ids))

    def add_all(self, token_lists: Iterable[Sequence[str]]) -> BM25Builder:
        for tokens in token_lists:
            self.add(tokens)
        return self

    def build(self, params: BM25Params | None = None, block_passages: int = BUILD_BLOCK_PASSAGES) -> BM25Index:
        """The token-major score matrix, built `block_passages` passages at a time.

        Each block yields its distinct (token, passage, tf) triples sorted token-major (one
        `np.unique` over block-local keys, so the keys and their sort stay block-sized); document
        frequencies are summed over the blocks; then the blocks, in passage order, fill each
        token's posting list from its start, so within a token the passages stay in ascending
        row order. The result is the same, bit for bit, as one `np.unique` over the whole corpus.
        """
        if block_passages < 1:
            raise ValueError("block_passages must be positive")
        params = params or BM25Params()
        n_docs, n_vocab = len(self._lengths), len(self.vocab)
        if n_docs == 0:
            empty_ptr = np.zeros(n_vocab + 1, dtype=np.int64)
            return BM25Index(np.zeros(0, np.float32), np.zeros(0, np.int32), empty_ptr, dict(self.vocab), 0, params)
        lengths = np.frombuffer(self._lengths, dtype=np.int64)
        tokens = np.frombuffer(self._tokens, dtype=np.int32)
        starts = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        tf_dtype = np.min_scalar_type(int(lengths.max()))  # uint16 for any real passage
        # Kept until the fill: (first row, token int32, row in block, tf), the last two in the
        # smallest unsigned type that holds them (uint16 for blocks of up to 65,536 passages).
        blocks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        df = np.zeros(n_vocab, dtype=np.int64)
        for lo in range(0, n_docs, block_passages):
            hi = min(n_docs, lo + block_passages)
            size = hi - lo
            local = np.repeat(np.arange(size, dtype=np.int64), lengths[lo:hi])
            keys = tokens[starts[lo] : starts[hi]].astype(np.int64)
            keys *= size
            keys += local
            del local
            pairs, tf = np.unique(keys, return_counts=True)
            del keys
            token_of, row_of = np.divmod(pairs, size)
            del pairs
            df += np.bincount(token_of, minlength=n_vocab)
            blocks.append((lo, token_of.astype(np.int32), row_of.astype(np.min_scalar_type(size - 1)), tf.astype(tf_dtype)))
            del token_of, row_of, tf
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        del df
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        filled = indptr[:-1].copy()  # next free slot of each token's posting list
        mean_length = lengths.mean()
        while blocks:
            lo, token_of, row_of, tf_counts = blocks.pop(0)
            # Position of each triple: its token's next free slot plus its rank among the block's
            # triples of the same token (they are contiguous and in row order).
            first = np.flatnonzero(np.r_[True, token_of[1:] != token_of[:-1]])
            counts = np.diff(np.r_[first, token_of.size])
            rank = np.arange(token_of.size, dtype=np.int64) - np.repeat(first, counts)
            at = filled[token_of] + rank
            del rank
            filled[token_of[first]] += counts
            rows = row_of.astype(np.int32)
            rows += lo
            del row_of
            norm = params.k1 * ((1 - params.b) + params.b * lengths[rows] / mean_length)
            tf = tf_counts.astype(np.float32)
            data[at] = (idf[token_of] * (tf / (norm + tf))).astype(np.float32)
            del norm, tf
            indices[at] = rows
            del at, token_of, rows, tf_counts
        return BM25Index(data, indices, indptr, dict(self.vocab), n_docs, params)


class BM25Index:
    """Scores passages for a tokenized query; `top` returns the best rows without sorting them all."""

    def __init__(
        self,
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        vocab: dict[str, int],
        n_docs: int,
        params: BM25Params,
    ) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr
        self.vocab = vocab
        self.n_docs = n_docs
        self.params = params
        self._df = np.diff(np.asarray(indptr))
        self._max_scores: dict[int, float] = {}  # token id → highest score it gives (filled on use)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], params: BM25Params | None = None) -> BM25Index:
        return BM25Builder().add_all(token_lists).build(params)

    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ARRAYS:
            path = directory / f"{name}.npy"
            np.save(path, getattr(self, name))
            written.append(path)
        tokens = [""] * len(self.vocab)
        for token, i in self.vocab.items():
            tokens[i] = token
        (directory / VOCAB_FILE).write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
        params = {"k1": self.params.k1, "b": self.params.b, "n_docs": self.n_docs}
        (directory / PARAMS_FILE).write_text(json.dumps(params), encoding="utf-8")
        return [*written, directory / VOCAB_FILE, directory / PARAMS_FILE]

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        # Memory-mapped, read through plain ndarray views: a slice of a numpy.memmap costs a Python
        # call of its own (__array_finalize__), and a query takes a few slices per word.
        arrays = {name: np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r")) for name in ARRAYS}
        tokens = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        params = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
        vocab = {token: i for i, token in enumerate(tokens)}
        return cls(
            arrays["data"], arrays["indices"], arrays["indptr"], vocab, int(params["n_docs"]),
            BM25Params(float(params["k1"]), float(params["b"])),
        )

    def top(self, query_tokens: Sequence[str], depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the `depth` best passages: exactly `top_rows(self.scores(q), depth)`
        and those rows' scores, without reading the longest posting lists in full when they
        cannot change the top (MaxScore).

        The words found in few passages give partial scores; the depth-th best partial score is
        a floor θ for the final depth-th score (scores only grow). The commonest words, taken
        while the sum of their highest scores stays below θ, can lift no passage without the
        other words into the top, and only passages whose partial score plus that sum reaches θ
        can still enter it: those few are scored in full, adding each word's score in query
        order as `scores` does, so scores and ties are the same. When no word can be skipped,
        every passage is scored.
        """
        ids = self._term_ids(query_tokens)
        if not ids or depth < 1:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        common_from = self.n_docs * COMMON_WORD_SHARE
        # Every occurrence of a word adds its score again, so its bound counts its repetitions.
        bound = {t: ids.count(t) * self._max_score_of(t) for t in set(ids)}
        common = sorted((t for t in bound if self._df[t] > common_from), key=lambda t: bound[t])
        rare = [t for t in bound if t not in common]
        if common and rare:
            partial = self._partial(ids, rare)
            candidates = np.flatnonzero(partial > 0)
            if candidates.size >= depth:
                floor = _kth_largest(partial[candidates], depth)
                margin = 1e-4 * floor + 1e-6  # float32 rounding of the final sums, with room to spare
                skipped, rest = 0, 0.0
                while skipped < len(common) and rest + bound[common[skipped]] + margin < floor:
                    rest += bound[common[skipped]]
                    skipped += 1
                if skipped:
                    scored = common[skipped:]
                    if scored:  # these cannot be skipped: their postings join the partial scores
                        partial += self._partial(ids, scored)
                        candidates = np.flatnonzero(partial > 0)
                        floor = max(floor, _kth_largest(partial[candidates], depth))
                    rows = candidates[partial[candidates] + rest + margin >= floor]
                    scores = self._scores_at(ids, rows)
                    best = _best(rows, scores, depth)
                    return rows[best], scores[best]
        all_scores = self.scores(query_tokens)
        rows = top_rows(all_scores, depth).astype(np.int64)
        return rows, all_scores[rows]

    def scores_at(self, query_tokens: Sequence[str], rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """BM25 scores of `rows` only, equal to `scores(query_tokens)[rows]`."""
        return self._scores_at(self._term_ids(query_tokens), np.asarray(rows, dtype=np.int64))

    def _term_ids(self, query_tokens: Sequence[str]) -> list[int]:
        return [self.vocab[t] for t in query_tokens if t in self.vocab]

    def _span(self, t: int) -> tuple[int, int]:
        return int(self.indptr[t]), int(self.indptr[t + 1])

    def _max_score_of(self, t: int) -> float:
        best = self._max_scores.get(t)
        if best is None:
            s, e = self._span(t)
            best = self._max_scores[t] = float(np.max(self.data[s:e])) if e > s else 0.0
        return best

    def _partial(self, ids: list[int], words: list[int]) -> np.ndarray:
        """Every passage's score from `words` only (each counted as often as the query has it)."""
        spans = [self._span(t) for t in ids if t in words]
        if not spans:
            return np.zeros(self.n_docs, dtype=np.float64)
        rows = np.concatenate([self.indices[s:e] for s, e in spans])
        weights = np.concatenate([self.data[s:e] for s, e in spans])
        return np.bincount(rows, weights=weights, minlength=self.n_docs)

    def _scores_at(self, ids: list[int], rows: np.ndarray) -> np.ndarray:
        # The same float64 additions in the same order as `scores`' bincount, then float32.
        total = np.zeros(rows.size, dtype=np.float64)
        if rows.size == 0:
            return total.astype(np.float32)
        wanted = rows.astype(self.indices.dtype)
        for t in ids:
            s, e = self._span(t)
            postings = self.indices[s:e]
            at = np.minimum(np.searchsorted(postings, wanted), e - s - 1)
            found = postings[at] == wanted
            total[found] += self.data[s:e][at[found]]
        return total.astype(np.float32)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage (zeros when no query token is in the vocabulary).

        A token repeated in the query counts again, as in bm25s."""
        ids = [self.vocab[t] for t in query_tokens if t in self.vocab]
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        spans = [(int(self.indptr[i]), int(self.indptr[i + 1])) for i in ids]
        rows = np.concatenate([self.indices[s:e] for s, e in spans])
        weights = np.concatenate([self.data[s:e] for s, e in spans])
        return np.bincount(rows, weights=weights, minlength=self.n_docs).astype(np.float32)

    def idf(self, token: str) -> float:
        """Lucene-style idf of a token (0 documents for an unknown one)."""
        i = self.vocab.get(token)
        df = int(self._df[i]) if i is not None else 0
        return float(np.log1p((self.n_docs - df + 0.5) / (df + 0.5)))

    def document_frequency(self, token: str) -> int:
        i = self.vocab.get(token)
        return int(self._df[i]) if i is not None else 0

    def max_score(self, token: str) -> float:
        """The highest score the token alone gives any passage (0 for an unknown token)."""
        i = self.vocab.get(token)
        return 0.0 if i is None else self._max_score_of(i)


def top_rows(scores: np.ndarray, depth: int) -> np.ndarray:
    """Rows of the `depth` highest positive scores, best first, equal scores lower row first.

    Only passages with a positive score are considered; when there are more than `depth`, a
    partition finds the cut-off score and only the rows at or above it are sorted.
    """
    positive = np.flatnonzero(scores > 0)
    return positive[_best(positive, scores[positive], depth)]


def _kth_largest(values: np.ndarray, k: int) -> float:
    return float(np.partition(values, values.size - k)[values.size - k])


def _best(rows: np.ndarray, scores: np.ndarray, depth: int) -> np.ndarray:
    """Positions of the `depth` highest positive scores, best first, equal scores lower row first
    (`rows` ascending)."""
    keep = np.flatnonzero(scores > 0)
    if keep.size > depth:
        values = scores[keep]
        cutoff = np.partition(values, keep.size - depth)[keep.size - depth]
        keep = keep[values >= cutoff]  # every tie at the cut-off stays a candidate
    order = np.lexsort((rows[keep], -scores[keep]))
    return keep[order[:depth]]
