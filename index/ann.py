"""The dense (FAISS) index of a version: exact where it is cheap, approximate where it pays.

- ``flat``: exact inner product over every vector (results identical to brute force).
- ``hnsw``: a graph (IndexHNSWFlat): sub-millisecond to a few ms at a million passages.
- ``ivf``: inverted lists over k-means cells (IndexIVFFlat): fast to build, tuned by nprobe.
- ``auto`` (default): flat below `AUTO_APPROXIMATE_FROM` passages, hnsw from there on.

The chosen type and its parameters are recorded in the manifest; the search-time parameter
(efSearch / nprobe) can be changed at load without rebuilding.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.errors import InvalidSetting
from index.manifest import AnnRecord

ANN_TYPES: tuple[str, ...] = ("auto", "flat", "hnsw", "ivf")
AUTO_APPROXIMATE_FROM = 50_000  # passages; below this an exact scan costs a few milliseconds
ADD_BATCH = 20_000

BuildProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class AnnConfig:
    """What a build asks for; `resolve` turns it into the record of what was built."""

    type: str = "auto"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    # recall@10 on realistic vectors: 100k 0.98 at 128, 0.995 at 256; 1M (M=32, efC=80): 0.839 at 128,
    # 0.898 at 256, 0.949 at 512, 0.962 at 640, 0.964 at 768, 0.971 at 1024 (eval.bench_scale --reuse)
    hnsw_ef_search: int = 640
    ivf_nlist: int | None = None  # None: about 4·√N cells
    ivf_nprobe: int = 32

    def __post_init__(self) -> None:
        if self.type not in ANN_TYPES:
            raise InvalidSetting(f"unknown ann type '{self.type}'; use {', '.join(ANN_TYPES)}")
        for name in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nprobe"):
            if getattr(self, name) < 1:
                raise InvalidSetting(f"ann {name} must be at least 1, got {getattr(self, name)}")
        if self.ivf_nlist is not None and self.ivf_nlist < 1:
            raise InvalidSetting(f"ann ivf_nlist must be at least 1, got {self.ivf_nlist}")

    def resolve(self, n: int) -> AnnRecord:
        kind = self.type
        if kind == "auto":
            kind = "flat" if n < AUTO_APPROXIMATE_FROM else "hnsw"
        if kind == "hnsw":
            params = {"m": self.hnsw_m, "ef_construction": self.hnsw_ef_construction, "ef_search": self.hnsw_ef_search}
        elif kind == "ivf":
            nlist = self.ivf_nlist or max(1, min(int(4 * np.sqrt(max(n, 1))), n // 39 or 1))
            params = {"nlist": nlist, "nprobe": min(self.ivf_nprobe, nlist)}
        else:
            params = {}
        return AnnRecord(type=kind, params=params)


def build_ann(record: AnnRecord, vectors: np.ndarray, progress: BuildProgress | None = None) -> Any:
    """A FAISS inner-product index of `vectors` (row i = id i), built in batches with progress."""
    import faiss

    n, dim = vectors.shape
    p = record.params
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building uses every core (searching uses one)
    if record.type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif record.type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, p["m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p["ef_construction"]
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(n, size=min(n, p["nlist"] * 64), replace=False)]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    for start in range(0, n, ADD_BATCH):
        index.add(np.ascontiguousarray(vectors[start : start + ADD_BATCH], dtype=np.float32))
        if progress:
            progress(min(start + ADD_BATCH, n), n)
    configure_search(index, record)
    return index


def configure_search(index: Any, record: AnnRecord, ef_search: int | None = None, nprobe: int | None = None) -> None:
    """Apply the recorded search parameter, or an override given at load."""
    import faiss

    if record.type == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = ef_search or record.params["ef_search"]
    elif record.type == "ivf":
        faiss.extract_index_ivf(index).nprobe = nprobe or record.params["nprobe"]
