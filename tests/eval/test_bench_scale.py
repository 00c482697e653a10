"""The scale benchmark end to end at a tiny size: real build, load and search code, JSON contract."""

from __future__ import annotations

import json

import pytest

from eval import bench_scale

KEYS = {"passages", "build_s", "load_s", "rss_mb", "disk_mb", "dense_p50_ms", "bm25_p50_ms", "hybrid_p50_ms",
        "hybrid_p95_ms", "recall_at_10"}


def test_bench_scale_with_flat_search_prints_exact_recall_as_json(tmp_path, capsys) -> None:
    bench_scale.main(["--passages", "300", "--ann", "flat", "--vectors", "random", "--queries", "20",
                      "--korquad", "none", "--dir", str(tmp_path / "work"), "--json"])
    out = capsys.readouterr()
    result = json.loads(out.out.strip().splitlines()[-1])
    assert KEYS <= result.keys()
    assert result["passages"] == 300
    assert result["recall_at_10"] == 1.0
    assert result["disk_mb"] >= 0 and result["rss_mb"] > 0 and result["hybrid_p95_ms"] >= result["hybrid_p50_ms"] > 0
    assert "built in" in out.err  # progress goes to stderr
    assert not (tmp_path / "work").exists()  # work files are removed without --keep


def test_synthetic_embedder_returns_the_row_named_in_the_text() -> None:
    import numpy as np

    passages = np.eye(4, dtype=np.float32)
    embedder = bench_scale.SyntheticEmbedder(passages, passages[::-1].copy(), "random")
    got = embedder.embed_passages([bench_scale.row_text(2, "a b"), bench_scale.row_text(0, "c")])
    np.testing.assert_array_equal(got, passages[[2, 0]])
    np.testing.assert_array_equal(embedder.embed_query(bench_scale.query_text(1, ["x"])), passages[2])
    with pytest.raises(ValueError, match="without a passage marker"):
        embedder.embed_passages(["no marker"])
    assert bench_scale.SyntheticTokenizer().tokenize(bench_scale.row_text(7, "광주 #광주 ai")) == ["광주", "#광주", "ai"]
