"""Korean tokenizers for BM25. The same tokenizer runs at index and at query time.

- ``mecab+bigram`` (default): both of the below, bigrams prefixed with ``#`` (measured best on
  our gold set: morphemes match exact words, bigrams catch compounds the dictionary splits oddly).
- ``mecab``: MeCab-ko content morphemes (nouns, verb/adjective stems, roots, numbers,
  foreign words, hanja); compound nouns also yield their parts ("광주시" → 광주시, 광주, 시).
- ``bigram``: overlapping character bigrams of each word (no dictionary; robust to new words).
- ``whitespace``: lower-cased words split on spaces — a baseline only: Korean particles stick to
  nouns (서울은 ≠ 서울), so it is a poor choice for Korean.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from index.errors import InvalidSetting

DEFAULT_TOKENIZER = "mecab+bigram"

# MeCab-ko (Sejong) tags that carry content: nouns, numerals, verb/adjective stems, roots,
# foreign words (SL), hanja (SH), numbers (SN) and counters (NNBC: 명, 개, 원).
_CONTENT_TAGS = ("NNG", "NNP", "NNBC", "NR", "VV", "VA", "XR", "SL", "SH", "SN")
# Interrogatives and pronouns (NP: 무엇/어디/누구/언제, MM: 몇/어느) are not in _CONTENT_TAGS;
# these interrogative common nouns would otherwise match unrelated sentences ("얼마나").
_STOP_NOUNS = frozenset({"얼마", "무엇", "어디", "누구", "언제"})
_WORD = re.compile(r"[\w]+", re.UNICODE)


class Tokenizer(Protocol):
    name: str

    def tokenize(self, text: str) -> list[str]: ...


def _prepare(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


class MecabTokenizer:
    name = "mecab"

    def __init__(self) -> None:
        import mecab_ko

        self._new_tagger = mecab_ko.Tagger
        # A MeCab tagger is not safe to share between threads: one per thread (the dictionary is
        # memory-mapped and shared), so concurrent questions tokenize in parallel.
        self._local = threading.local()

    def tokenize(self, text: str) -> list[str]:
        tagger = getattr(self._local, "tagger", None)
        if tagger is None:
            tagger = self._local.tagger = self._new_tagger()
        parsed = tagger.parse(_prepare(text))
        tokens: list[str] = []
        for line in parsed.split("\n"):
            if not line or line == "EOS" or "\t" not in line:
                continue
            surface, feature = line.split("\t", 1)
            fields = feature.split(",")
            tag = fields[0]
            first_tag = tag.split("+")[0]
            if not first_tag.startswith(_CONTENT_TAGS):
                continue
            if first_tag in ("VV", "VA") or "+" in tag:
                # Inflected form: index the stem ("투입해" → 투입; "한다" skipped as XSV).
                expr = fields[7] if len(fields) > 7 else "*"
                stem = expr.split("/")[0] if expr != "*" else surface
                if first_tag in ("VV", "VA", "XR") or first_tag.startswith("N"):
                    tokens.append(stem if first_tag in ("VV", "VA") else surface)
                continue
            if surface in _STOP_NOUNS:
                continue
            tokens.append(surface)
            if len(fields) > 7 and fields[4] == "Compound" and fields[7] != "*":
                # Compound noun: also index its parts so "광주시" matches "광주".
                tokens.extend(p.split("/")[0] for p in fields[7].split("+") if p.split("/")[0] != surface)
        return tokens


class BigramTokenizer:
    name = "bigram"

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for word in _WORD.findall(_prepare(text)):
            if len(word) == 1:
                tokens.append(word)
            else:
                tokens.extend(word[i : i + 2] for i in range(len(word) - 1))
        return tokens


class WhitespaceTokenizer:
    name = "whitespace"

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(_prepare(text))


TOKENIZERS = {"mecab": MecabTokenizer, "bigram": BigramTokenizer, "whitespace": WhitespaceTokenizer}


def make_tokenizer(name: str) -> Tokenizer:
    try:
        return TOKENIZERS[name]()
    except KeyError:
        raise InvalidSetting(f"unknown tokenizer '{name}'; use {', '.join(TOKENIZERS)}") from None


BIGRAM_PREFIX = "#"  # marks the character bigrams of the mecab+bigram tokenizer (never a morpheme's first char)


class MecabBigramTokenizer:
    """MeCab-ko content morphemes plus character bigrams of each word (prefixed so they never collide)."""

    name = "mecab+bigram"

    def __init__(self) -> None:
        self._mecab = MecabTokenizer()
        self._bigram = BigramTokenizer()

    def tokenize(self, text: str) -> list[str]:
        return self._mecab.tokenize(text) + [BIGRAM_PREFIX + t for t in self._bigram.tokenize(text)]


TOKENIZERS["mecab+bigram"] = MecabBigramTokenizer


PARALLEL_FROM = 2_000  # passages; below this, starting worker processes costs more than it saves
_BATCH = 256
_worker_tokenizer: Tokenizer | None = None


def _start_worker(name: str) -> None:
    global _worker_tokenizer
    _worker_tokenizer = make_tokenizer(name)


def _tokenize_batch(texts: list[str]) -> list[list[str]]:
    assert _worker_tokenizer is not None  # set by the pool's initializer
    return [_worker_tokenizer.tokenize(t) for t in texts]


def tokenize_many(
    tokenizer: Tokenizer, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
) -> Iterator[list[str]]:
    """Tokenize passages in order, on every core for a large corpus and a named tokenizer.

    Worker processes each load their own analyzer (MeCab is not thread-safe and holds the GIL);
    a tokenizer object that is not one of TOKENIZERS runs in this process.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    total = len(texts)
    workers = min(os.cpu_count() or 1, 4)
    named = type(tokenizer) is TOKENIZERS.get(tokenizer.name)
    if total < PARALLEL_FROM or workers < 2 or not named:
        for i, text in enumerate(texts):
            yield tokenizer.tokenize(text)
            if progress and (i + 1) % _BATCH == 0:
                progress(i + 1, total)
    else:
        batches = [list(texts[i : i + _BATCH]) for i in range(0, total, _BATCH)]
        ctx = get_context("spawn")  # never fork a process that may hold OpenMP or torch threads
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker, initargs=(tokenizer.name,)) as pool:
            done = 0
            for result in pool.map(_tokenize_batch, batches):
                yield from result
                done += len(result)
                if progress:
                    progress(done, total)
    if progress:
        progress(total, total)
