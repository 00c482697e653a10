"""Every invalid setting ends every command with one line on stderr and exit 2, before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "aihub-qa"
COMMANDS = [("build",), ("ask", "광주"), ("serve", "--port", "0")]


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env}, cwd=cwd
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"AIHUB_QA_CHUNK_OVERLAP": "200"},
            "error: bad settings: AIHUB_QA_CHUNK_OVERLAP (200) must be less than half of AIHUB_QA_CHUNK_TOKENS (256)",
        ),
        (
            {"AIHUB_QA_DEFAULT_K": "60"},
            "error: bad settings: AIHUB_QA_DEFAULT_K (60) must not exceed AIHUB_QA_MAX_K (50)",
        ),
        (
            {"AIHUB_QA_MAX_K": "0"},
            "error: bad setting max_k (AIHUB_QA_MAX_K): Input should be greater than or equal to 1",
        ),
        (
            {"AIHUB_QA_HEADER_TIMEOUT": "soon"},
            "error: bad setting header_timeout (AIHUB_QA_HEADER_TIMEOUT): Input should be a valid number, "
            "unable to parse string as a number",
        ),
    ],
    ids=["overlap", "default_k", "max_k", "timeout"],
)
def test_an_invalid_setting_is_one_line_and_exit_2(
    command: tuple[str, ...], env: dict[str, str], line: str, tmp_path: Path
) -> None:
    proc = run(*command, env={"AIHUB_QA_EMBEDDER": "hash:8", **env}, cwd=tmp_path)

    assert (proc.returncode, proc.stderr.strip()) == (2, line)
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing built or written


def test_ask_follows_the_configured_k_limit(tmp_path: Path) -> None:
    proc = run("ask", "광주", "--k", "9", env={"AIHUB_QA_MAX_K": "8", "AIHUB_QA_DEFAULT_K": "2"}, cwd=tmp_path)

    assert (proc.returncode, proc.stderr.strip()) == (2, "error: --k must be at most 8 (AIHUB_QA_MAX_K), got 9")
