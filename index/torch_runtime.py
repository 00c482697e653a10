"""e5-small's encoder run by torch: on a GPU when torch sees one (and on request on the CPU).

The same interface as ``index.openvino_runtime.OpenVinoEncoder``: ``one`` for a single unpadded
text, ``batches`` for padded batches. The model runs in bf16 where the hardware computes it
natively (a bf16 copy made at load, not autocast, which re-casts every weight on every call),
else in fp32.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from index.openvino_runtime import mean_pool  # one pooling for both runtimes (openvino is imported lazily there)


def torch_dtype_for(torch: Any, device: str) -> str:
    """bf16 where the hardware computes it natively (and the equality tests hold in it), else fp32."""
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bfloat16" if native else "float32"


class TorchEncoder:
    """Mean-pooled last hidden states of a transformers BertModel; thread-safe (forward keeps no state)."""

    batch_size = 16  # measured best on 2 CPU cores for 256-token chunks (8: -10%, 32: -8% in bf16)

    def __init__(self, bert: Any, device: str) -> None:
        import torch

        self._torch = torch
        self.device = device
        self.dtype = torch_dtype_for(torch, device)
        self._model = bert if self.dtype == "float32" else copy.deepcopy(bert).to(torch.bfloat16).eval()

    def one(self, token_ids: Sequence[int]) -> np.ndarray:
        torch = self._torch
        ids = torch.tensor([list(token_ids)], device=self.device)
        with torch.inference_mode():  # one unpadded sequence: no attention mask to build
            hidden = self._model(input_ids=ids).last_hidden_state.float().cpu().numpy()
        return mean_pool(hidden, np.ones(hidden.shape[:2], dtype=np.int64))[0]

    def each(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        return np.stack([self.one(ids) for ids in token_ids])

    def batches(self, batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], out: np.ndarray) -> None:
        torch = self._torch
        for rows, ids, mask in batches:
            ids_t, mask_t = torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
            with torch.inference_mode():
                hidden = self._model(input_ids=ids_t, attention_mask=mask_t).last_hidden_state.float().cpu().numpy()
            out[rows] = mean_pool(hidden, mask)
