"""Evaluation-only packages are an extra: the service never imports them, and `aihub-qa eval`
without them says how to install them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eval.command import EVAL_EXTRA

HEAVY = ("ranx", "numba", "llvmlite", "pyarrow", "pandas", "matplotlib")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_service_and_index_do_not_import_evaluation_packages() -> None:
    proc = run_python(
        "import sys\n"
        "import service.app, service.cli, service.runtime, index.search, index.store, index.bm25, ingest.reader\n"
        "from service.settings import Settings\n"
        "service.app.create_app(Settings(embedder='hash:8')).openapi()\n"
        "service.cli._register_more_commands()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("blocked", EVAL_EXTRA)
def test_eval_without_the_extra_is_one_line_and_exit_2(blocked: str) -> None:
    proc = run_python(
        f"import sys; sys.modules[{blocked!r}] = None  # as if not installed\n"
        "sys.argv = ['aihub-qa', 'eval', '--dataset', 'eval/data/seed_qa.jsonl']\n"
        "from service.cli import main\n"
        "main()"
    )

    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: evaluation needs {blocked}; install them with: pip install 'aihub-qa[eval]'"


def test_dataset_errors_are_project_errors() -> None:
    from eval.datasets import DatasetError
    from ingest.errors import AihubQaError

    assert issubclass(DatasetError, AihubQaError)  # the CLI and callers catch every project error as one kind
