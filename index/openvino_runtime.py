"""e5-small's encoder on the CPU through OpenVINO: the same BertModel, compiled once.

Why not torch's eager forward on the CPU: measured side by side on this project's 2-core machine
(AVX512-BF16, no AMX), OpenVINO's compiled graph (weights pre-packed, attention, GELU and
LayerNorm fused) embeds 265-token passages 1.6x faster than torch in bf16, and an 18-token
question in 8 ms instead of 24 ms (one thread each): torch pays per-operator overhead on every one
of the ~300 small operators of a short question.

The graph is converted from the sentence-transformers model when the bundle is written
(``index.e5_bundle``) and read from there: loading needs neither torch nor sentence-transformers.
It is compiled for throughput: one stream per core, each a single thread, so two concurrent
questions run side by side, and a text's vector depends only on its own tokens and its batch's
shape, never on what else runs at the time.

No Python callable is ever handed to OpenVINO (no request callback, no AsyncInferQueue callback):
OpenVINO's threads then never take the GIL. One that tried while the interpreter was exiting was
ended by Python (pthread_exit) inside C++ code that cannot unwind, and the process aborted with
"terminate called without an active exception" after its work was done (18 of 60 runs of a
script that embeds sentences and exits; a few in 1,000 runs of `aihub-qa ask`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

INPUTS = ("input_ids", "attention_mask")


def native_bf16() -> bool:
    """True where OpenVINO's CPU plugin computes bf16 natively (AVX512-BF16 or AMX)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoEncoder:
    """Mean-pooled last hidden states of a converted encoder; thread-safe."""

    batch_size = 4  # with one stream per core, measured best on 280-token passages (8: -2 to -5%, 16: -4 to -19%)

    def __init__(self, model_xml: Path, dtype: str) -> None:
        import openvino as ov

        self.dtype = dtype
        core = ov.Core()
        precision = "bf16" if dtype == "bfloat16" else "f32"
        # Threads not pinned to cores: pinned inference threads kept the event loop's thread off
        # its core (/healthz p95 58 ms under four long questions, 38 ms unpinned; eval.bench_stall).
        self._compiled = core.compile_model(
            core.read_model(str(model_xml)), "CPU",
            {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "THROUGHPUT", "ENABLE_CPU_PINNING": False},
        )
        self._jobs = max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._hidden = int(self._compiled.output(0).get_partial_shape()[2].get_length())
        self._free: list[Any] = []  # idle infer requests: one per concurrent caller at most
        self._lock = threading.Lock()

    def one(self, token_ids: Sequence[int]) -> np.ndarray:
        """One unpadded text: its mean-pooled vector (fp32, not normalised)."""
        return self.start_one(token_ids).result()

    def start_one(self, token_ids: Sequence[int]) -> RunningOne:
        """one(), started and left to run on OpenVINO's threads: the same vector, from result()."""
        ids = np.asarray([token_ids], dtype=np.int64)
        with self._lock:
            request = self._free.pop() if self._free else self._compiled.create_infer_request()
        mask = np.ones_like(ids)
        try:
            request.start_async({INPUTS[0]: ids, INPUTS[1]: mask})
        except BaseException:
            self._release(request)
            raise
        return RunningOne(self, request, mask)

    def _release(self, request: Any) -> None:
        with self._lock:
            self._free.append(request)

    def each(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Texts one at a time (unpadded, so each vector depends on its own tokens only), as many at
        once as the CPU has streams: the sentences of an answer take half the time of a loop."""
        out = np.zeros((len(token_ids), self._hidden), dtype=np.float32)
        self.batches([(np.array([i]), np.asarray([ids], dtype=np.int64), np.ones((1, len(ids)), np.int64))
                      for i, ids in enumerate(token_ids)], out)
        return out

    def batches(self, batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], out: np.ndarray) -> None:
        """Runs padded batches (rows of `out`, ids, mask), as many at once as the CPU has streams,
        writing each text's mean over its real tokens into its row of `out`. Results are read here,
        on the caller's thread, as each request comes free (its queue's own callbacks are C++ only)."""
        import openvino as ov

        queue = ov.AsyncInferQueue(self._compiled, self._jobs)
        running: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(queue)

        def collect(handle: int) -> None:
            job, running[handle] = running[handle], None
            if job is not None:
                rows, mask = job
                out[rows] = mean_pool(queue[handle].get_output_tensor(0).data, mask)

        for rows, ids, mask in batches:
            handle = queue.get_idle_request_id()  # waits until a request is free
            collect(handle)
            job = (rows, mask)
            running[handle] = job
            queue.start_async({INPUTS[0]: ids, INPUTS[1]: mask}, job)
            if queue.userdata[handle] is not job:  # start_async takes the request get_idle_request_id named
                raise RuntimeError("OpenVINO's queue started a batch on another request than the idle one")
        queue.wait_all()
        for handle in range(len(queue)):
            collect(handle)


class RunningOne:
    """A text in OpenVINO's asynchronous inference (start_one); its infer request goes back to the
    encoder once result() has read it. result(): one thread at a time; done(): any thread, any time
    (under the lock, it asks the request only while this text still holds it)."""

    def __init__(self, encoder: OpenVinoEncoder, request: Any, mask: np.ndarray) -> None:
        self._encoder = encoder
        self._request: Any = request
        self._mask = mask
        self._vector: np.ndarray | None = None
        self._lock = threading.Lock()

    def done(self) -> bool:
        with self._lock:
            if self._request is None:
                return True
            try:
                return bool(self._request.wait_for(0))
            except Exception:  # the inference failed: it is over, and result() says so
                return True

    def result(self) -> np.ndarray:
        if self._request is not None:
            request = self._request
            try:
                request.wait()
                self._vector = mean_pool(request.get_output_tensor(0).data, self._mask)[0]
            finally:
                with self._lock:
                    self._request = None
                self._encoder._release(request)
        if self._vector is None:
            raise RuntimeError("the inference of this text failed")
        return self._vector


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of each text's hidden states over its real tokens, in fp32 (one function for batches
    and single texts, so a text alone gets the same vector either way)."""
    weights = mask[:, :, None].astype(np.float32)
    return (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1) / weights.sum(axis=1)


def convert_encoder(bert: Any, target: Path) -> None:
    """Converts a transformers BertModel (last_hidden_state) to OpenVINO IR at `target` (.xml + .bin)."""
    import warnings

    import openvino as ov
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # A padded example: the graph must keep the mask (an all-ones example could trace it away).
    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        model = ov.convert_model(
            Encoder(bert.float().eval()),
            example_input={INPUTS[0]: ids, INPUTS[1]: mask},
            input=[(name, [-1, -1], ov.Type.i64) for name in INPUTS],
        )
    ov.save_model(model, str(target), compress_to_fp16=False)
