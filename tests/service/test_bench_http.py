"""The HTTP benchmark end to end at a tiny size, against a real server on loopback (hash embedder)."""

from __future__ import annotations

import pytest

from eval import bench_http
from index.search import Searcher
from service.app import create_app
from service.server import BackgroundServer
from service.settings import Settings


def test_bench_http_times_the_levels_and_the_side_by_side_pairs(
    hash_settings: Settings, hash_searcher: Searcher, capsys: pytest.CaptureFixture[str]
) -> None:
    with BackgroundServer(create_app(hash_settings, hash_searcher)) as url:
        bench_http.main([
            "--url", url, "--clients", "1", "--seconds", "5", "--max-requests", "5", "--pairs", "6", "--block", "4",
            "--in-process-runs", "2", "--index", str(hash_settings.index_dir), "--embedder", hash_settings.embedder,
        ])
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())  # the table, unwrapped
    assert " 1 5 0 " in out  # 1 client: 5 requests, 0 errors
    assert "side by side (6 requests over HTTP and as many embed_query here, alternating in blocks of 4): p50 " in out
    assert "HTTP 1-client p50 / question embedding median: " in out


@pytest.mark.parametrize("args", [["--pairs", "-1"], ["--block", "0"]])
def test_bench_http_refuses_a_negative_pair_count_or_an_empty_block(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_http.main(args)
    assert exit_info.value.code == 2
    assert "--pairs must not be negative, --block must be positive" in capsys.readouterr().err
