"""eval.synthetic: mixture vectors, near-passage queries, random vectors and Korean token streams."""

from __future__ import annotations

import numpy as np
import pytest

from eval.synthetic import (
    Mixture,
    TokenStream,
    build_token_pool,
    fit_mixture,
    normalise,
    random_unit,
    split_sentences,
)
from ingest.reader import read_corpus


@pytest.fixture(scope="module")
def mixture() -> Mixture:
    """Fitted to clustered, anisotropic "real" vectors (a shared offset as e5 vectors have)."""
    rng = np.random.default_rng(0)
    d = 48
    shared = rng.standard_normal(d) * 3
    centres = rng.standard_normal((6, d))
    labels = rng.integers(0, 6, size=600)
    passages = normalise(shared + centres[labels] + 0.3 * rng.standard_normal((600, d)))
    gold = np.arange(0, 600, 3)
    queries = normalise(passages[gold] + 0.02 * rng.standard_normal((len(gold), d)))
    return fit_mixture(passages, queries, gold, components=6, rank=4, seed=1)


def test_mixture_samples_are_unit_vectors_of_the_fitted_dimension(mixture: Mixture) -> None:
    x = mixture.sample(1000, seed=3)
    assert x.shape == (1000, 48) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    # Real-like, not isotropic: samples share a direction (random unit vectors would average to ~0).
    assert np.linalg.norm(x.mean(axis=0)) > 0.5
    assert np.linalg.norm(random_unit(1000, 48, seed=3).mean(axis=0)) < 0.1


def test_mixture_is_deterministic_per_seed_and_any_row_range_is_reproducible(mixture: Mixture) -> None:
    whole = mixture.sample(10_000, seed=5)
    np.testing.assert_array_equal(whole, mixture.sample(10_000, seed=5))
    np.testing.assert_array_equal(mixture.sample(300, seed=5, start=4000), whole[4000:4300])
    assert not np.allclose(mixture.sample(100, seed=6), whole[:100])


def test_mixture_round_trips_through_its_file(mixture: Mixture, tmp_path) -> None:
    mixture.save(tmp_path / "m.npz")  # directions and offsets stored in float16
    loaded = Mixture.load(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.sample(50, seed=1), mixture.sample(50, seed=1), atol=2e-3)
    assert loaded.bases.dtype == np.float32 and loaded.weights.sum() == pytest.approx(1.0)


def test_queries_lie_near_their_target_passages(mixture: Mixture) -> None:
    passages = mixture.sample(2000, seed=2)
    queries, targets = mixture.queries(passages, 200, seed=2)
    assert queries.shape == (200, 48)
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    scores = queries @ passages.T
    target_scores = scores[np.arange(200), targets]
    # the target is among the closest passages (top 1% of 2,000) for most queries
    rank = (scores > target_scores[:, None]).sum(axis=1)
    assert np.mean(rank < 20) > 0.8


def test_random_unit_vectors_are_normalised_and_reproducible() -> None:
    x = random_unit(5000, 384, seed=9)
    assert x.shape == (5000, 384)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(random_unit(100, 384, seed=9, start=4096), x[4096:4196])


@pytest.fixture(scope="module")
def pool():
    documents = [doc.text for doc in read_corpus(__import__("tests.conftest", fromlist=["CORPUS"]).CORPUS)]
    paragraphs = [p for text in documents for p in text.split("\n\n") if len(p) > 100]
    return build_token_pool(documents, paragraphs)


def test_sentences_split_on_korean_sentence_ends() -> None:
    assert split_sentences("광주는 AI 도시다. 데이터센터가 있다.\n사진 설명") == ["광주는 AI 도시다.", "데이터센터가 있다.", "사진 설명"]


def test_token_streams_have_real_chunk_lengths_and_are_deterministic(pool) -> None:
    texts = list(TokenStream(pool, seed=1).passages(300))
    assert texts == list(TokenStream(pool, seed=1).passages(300))
    assert texts != list(TokenStream(pool, seed=2).passages(300))
    lengths = np.asarray([len(t.split(" ")) for t in texts])
    longest_sentence = max(len(s) for s in pool.sentences)
    assert lengths.min() >= pool.lengths.min()
    assert lengths.max() < pool.lengths.max() + longest_sentence
    assert abs(np.median(lengths) - np.median(pool.lengths)) < np.median(pool.lengths) * 0.3
    assert any(t.startswith("#") for t in texts[0].split(" ")) and any(not t.startswith("#") for t in texts[0].split(" "))


def test_vocabulary_keeps_growing_after_the_pool_is_used_up(pool) -> None:
    per_pass = int(sum(len(s) for s in pool.sentences) / np.median(pool.lengths))
    texts = list(TokenStream(pool, seed=1).passages(per_pass * 6))
    first = {t for text in texts[:per_pass] for t in text.split(" ")}
    later = {t for text in texts for t in text.split(" ")}
    assert len(later) > len(first) * 1.2  # rare tokens (names, numbers) get new variants on later passes


def test_queries_share_words_with_their_passage(pool) -> None:
    stream = TokenStream(pool, seed=4)
    texts = list(stream.passages(50))
    for i in (0, 17, 49):
        query = stream.query(i)
        passage = set(texts[i].split(" "))
        words = [t for t in query if not t.startswith("#")]
        assert len(words) >= 3
        assert sum(w in passage for w in words) >= min(3, len(words) - 2)
