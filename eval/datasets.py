"""Load evaluation datasets (jsonl, SQuAD/KorQuAD, AutoRAG, BEIR) into one neutral shape."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import AihubQaError

FORMATS: tuple[str, ...] = ("jsonl", "squad", "autorag", "beir")


@dataclass(frozen=True)
class EvalQuery:
    """One question with what it is judged by."""

    id: str
    question: str
    answers: tuple[str, ...]
    relevant_ids: tuple[str, ...]


@dataclass(frozen=True)
class EvalPassage:
    """A corpus entry shipped with an external dataset."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalDataset:
    """Queries plus (for external datasets) their own corpus."""

    name: str
    format: str
    queries: tuple[EvalQuery, ...]
    passages: tuple[EvalPassage, ...] | None
    content_hash: str


class DatasetError(AihubQaError):
    """A dataset cannot be loaded; the message is one line naming the file and line/row."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


class _Bad(Exception):
    """A field-level problem; the caller prefixes the location."""


@dataclass(frozen=True)
class _Json:
    data: bytes
    doc: Any


# --------------------------------------------------------------------------- public API


def detect_format(path: Path) -> str:
    """Tell the format of a dataset file or folder."""
    return _detect(Path(path))[0]


def default_title_context(dataset: EvalDataset) -> bool:
    """Index a dataset's passages with their title in front when they have titles (Wikipedia-style
    passages name their subject only there): the default of `aihub-qa eval --title-context`."""
    return dataset.passages is not None and any(p.title for p in dataset.passages)


def load_dataset(
    path: Path,
    format: str = "auto",
    corpus: Path | None = None,
    limit: int | None = None,
) -> EvalDataset:
    """Load a dataset; `limit` keeps the first N queries (passages are kept whole)."""
    path = Path(path)
    if format != "auto" and format not in FORMATS:
        raise DatasetError(f"unknown format {format!r}; use auto, jsonl, squad, autorag or beir")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    pre: _Json | None = None
    if format == "auto":
        format, pre = _detect(path)
    if corpus is not None and format != "autorag":
        raise DatasetError(f"{corpus}: --corpus is only used with the autorag format")

    passages: tuple[EvalPassage, ...] | None
    if format == "jsonl":
        data = _read_bytes(path)
        queries = _jsonl_queries(path, data)
        passages, digest = None, _sha256([data])
    elif format == "squad":
        queries, passages, digest = _load_squad(path, pre)
    elif format == "autorag":
        queries, passages, digest = _load_autorag(path, corpus)
    else:
        queries, passages, digest = _load_beir(path)

    if not queries:
        raise DatasetError(f"{path}: no queries")
    if limit is not None:
        queries = queries[:limit]
    return EvalDataset(
        name=path.name or path.resolve().name,
        format=format,
        queries=queries,
        passages=passages,
        content_hash=digest,
    )


# --------------------------------------------------------------------------- detection


def _detect(path: Path) -> tuple[str, _Json | None]:
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.is_dir():
        if (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file() and (
            path / "qrels"
        ).is_dir():
            return "beir", None
        if (path / "qa.parquet").is_file() and (path / "corpus.parquet").is_file():
            return "autorag", None
    else:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return "autorag", None
        if suffix == ".jsonl":
            return "jsonl", None
        if suffix == ".json":
            pre = _read_json(path)
            if _looks_like_squad(pre.doc):
                return "squad", pre
    raise DatasetError(
        f"{path}: cannot tell the dataset format; pass --format jsonl|squad|autorag|beir"
    )


def _looks_like_squad(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    data = doc.get("data")
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(a, dict) and "paragraphs" in a for a in data)
    )


# --------------------------------------------------------------------------- file helpers


def _sha256(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder, expected a file")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    return path.read_bytes()


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DatasetError(f"{path} line {line}: not valid UTF-8") from None


def _read_json(path: Path) -> _Json:
    data = _read_bytes(path)
    try:
        doc = json.loads(_decode(path, data))
    except json.JSONDecodeError as e:
        raise DatasetError(
            f"{path} line {e.lineno}: invalid JSON ({e.msg} at column {e.colno})"
        ) from None
    return _Json(data, doc)


def _jsonl_objects(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (1-based line number, object); blank lines are skipped."""
    for n, line in enumerate(_decode(path, data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(
                f"{path} line {n}: invalid JSON ({e.msg} at column {e.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise DatasetError(f"{path} line {n}: expected a JSON object")
        yield n, obj


def _str_field(obj: dict[str, Any], key: str, what: str = "field ", required: bool = True) -> str:
    """A string field; required ones must be non-blank, optional ones default to ''."""
    if obj.get(key) is None:
        if required:
            raise _Bad(f"missing {what}{key!r}")
        return ""
    value = obj[key]
    if not isinstance(value, str):
        raise _Bad(f"{what}{key!r} must be a string")
    if required and not value.strip():
        raise _Bad(f"empty {what}{key!r}")
    return value


def _str_list(value: Any, key: str, what: str = "field ") -> tuple[str, ...]:
    """A list of non-blank strings, deduplicated in order; None means empty."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{what}{key!r} must be a list of strings")
    if any(not v.strip() for v in value):
        raise _Bad(f"{what}{key!r} contains an empty string")
    return tuple(dict.fromkeys(value))


# --------------------------------------------------------------------------- jsonl


def _jsonl_queries(path: Path, data: bytes) -> tuple[EvalQuery, ...]:
    queries: list[EvalQuery] = []
    first_line: dict[str, int] = {}
    for n, obj in _jsonl_objects(path, data):
        try:
            qid = _str_field(obj, "id")
            question = _str_field(obj, "question")
            answers = _str_list(obj.get("answers"), "answers")
            doc_ids = _str_list(obj.get("doc_ids"), "doc_ids")
            if qid in first_line:
                raise _Bad(f"duplicate id {qid!r} (first on line {first_line[qid]})")
            if not answers and not doc_ids:
                raise _Bad("no 'answers' and no 'doc_ids' (nothing to judge it by)")
        except _Bad as e:
            raise DatasetError(f"{path} line {n}: {e}") from None
        first_line[qid] = n
        queries.append(EvalQuery(qid, question, answers, doc_ids))
    return tuple(queries)


# --------------------------------------------------------------------------- squad


def _load_squad(
    path: Path, pre: _Json | None
) -> tuple[tuple[EvalQuery, ...], tuple[EvalPassage, ...], str]:
    """SQuAD v1.1 / KorQuAD 1.0; SQuAD 2.0 questions marked is_impossible are skipped."""
    pre = pre or _read_json(path)
    doc = pre.doc
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise DatasetError(f"{path}: top level must be an object with a 'data' list")
    passages: list[EvalPassage] = []
    queries: list[EvalQuery] = []
    seen: set[str] = set()
    for a_i, article in enumerate(doc["data"]):
        loc = f"data[{a_i}]"
        try:
            if not isinstance(article, dict):
                raise _Bad("expected an object")
            title = _str_field(article, "title", what="", required=False)
            paragraphs = article.get("paragraphs")
            if not isinstance(paragraphs, list):
                raise _Bad("missing 'paragraphs' list")
            for p_i, para in enumerate(paragraphs):
                loc = f"data[{a_i}].paragraphs[{p_i}]"
                if not isinstance(para, dict):
                    raise _Bad("expected an object")
                context = _str_field(para, "context", what="")
                qas = para.get("qas")
                if not isinstance(qas, list):
                    raise _Bad("missing 'qas' list")
                pid = f"p{len(passages):05d}"
                passages.append(EvalPassage(pid, title, context))
                for q_i, qa in enumerate(qas):
                    loc = f"data[{a_i}].paragraphs[{p_i}].qas[{q_i}]"
                    query = _squad_query(qa, pid, seen)
                    if query is not None:
                        queries.append(query)
        except _Bad as e:
            raise DatasetError(f"{path}: {loc}: {e}") from None
    return tuple(queries), tuple(passages), _sha256([pre.data])


def _squad_query(qa: Any, pid: str, seen: set[str]) -> EvalQuery | None:
    if not isinstance(qa, dict):
        raise _Bad("expected an object")
    if qa.get("is_impossible") is True:
        return None
    qid = _str_field(qa, "id", what="")
    question = _str_field(qa, "question", what="")
    raw = qa.get("answers")
    if not isinstance(raw, list):
        raise _Bad("missing 'answers' list")
    texts: list[str] = []
    for j, ans in enumerate(raw):
        if not isinstance(ans, dict):
            raise _Bad(f"answers[{j}]: expected an object")
        try:
            texts.append(_str_field(ans, "text", what=""))
        except _Bad as e:
            raise _Bad(f"answers[{j}]: {e}") from None
    if qid in seen:
        raise _Bad(f"duplicate id {qid!r}")
    seen.add(qid)
    return EvalQuery(qid, question, tuple(dict.fromkeys(texts)), (pid,))


# --------------------------------------------------------------------------- autorag


def _load_autorag(
    path: Path, corpus: Path | None
) -> tuple[tuple[EvalQuery, ...], tuple[EvalPassage, ...], str]:
    """AutoRAG qa.parquet (qid, query, retrieval_gt, generation_gt) + corpus.parquet."""
    if path.is_dir():
        qa_path = path / "qa.parquet"
        corpus_path = Path(corpus) if corpus is not None else path / "corpus.parquet"
    else:
        qa_path = path
        if corpus is None:
            raise DatasetError(f"{path}: autorag needs --corpus with corpus.parquet")
        corpus_path = Path(corpus)
    qa_data, corpus_data = _read_bytes(qa_path), _read_bytes(corpus_path)
    qa_rows = _parquet_rows(qa_path, qa_data, ("qid", "query", "retrieval_gt"), ("generation_gt",))
    corpus_rows = _parquet_rows(corpus_path, corpus_data, ("doc_id", "contents"), ("metadata",))

    passages: list[EvalPassage] = []
    doc_ids: set[str] = set()
    for i, row in enumerate(corpus_rows):
        try:
            doc_id = _str_field(row, "doc_id", what="")
            text = _str_field(row, "contents", what="", required=False)
            if doc_id in doc_ids:
                raise _Bad(f"duplicate doc_id {doc_id!r}")
        except _Bad as e:
            raise DatasetError(f"{corpus_path} row {i}: {e}") from None
        doc_ids.add(doc_id)
        passages.append(EvalPassage(doc_id, _metadata_title(row.get("metadata")), text))

    queries: list[EvalQuery] = []
    qids: set[str] = set()
    for i, row in enumerate(qa_rows):
        try:
            qid = _str_field(row, "qid", what="")
            question = _str_field(row, "query", what="")
            relevant = _flatten_gt(row.get("retrieval_gt"))
            answers = _answers_gt(row.get("generation_gt"))
            if qid in qids:
                raise _Bad(f"duplicate qid {qid!r}")
            if not relevant and not answers:
                raise _Bad("empty retrieval_gt and generation_gt (nothing to judge it by)")
            missing = next((d for d in relevant if d not in doc_ids), None)
            if missing is not None:
                raise _Bad(f"retrieval_gt id {missing!r} is not in {corpus_path.name}")
        except _Bad as e:
            raise DatasetError(f"{qa_path} row {i}: {e}") from None
        qids.add(qid)
        queries.append(EvalQuery(qid, question, answers, relevant))
    return tuple(queries), tuple(passages), _sha256([qa_data, corpus_data])


def _parquet_rows(
    path: Path, data: bytes, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise DatasetError(f"{path}: not a readable parquet file ({first})") from None
    for col in required:
        if col not in table.column_names:
            raise DatasetError(f"{path}: missing column {col!r}")
    cols = list(required) + [c for c in optional if c in table.column_names]
    return table.select(cols).to_pylist()


def _flatten_gt(value: Any) -> tuple[str, ...]:
    """retrieval_gt is a list of lists of doc ids; flatten, keep order, dedupe."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad("retrieval_gt must be a list of lists of doc ids")
    out: list[str] = []
    for group in value:
        items = [group] if isinstance(group, str) else group
        if not isinstance(items, list) or not all(isinstance(d, str) and d for d in items):
            raise _Bad("retrieval_gt must be a list of lists of doc ids")
        out.extend(items)
    return tuple(dict.fromkeys(out))


def _answers_gt(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    return _str_list(value, "generation_gt", what="")


def _metadata_title(meta: Any) -> str:
    if isinstance(meta, list):  # parquet map columns arrive as (key, value) pairs
        try:
            meta = dict(meta)
        except (TypeError, ValueError):
            return ""
    title = meta.get("title") if isinstance(meta, dict) else None
    return title if isinstance(title, str) else ""


# --------------------------------------------------------------------------- beir


def _load_beir(path: Path) -> tuple[tuple[EvalQuery, ...], tuple[EvalPassage, ...], str]:
    """BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv (score > 0 is relevant)."""
    if not path.is_dir():
        raise DatasetError(
            f"{path}: beir needs a folder with corpus.jsonl, queries.jsonl and qrels/test.tsv"
        )
    corpus_path, queries_path = path / "corpus.jsonl", path / "queries.jsonl"
    qrels_path = path / "qrels" / "test.tsv"
    corpus_data = _read_bytes(corpus_path)
    queries_data = _read_bytes(queries_path)
    qrels_data = _read_bytes(qrels_path)

    passages: list[EvalPassage] = []
    doc_ids: set[str] = set()
    for n, obj in _jsonl_objects(corpus_path, corpus_data):
        try:
            doc_id = _str_field(obj, "_id")
            title = _str_field(obj, "title", required=False)
            text = _str_field(obj, "text", required=False)
            if "text" not in obj:
                raise _Bad("missing field 'text'")
            if doc_id in doc_ids:
                raise _Bad(f"duplicate _id {doc_id!r}")
        except _Bad as e:
            raise DatasetError(f"{corpus_path} line {n}: {e}") from None
        doc_ids.add(doc_id)
        passages.append(EvalPassage(doc_id, title, text))

    questions: dict[str, str] = {}
    for n, obj in _jsonl_objects(queries_path, queries_data):
        try:
            qid = _str_field(obj, "_id")
            text = _str_field(obj, "text")
            if qid in questions:
                raise _Bad(f"duplicate _id {qid!r}")
        except _Bad as e:
            raise DatasetError(f"{queries_path} line {n}: {e}") from None
        questions[qid] = text

    relevant = _beir_qrels(qrels_path, qrels_data, questions)
    queries = tuple(
        EvalQuery(qid, text, (), tuple(relevant[qid]))
        for qid, text in questions.items()
        if relevant.get(qid)
    )
    return queries, tuple(passages), _sha256([corpus_data, queries_data, qrels_data])


def _beir_qrels(path: Path, data: bytes, questions: dict[str, str]) -> dict[str, dict[str, None]]:
    """query-id -> ordered set of corpus-ids with score > 0."""
    relevant: dict[str, dict[str, None]] = {}
    for n, line in enumerate(_decode(path, data).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if n == 1 and [f.strip() for f in fields] == ["query-id", "corpus-id", "score"]:
            continue
        try:
            if len(fields) != 3:
                raise _Bad(f"expected 3 tab-separated fields, got {len(fields)}")
            qid, doc_id, raw_score = (f.strip() for f in fields)
            try:
                score = int(raw_score)
            except ValueError:
                raise _Bad(f"score {raw_score!r} is not an integer") from None
            if qid not in questions:
                raise _Bad(f"query-id {qid!r} is not in queries.jsonl")
            if not doc_id:
                raise _Bad("empty corpus-id")
        except _Bad as e:
            raise DatasetError(f"{path} line {n}: {e}") from None
        if score > 0:
            relevant.setdefault(qid, {})[doc_id] = None
    return relevant
