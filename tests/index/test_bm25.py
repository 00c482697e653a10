"""BM25: scores equal bm25s's Lucene variant; top rows without a full sort, ties in row order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from index.bm25 import BM25Builder, BM25Index, top_rows


def _corpus(seed: int = 0, docs: int = 600) -> list[list[str]]:
    rng = random.Random(seed)
    vocab = [f"t{i}" for i in range(200)]
    # Zipf-like: low ids are common, high ids rare; some passages are empty.
    return [[vocab[min(int(rng.paretovariate(1.2)) - 1, 199)] for _ in range(rng.randint(0, 30))] for _ in range(docs)]


def test_scores_equal_bm25s_lucene() -> None:
    bm25s = pytest.importorskip("bm25s")
    docs = _corpus()
    ours = BM25Index.build(docs)
    ref = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    ref.index([d or ["\x00"] for d in docs], show_progress=False)
    rng = random.Random(1)
    for _ in range(100):
        query = [f"t{rng.randint(0, 220)}" for _ in range(rng.randint(1, 6))]  # some unknown words, some repeated
        known = [t for t in query if t in ref.vocab_dict]
        expected = np.asarray(ref.get_scores(known), dtype=np.float32) if known else np.zeros(len(docs), np.float32)
        np.testing.assert_allclose(ours.scores(query), expected, rtol=1e-5, atol=1e-6)


def test_saved_index_loads_memory_mapped_with_the_same_scores(tmp_path) -> None:
    docs = _corpus(2)
    built = BM25Index.build(docs)
    built.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert isinstance(loaded.data.base, np.memmap) and not loaded.data.flags.writeable  # a view of the file
    for query in (["t0"], ["t3", "t3", "t50"], ["없는말"]):
        np.testing.assert_array_equal(loaded.scores(query), built.scores(query))
    assert loaded.idf("t0") == built.idf("t0") and loaded.idf("없는말") == built.idf("없는말")


def test_document_frequencies_and_idf() -> None:
    index = BM25Index.build([["a", "a", "b"], ["a"], ["c"], []])
    # a in 2 of 4 passages; the unknown word counts as in none.
    assert index.idf("a") == pytest.approx(np.log(1 + (4 - 2 + 0.5) / (2 + 0.5)))
    assert index.idf("zzz") == pytest.approx(np.log(1 + (4 + 0.5) / 0.5))
    assert index.max_score("a") == pytest.approx(float(index.scores(["a"]).max()))


def test_top_rows_equals_a_stable_full_sort() -> None:
    rng = np.random.default_rng(0)
    for depth in (1, 5, 50, 500):
        # Few distinct values: many ties, also at the cut-off; zeros are never returned.
        scores = rng.integers(0, 6, size=400).astype(np.float32)
        full = [int(r) for r in np.argsort(-scores, kind="stable") if scores[r] > 0][:depth]
        assert top_rows(scores, depth).tolist() == full


def test_top_rows_breaks_ties_by_lower_row_first() -> None:
    scores = np.array([1.0, 2.0, 2.0, 0.0, 2.0, 1.0], dtype=np.float32)
    assert top_rows(scores, 2).tolist() == [1, 2]
    assert top_rows(scores, 4).tolist() == [1, 2, 4, 0]
    assert top_rows(np.zeros(3, np.float32), 2).tolist() == []


def _zipf_index(docs: int = 3000) -> BM25Index:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(2000)]
    # A few words in most passages (the ones `top` may skip), a long tail of rare ones.
    return BM25Index.build(
        [[vocab[min(int(rng.paretovariate(0.9)) - 1, 1999)] for _ in range(rng.randint(0, 40))] for _ in range(docs)]
    )


def test_top_equals_scoring_every_passage() -> None:
    index = _zipf_index()
    rng = random.Random(7)
    for _ in range(300):
        query = [f"w{min(int(rng.paretovariate(0.7)) - 1, 2100)}" for _ in range(rng.randint(1, 8))]
        depth = rng.choice((1, 3, 10, 50, 400))
        rows, scores = index.top(query, depth)
        everything = index.scores(query)
        assert rows.tolist() == top_rows(everything, depth).tolist(), query
        np.testing.assert_array_equal(scores, everything[rows])
        others = np.asarray(rng.sample(range(index.n_docs), 40))
        np.testing.assert_array_equal(index.scores_at(query, others), everything[others])


def test_top_skips_scoring_every_passage_when_common_words_cannot_reach_it(monkeypatch) -> None:
    index = _zipf_index()
    common = max(index.vocab, key=index.document_frequency)
    rare = next(t for t in index.vocab if 20 <= index.document_frequency(t) <= 40)
    expected = top_rows(index.scores([common, rare, common]), 10).tolist()

    def refuse(query_tokens):  # type: ignore[no-untyped-def]
        raise AssertionError("scored every passage")

    monkeypatch.setattr(index, "scores", refuse)
    assert index.top([common, rare, common], 10)[0].tolist() == expected
    assert index.top(["없는말"], 10)[0].tolist() == []


def _single_pass(token_lists: list[list[str]], k1: float = 1.2, b: float = 0.75) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The former one-`np.unique`-over-the-corpus build, kept as the oracle of the blocked one."""
    vocab: dict[str, int] = {}
    ids = [np.asarray([vocab.setdefault(t, len(vocab)) for t in (tokens or ["\x00"])], np.int32) for tokens in token_lists]
    n_docs, n_vocab = len(ids), len(vocab)
    lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=n_docs)
    tokens = np.concatenate(ids).astype(np.int64)
    docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    pairs, tf = np.unique(tokens * n_docs + docs, return_counts=True)
    token_of, doc_of = np.divmod(pairs, n_docs)
    df = np.bincount(token_of, minlength=n_vocab)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = k1 * ((1 - b) + b * lengths[doc_of] / lengths.mean())
    tf = tf.astype(np.float32)
    data = (idf[token_of] * (tf / (norm + tf))).astype(np.float32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return data, doc_of.astype(np.int32), indptr


def test_blocked_build_equals_one_pass_over_the_corpus_bit_for_bit() -> None:
    rng = random.Random(7)
    docs = _corpus(3, docs=200)
    # Words that occur in some blocks only (each in a run of passages), repeated words, empty passages.
    for row in range(40, 60):
        docs[row] = docs[row] + ["only-here"] * rng.randint(1, 3)
    docs[150] = docs[150] + ["once"]
    docs[0], docs[199], docs[100] = [], [], []
    expected = _single_pass(docs)
    for block in (7, 1, 64, len(docs), 10_000):
        built = BM25Builder().add_all(docs).build(block_passages=block)
        for name, want in zip(("data", "indices", "indptr"), expected):
            got = getattr(built, name)
            assert got.dtype == want.dtype, (block, name)
            np.testing.assert_array_equal(got, want, err_msg=f"block {block}: {name}")
        assert built.n_docs == len(docs)
    # And the default block size, on a corpus larger than one block would be were it tiny.
    default = BM25Index.build(docs)
    np.testing.assert_array_equal(default.data, expected[0])
    np.testing.assert_array_equal(default.indices, expected[1])
