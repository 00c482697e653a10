"""The `aihub-qa` command line, run as users run it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.e5_bundle import bundle_dir

EXE = Path(sys.executable).parent / "aihub-qa"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=cwd
    )


@pytest.fixture()
def built(small_corpus: Path, tmp_path: Path) -> Path:
    index = tmp_path / "idx"
    proc = run("build", "--corpus", str(small_corpus), "--index", str(index), "--embedder", "hash:32")
    assert proc.returncode == 0, proc.stderr
    assert f"built {index}: 3 documents, " in proc.stdout and " embedded, 0 reused, flat search) in " in proc.stdout
    return index


def test_build_twice_reuses_every_chunk(small_corpus: Path, built: Path) -> None:
    proc = run("build", "--corpus", str(small_corpus), "--index", str(built), "--embedder", "hash:32")
    assert proc.returncode == 0
    assert "(0 embedded, " in proc.stdout


def test_ask_json_has_exactly_the_api_shape(built: Path) -> None:
    proc = run("ask", "사관학교 수료생은 몇 명?", "--index", str(built), "--embedder", "hash:32", "--k", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"question", "mode", "took_ms", "answered", "confidence", "answer", "passages"}
    assert isinstance(data["answered"], bool) and 0.0 <= data["confidence"] <= 1.0
    if data["answered"]:
        assert set(data["answer"]) == {"text", "rank", "citation"}
        assert "155명" in data["answer"]["text"]
    else:
        assert data["answer"] is None
    assert data["question"] == "사관학교 수료생은 몇 명?" and data["mode"] == "hybrid" and data["took_ms"] > 0
    assert len(data["passages"]) == 2
    p = data["passages"][0]
    assert set(p) == {"rank", "score", "scores", "text", "highlight", "citation"}
    assert set(p["scores"]) == {"dense", "bm25"} and set(p["highlight"]) == {"start", "end"}
    assert set(p["citation"]) == {"doc_id", "title", "source", "published", "author", "url", "start", "end"}
    assert p["rank"] == 1 and "155명" in p["text"] and p["citation"]["doc_id"] == "b"
    assert p["citation"]["title"] == "AI 사관학교 수료식"
    assert p["text"][p["highlight"]["start"] : p["highlight"]["end"]] == "인공지능 사관학교는 지난해 155명의 1기 수료생을 배출했다."


def test_ask_readable_output_marks_the_best_sentence(built: Path) -> None:
    proc = run("ask", "사관학교 수료생", "--index", str(built), "--embedder", "hash:32", "--k", "1", "--mode", "bm25")
    assert proc.returncode == 0
    assert "[1] AI 사관학교 수료식" in proc.stdout
    assert "【인공지능 사관학교는 지난해 155명의 1기 수료생을 배출했다.】" in proc.stdout
    assert "— b [" in proc.stdout


def test_ask_readable_output_says_when_the_articles_do_not_answer(built: Path) -> None:
    proc = run("ask", "asdfghjkl qwerty", "--index", str(built), "--embedder", "hash:32")
    assert proc.returncode == 0
    assert "The articles do not answer this (confidence 0." in proc.stdout


def test_missing_index_is_one_line_and_exit_1(tmp_path: Path) -> None:
    proc = run("ask", "광주", "--index", str(tmp_path / "none"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: no index at {tmp_path / 'none'}; build it with: aihub-qa build --index {tmp_path / 'none'}"
    assert "Traceback" not in proc.stderr


def test_missing_index_is_reported_before_the_model_loads(tmp_path: Path) -> None:
    """A model that cannot load must not be the error: the missing index is found first (loading
    the default engine the first time means converting it, minutes of output for nothing)."""
    missing = tmp_path / "none"
    proc = run("ask", "광주", "--index", str(missing), "--embedder", f"sentence-transformers:{tmp_path / 'no-model'}")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: no index at {missing}; build it with: aihub-qa build --index {missing}"


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exit_2(built: Path, question: str) -> None:
    proc = run("ask", question, "--index", str(built), "--embedder", "hash:32")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: the question is empty"


def test_wrong_embedder_for_the_index(built: Path) -> None:
    proc = run("ask", "광주", "--index", str(built), "--embedder", "hash:16")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: index at {built} was built with embedder 'hash:32' but 'hash:16' is configured")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_mode_and_missing_corpus(built: Path, tmp_path: Path) -> None:
    proc = run("ask", "광주", "--index", str(built), "--embedder", "hash:32", "--mode", "magic")
    assert (proc.returncode, proc.stderr.strip()) == (2, "error: unknown mode 'magic'; use hybrid, dense, bm25")
    proc = run("build", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "i2"), "--embedder", "hash:32")
    assert (proc.returncode, proc.stderr.strip()) == (1, f"error: corpus directory not found: {tmp_path / 'nowhere'}")


def test_settings_come_from_the_environment(small_corpus: Path, tmp_path: Path) -> None:
    env = {"AIHUB_QA_INDEX_DIR": str(tmp_path / "env-idx"), "AIHUB_QA_EMBEDDER": "hash:8", "AIHUB_QA_CORPUS_DIR": str(small_corpus),
           "AIHUB_QA_DEFAULT_K": "1"}
    assert run("build", env=env).returncode == 0
    assert (tmp_path / "env-idx" / "current" / "manifest.json").is_file()
    proc = run("ask", "서울 날씨", "--json", env=env)
    passages = json.loads(proc.stdout)["passages"]
    assert proc.returncode == 0 and len(passages) == 1 and passages[0]["citation"]["doc_id"] == "c"


@pytest.mark.model
def test_real_model_end_to_end_on_the_bundled_corpus(corpus_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "real"
    proc = run("build", "--corpus", str(corpus_dir), "--index", str(index))
    assert proc.returncode == 0, proc.stderr
    assert "built" in proc.stdout and "5 documents" in proc.stdout
    proc = run("ask", "인공지능 사관학교 1기 수료생은 몇 명이었나?", "--index", str(index), "--json", "--k", "3")
    top = json.loads(proc.stdout)["passages"][0]
    assert "155명" in top["text"] and top["citation"]["doc_id"] == "001_7b68b981ea3af823"
    assert "155명" in top["text"][top["highlight"]["start"] : top["highlight"]["end"]]
    assert top["scores"]["dense"] is not None and top["scores"]["bm25"] is not None


@pytest.mark.model
def test_the_first_use_of_the_model_says_it_converts_it_and_nothing_more(small_corpus: Path, tmp_path: Path) -> None:
    """Converting the bundled weights takes half a minute once: the user is told, in two lines,
    without the libraries' progress bars and notices."""
    cache = tmp_path / "models"
    env = {"AIHUB_QA_MODEL_CACHE": str(cache)}
    proc = run("build", "--corpus", str(small_corpus), "--index", str(tmp_path / "idx"), env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == f"converting the bundled e5-small weights into {bundle_dir(cache)} (once; about half a minute) …"
    assert lines[1].startswith("converted e5-small in ") and lines[1].endswith(" s")
    for noise in ("Loading weights", "Writing model shards", "loss_type", "%|", "WARNING"):
        assert noise not in proc.stderr
    again = run("ask", "사관학교 수료생은 몇 명?", "--index", str(tmp_path / "idx"), "--k", "1", env=env)
    assert again.returncode == 0 and "155명" in again.stdout
    assert "convert" not in again.stderr  # converted once


def test_build_into_a_folder_of_other_files_is_refused_and_touches_nothing(small_corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(b"%PDF")

    proc = run("build", "--corpus", str(small_corpus), "--index", str(folder), "--embedder", "hash:32")

    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {folder} is not an aihub-qa index and is not empty ")
    assert len(proc.stderr.splitlines()) == 1
    assert [p.name for p in folder.iterdir()] == ["report.pdf"] and (folder / "report.pdf").read_bytes() == b"%PDF"


def test_build_with_an_approximate_index_from_the_environment(small_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx"
    proc = run("build", "--corpus", str(small_corpus), "--index", str(index), "--embedder", "hash:32",
               env={"AIHUB_QA_ANN": "hnsw"})
    assert proc.returncode == 0, proc.stderr
    assert ", hnsw search) in " in proc.stdout
    asked = run("ask", "사관학교 수료생", "--index", str(index), "--embedder", "hash:32", "--json",
                env={"AIHUB_QA_ANN_EF_SEARCH": "16"})
    assert asked.returncode == 0 and json.loads(asked.stdout)["passages"]

    bad = run("build", "--corpus", str(small_corpus), "--index", str(index), env={"AIHUB_QA_ANN": "lsh"})
    assert bad.returncode == 2 and bad.stderr.startswith("error: bad setting ann (AIHUB_QA_ANN): ")
