"""Tests for eval.datasets: every format, detection and exact error messages."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from eval.datasets import (
    DatasetError,
    EvalPassage,
    EvalQuery,
    detect_format,
    load_dataset,
)


def exact(msg: str) -> str:
    return f"^{re.escape(msg)}$"


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        + "\n",
        encoding="utf-8",
    )
    return path


def sha(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- jsonl

SEED = [
    {"id": "q1", "question": "광주 AI 허브는 어디에?", "answers": ["첨단3지구"], "x": 1},
    "",
    {"id": "q2", "question": "예산은?", "answers": [], "doc_ids": ["d1", "d2", "d1"]},
    {"id": "q3", "question": "언제 개소했나?", "answers": ["2023년", "2023"]},
]


def test_jsonl_loads(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "seed_qa.jsonl", SEED)
    ds = load_dataset(p)
    assert ds.name == "seed_qa.jsonl"
    assert ds.format == "jsonl"
    assert ds.passages is None
    assert ds.content_hash == sha(p)
    assert ds.queries == (
        EvalQuery("q1", "광주 AI 허브는 어디에?", ("첨단3지구",), ()),
        EvalQuery("q2", "예산은?", (), ("d1", "d2")),
        EvalQuery("q3", "언제 개소했나?", ("2023년", "2023"), ()),
    )


def test_jsonl_limit_keeps_first_queries(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "seed_qa.jsonl", SEED)
    ds = load_dataset(p, limit=2)
    assert [q.id for q in ds.queries] == ["q1", "q2"]
    assert ds.content_hash == sha(p)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['{"id": "q1", "question": "x", "answers": ["a"]}', "{oops"],
         "line 2: invalid JSON (Expecting property name enclosed in double quotes at column 2)"),
        ([["not", "an", "object"]], "line 1: expected a JSON object"),
        ([{"id": "q1", "answers": ["a"]}], "line 1: missing field 'question'"),
        ([{"question": "x", "answers": ["a"]}], "line 1: missing field 'id'"),
        ([{"id": " ", "question": "x", "answers": ["a"]}], "line 1: empty field 'id'"),
        ([{"id": 7, "question": "x", "answers": ["a"]}], "line 1: field 'id' must be a string"),
        ([{"id": "q1", "question": "x", "answers": "a"}],
         "line 1: field 'answers' must be a list of strings"),
        ([{"id": "q1", "question": "x", "answers": ["a", 3]}],
         "line 1: field 'answers' must be a list of strings"),
        ([{"id": "q1", "question": "x", "answers": [""]}],
         "line 1: field 'answers' contains an empty string"),
        ([{"id": "q1", "question": "x", "answers": ["a"], "doc_ids": "d1"}],
         "line 1: field 'doc_ids' must be a list of strings"),
        ([{"id": "q1", "question": "x", "answers": ["a"]}, "",
          {"id": "q1", "question": "y", "answers": ["b"]}],
         "line 3: duplicate id 'q1' (first on line 1)"),
        ([{"id": "q1", "question": "x", "answers": []}],
         "line 1: no 'answers' and no 'doc_ids' (nothing to judge it by)"),
    ],
)
def test_jsonl_errors(tmp_path: Path, rows: list[Any], message: str) -> None:
    p = write_jsonl(tmp_path / "seed_qa.jsonl", rows)
    with pytest.raises(DatasetError, match=exact(f"{p} {message}")):
        load_dataset(p)


def test_jsonl_without_queries(tmp_path: Path) -> None:
    p = tmp_path / "empty.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=exact(f"{p}: no queries")):
        load_dataset(p)


# --------------------------------------------------------------------------- squad

SQUAD = {
    "version": "KorQuAD_v1.0_dev",
    "data": [
        {
            "title": "광주_AI",
            "paragraphs": [
                {
                    "context": "광주 AI 허브는 첨단3지구에 있다.",
                    "qas": [
                        {
                            "id": "k1",
                            "question": "AI 허브 위치는?",
                            "answers": [
                                {"text": "첨단3지구", "answer_start": 10},
                                {"text": "첨단3지구", "answer_start": 10},
                                {"text": "첨단3지구에", "answer_start": 10},
                            ],
                        }
                    ],
                },
                {
                    "context": "예산은 4000억 원이다.",
                    "qas": [
                        {"id": "k2", "question": "예산은?",
                         "answers": [{"text": "4000억 원", "answer_start": 4}]},
                        {"id": "k3", "question": "불가능?", "answers": [],
                         "is_impossible": True},
                    ],
                },
            ],
        },
        {
            "title": "데이터센터",
            "paragraphs": [
                {"context": "데이터센터는 2023년에 개소했다.",
                 "qas": [{"id": "k4", "question": "개소 연도?",
                          "answers": [{"text": "2023년", "answer_start": 7}]}]}
            ],
        },
    ],
}


def test_squad_loads(tmp_path: Path) -> None:
    p = tmp_path / "KorQuAD_v1.0_dev.json"
    p.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    ds = load_dataset(p)
    assert ds.format == "squad"
    assert ds.name == "KorQuAD_v1.0_dev.json"
    assert ds.content_hash == sha(p)
    assert ds.passages == (
        EvalPassage("p00000", "광주_AI", "광주 AI 허브는 첨단3지구에 있다."),
        EvalPassage("p00001", "광주_AI", "예산은 4000억 원이다."),
        EvalPassage("p00002", "데이터센터", "데이터센터는 2023년에 개소했다."),
    )
    assert ds.queries == (
        EvalQuery("k1", "AI 허브 위치는?", ("첨단3지구", "첨단3지구에"), ("p00000",)),
        EvalQuery("k2", "예산은?", ("4000억 원",), ("p00001",)),
        EvalQuery("k4", "개소 연도?", ("2023년",), ("p00002",)),
    )
    assert [q.id for q in load_dataset(p, format="squad", limit=1).queries] == ["k1"]


def _squad_with(mutate: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(SQUAD))
    mutate(doc)
    return doc


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["data"][1]["paragraphs"][0]["qas"][0].pop("question"),
         "data[1].paragraphs[0].qas[0]: missing 'question'"),
        (lambda d: d["data"][0]["paragraphs"][1]["qas"][0].update(id="k1"),
         "data[0].paragraphs[1].qas[0]: duplicate id 'k1'"),
        (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][1].pop("text"),
         "data[0].paragraphs[0].qas[0]: answers[1]: missing 'text'"),
        (lambda d: d["data"][0]["paragraphs"][1].pop("context"),
         "data[0].paragraphs[1]: missing 'context'"),
        (lambda d: d["data"][1].update(paragraphs="x"),
         "data[1]: missing 'paragraphs' list"),
    ],
)
def test_squad_errors(tmp_path: Path, mutate: Any, message: str) -> None:
    p = tmp_path / "dev.json"
    p.write_text(json.dumps(_squad_with(mutate)), encoding="utf-8")
    with pytest.raises(DatasetError, match=exact(f"{p}: {message}")):
        load_dataset(p, format="squad")


def test_squad_bad_top_level_and_bad_json(tmp_path: Path) -> None:
    p = tmp_path / "dev.json"
    p.write_text('{"version": 1}', encoding="utf-8")
    msg = f"{p}: top level must be an object with a 'data' list"
    with pytest.raises(DatasetError, match=exact(msg)):
        load_dataset(p, format="squad")
    p.write_text('{"data": [\n  {"paragraphs": []},\n  oops]}', encoding="utf-8")
    msg = f"{p} line 3: invalid JSON (Expecting value at column 3)"
    with pytest.raises(DatasetError, match=exact(msg)):
        load_dataset(p)


# --------------------------------------------------------------------------- autorag


def write_autorag(folder: Path, qa: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    qa_rows = qa if qa is not None else [
        {"qid": "a1", "query": "위치는?", "retrieval_gt": [["c2", "c1"], ["c2"]],
         "generation_gt": ["첨단3지구"]},
        {"qid": "a2", "query": "예산은?", "retrieval_gt": [["c3"]], "generation_gt": []},
    ]
    qa_path, corpus_path = folder / "qa.parquet", folder / "corpus.parquet"
    pd.DataFrame(qa_rows).to_parquet(qa_path)
    pd.DataFrame(
        [
            {"doc_id": "c1", "contents": "광주 AI 허브",
             "metadata": {"title": "허브", "page": 1}},
            {"doc_id": "c2", "contents": "첨단3지구", "metadata": {"title": None, "page": 2}},
            {"doc_id": "c3", "contents": "4000억 원", "metadata": {"title": "예산", "page": 3}},
        ]
    ).to_parquet(corpus_path)
    return qa_path, corpus_path


EXPECTED_AUTORAG = (
    EvalQuery("a1", "위치는?", ("첨단3지구",), ("c2", "c1")),
    EvalQuery("a2", "예산은?", (), ("c3",)),
)


def test_autorag_folder(tmp_path: Path) -> None:
    qa_path, corpus_path = write_autorag(tmp_path / "ragdata")
    ds = load_dataset(tmp_path / "ragdata")
    assert ds.format == "autorag"
    assert ds.name == "ragdata"
    assert ds.queries == EXPECTED_AUTORAG
    assert ds.passages == (
        EvalPassage("c1", "허브", "광주 AI 허브"),
        EvalPassage("c2", "", "첨단3지구"),
        EvalPassage("c3", "예산", "4000억 원"),
    )
    assert ds.content_hash == sha(qa_path, corpus_path)


def test_autorag_file_with_corpus(tmp_path: Path) -> None:
    qa_path, corpus_path = write_autorag(tmp_path)
    folder_ds = load_dataset(tmp_path, format="autorag")
    ds = load_dataset(qa_path, corpus=corpus_path)
    assert ds.name == "qa.parquet"
    assert ds.queries == EXPECTED_AUTORAG
    assert ds.passages == folder_ds.passages
    assert ds.content_hash == folder_ds.content_hash


def test_autorag_file_needs_corpus(tmp_path: Path) -> None:
    qa_path, _ = write_autorag(tmp_path)
    msg = f"{qa_path}: autorag needs --corpus with corpus.parquet"
    with pytest.raises(DatasetError, match=exact(msg)):
        load_dataset(qa_path)


@pytest.mark.parametrize(
    ("qa", "message"),
    [
        ([{"qid": "a1", "question": "x", "retrieval_gt": [["c1"]]}], ": missing column 'query'"),
        ([{"qid": "a1", "query": "x", "retrieval_gt": [["c1"]]},
          {"qid": "a2", "query": "", "retrieval_gt": [["c1"]]}], " row 1: empty 'query'"),
        ([{"qid": "a1", "query": "x", "retrieval_gt": [["c1"]]},
          {"qid": "a1", "query": "y", "retrieval_gt": [["c1"]]}], " row 1: duplicate qid 'a1'"),
        ([{"qid": "a1", "query": "x", "retrieval_gt": [["c9"]]}],
         " row 0: retrieval_gt id 'c9' is not in corpus.parquet"),
        ([{"qid": "a1", "query": "x", "retrieval_gt": [[]], "generation_gt": []}],
         " row 0: empty retrieval_gt and generation_gt (nothing to judge it by)"),
    ],
)
def test_autorag_errors(tmp_path: Path, qa: list[dict[str, Any]], message: str) -> None:
    qa_path, _ = write_autorag(tmp_path, qa)
    with pytest.raises(DatasetError, match=exact(f"{qa_path}{message}")):
        load_dataset(tmp_path)


def test_autorag_unreadable_parquet(tmp_path: Path) -> None:
    qa_path, corpus_path = write_autorag(tmp_path)
    qa_path.write_bytes(b"not parquet")
    prefix = f"^{re.escape(str(qa_path))}: not a readable parquet file \\("
    with pytest.raises(DatasetError, match=prefix):
        load_dataset(qa_path, corpus=corpus_path)


# --------------------------------------------------------------------------- beir


def write_beir(folder: Path, qrels: str | None = None) -> Path:
    write_jsonl(folder / "corpus.jsonl", [
        {"_id": "d1", "title": "허브", "text": "광주 AI 허브는 첨단3지구에 있다."},
        {"_id": "d2", "text": "예산은 4000억 원이다."},
        {"_id": "d3", "title": "센터", "text": "데이터센터"},
    ])
    write_jsonl(folder / "queries.jsonl", [
        {"_id": "b1", "text": "허브 위치"},
        {"_id": "b2", "text": "예산"},
        {"_id": "b3", "text": "판단 불가 질문"},
        {"_id": "b4", "text": "qrels에 없음"},
    ])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        qrels if qrels is not None
        else "query-id\tcorpus-id\tscore\nb2\td2\t1\nb1\td3\t2\nb1\td1\t1\nb3\td1\t0\n",
        encoding="utf-8",
    )
    return folder


def test_beir_loads(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "ko-beir")
    ds = load_dataset(folder)
    assert ds.format == "beir"
    assert ds.name == "ko-beir"
    assert ds.passages == (
        EvalPassage("d1", "허브", "광주 AI 허브는 첨단3지구에 있다."),
        EvalPassage("d2", "", "예산은 4000억 원이다."),
        EvalPassage("d3", "센터", "데이터센터"),
    )
    # queries.jsonl order; b3 (score 0 only) and b4 (no qrels) are dropped
    assert ds.queries == (
        EvalQuery("b1", "허브 위치", (), ("d3", "d1")),
        EvalQuery("b2", "예산", (), ("d2",)),
    )
    assert ds.content_hash == sha(
        folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "test.tsv"
    )
    assert [q.id for q in load_dataset(folder, limit=1).queries] == ["b1"]


@pytest.mark.parametrize(
    ("qrels", "where", "message"),
    [
        ("query-id\tcorpus-id\tscore\nb1\td1\tone\n", "qrels/test.tsv",
         "line 2: score 'one' is not an integer"),
        ("query-id\tcorpus-id\tscore\nb1 d1 1\n", "qrels/test.tsv",
         "line 2: expected 3 tab-separated fields, got 1"),
        ("b1\td1\t1\nzz\td1\t1\n", "qrels/test.tsv",
         "line 2: query-id 'zz' is not in queries.jsonl"),
    ],
)
def test_beir_qrels_errors(tmp_path: Path, qrels: str, where: str, message: str) -> None:
    folder = write_beir(tmp_path / "b", qrels)
    with pytest.raises(DatasetError, match=exact(f"{folder / where} {message}")):
        load_dataset(folder)


def test_beir_corpus_and_file_errors(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "b")
    corpus = folder / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "a"}\n{"title": "t", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=exact(f"{corpus} line 2: missing field '_id'")):
        load_dataset(folder, format="beir")
    (folder / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match=exact(f"{folder / 'qrels' / 'test.tsv'}: no such file")):
        load_dataset(folder, format="beir")


def test_beir_only_zero_scores_means_no_queries(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "b", "query-id\tcorpus-id\tscore\nb1\td1\t0\n")
    with pytest.raises(DatasetError, match=exact(f"{folder}: no queries")):
        load_dataset(folder)


# --------------------------------------------------------------------------- detection & general


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(write_beir(tmp_path / "beir")) == "beir"
    write_autorag(tmp_path / "ar")
    assert detect_format(tmp_path / "ar") == "autorag"
    assert detect_format(tmp_path / "ar" / "qa.parquet") == "autorag"
    assert detect_format(write_jsonl(tmp_path / "seed.jsonl", SEED)) == "jsonl"
    squad = tmp_path / "dev.json"
    squad.write_text(json.dumps(SQUAD), encoding="utf-8")
    assert detect_format(squad) == "squad"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", "hello"),
        ("other.json", '{"data": [{"text": "no paragraphs"}]}'),
        ("list.json", "[1, 2]"),
        ("folder", None),
    ],
)
def test_detect_format_cannot_tell(tmp_path: Path, name: str, content: str | None) -> None:
    p = tmp_path / name
    if content is None:
        p.mkdir()
        (p / "corpus.jsonl").write_text("", encoding="utf-8")
    else:
        p.write_text(content, encoding="utf-8")
    msg = f"{p}: cannot tell the dataset format; pass --format jsonl|squad|autorag|beir"
    with pytest.raises(DatasetError, match=exact(msg)):
        detect_format(p)
    with pytest.raises(DatasetError, match=exact(msg)):
        load_dataset(p)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    p = tmp_path / "nope.jsonl"
    with pytest.raises(DatasetError, match=exact(f"{p}: no such file")):
        load_dataset(p)
    with pytest.raises(DatasetError, match=exact(f"{p}: no such file")):
        detect_format(p)
    with pytest.raises(
        DatasetError, match=exact("unknown format 'x'; use auto, jsonl, squad, autorag or beir")
    ):
        load_dataset(p, format="x")


def test_corpus_only_for_autorag(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "seed.jsonl", SEED)
    corpus = tmp_path / "corpus.parquet"
    msg = f"{corpus}: --corpus is only used with the autorag format"
    with pytest.raises(DatasetError, match=exact(msg)):
        load_dataset(p, corpus=corpus)


def test_limit_must_be_positive(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "seed.jsonl", SEED)
    with pytest.raises(ValueError):
        load_dataset(p, limit=0)


def test_loaded_datasets_are_values(tmp_path: Path) -> None:
    # Equal files load to equal, hashable datasets: usable as cache keys and in sets.
    first = load_dataset(write_jsonl(tmp_path / "a.jsonl", SEED))
    second = load_dataset(write_jsonl(tmp_path / "b.jsonl", SEED))
    assert first.content_hash == second.content_hash
    assert first.queries == second.queries and len({*first.queries, *second.queries}) == len(first.queries)
    assert load_dataset(write_jsonl(tmp_path / "c.jsonl", SEED[:1])).content_hash != first.content_hash
