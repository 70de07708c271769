"""WRENCH benchmark directories: ``{train,valid,test}.json`` + ``label.json``.

Each split file maps an id to ``{"data": {"text": ..., ["entity1", "entity2", "span1", "span2"]},
"label": int, "weak_labels": [m ints]}``. The precomputed ``weak_labels`` are kept as vote columns.

Tabular WRENCH datasets (e.g. census) store ``{"data": {"feature": [d numbers]}}`` instead of a text:
they load as examples without text whose numeric vectors are ``Dataset.features`` (n, d); every row
must have d finite numbers.
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..validation import check_votes
from ..task import Task
from .dataset import Dataset
from .loaders import _read_text, from_pandas

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def label_ids(directory: str | Path) -> tuple[list[int], list[str]]:
    """The class ids the split files use and the class names, in class-index order, from ``label.json``.

    WRENCH's ``label.json`` maps id -> name (``{"0": "ham", "1": "spam"}``); accepted too: ids that are not
    contiguous (``{"0": "neg", "3": "pos"}``: class index i is the i-th smallest id, the files' labels and
    votes are remapped) and the inverse mapping name -> id (``{"ham": 0, "spam": 1}``).

    Raises:
        DataError: invalid JSON, not an object, empty, or neither its keys nor its values are integers.
    """
    path = Path(directory) / "label.json"
    try:
        mapping = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}", file=str(path), fix="restore label.json") from None
    if not isinstance(mapping, dict) or not mapping:
        raise DataError("expected a non-empty JSON object mapping class id -> name", file=str(path),
                        fix='write e.g. {"0": "ham", "1": "spam"}')
    pairs = _int_pairs(mapping.items())
    if pairs is None:     # the inverse mapping, name -> id
        pairs = _int_pairs((v, k) for k, v in mapping.items())
    if pairs is None:
        raise DataError(f"keys {list(mapping)[:4]} are not integer class ids (nor are the values)", file=str(path),
                        fix='map each class id the split files use to its name, e.g. {"0": "ham", "1": "spam"}')
    ids = sorted(pairs)
    if len(set(ids)) != len(ids) or any(i < 0 for i in ids):
        raise DataError(f"class ids {ids} repeat or are negative (-1 means abstain / no gold)", file=str(path),
                        fix="give each class its own id >= 0")
    return ids, [str(pairs[i]) for i in ids]


def _int_pairs(items) -> dict[int, object] | None:
    """``{int(key): value}`` when every key is an integer (``"3"`` or ``3``), else None."""
    out = {}
    for k, v in items:
        if isinstance(k, bool) or not (isinstance(k, int) or (isinstance(k, str) and k.strip().lstrip("-").isdigit())):
            return None
        out[int(k)] = v
    return out


def wrench_task(directory: str | Path, instruction: str = "") -> Task:
    """The task a WRENCH directory describes (labels from ``label.json``; relation if entities exist)."""
    directory = Path(directory)
    _, labels = label_ids(directory)
    kind = "text"
    for split in SPLITS:
        f = directory / f"{split}.json"
        if f.exists():
            first = _first_record(f)
            kind = "relation" if "entity1" in first.get("data", {}) else "text"
            break
    return Task(labels=tuple(labels), kind=kind, name=directory.name, instruction=instruction)


FIRST_RECORD_CHUNK = 1 << 16
"""Bytes :func:`_first_record` reads first (a WRENCH file's first record is a few hundred bytes); each further read
doubles, so a long first record is parsed a logarithmic number of times."""


def _first_record(path: Path) -> dict:
    """The first example of a WRENCH split file (``{}`` when the object is empty), parsed alone: the file is read
    until its first record is whole. A start that is not ``{"id": {...}`` (bad JSON, not UTF-8, not an object of
    objects) is parsed as a whole by :func:`_load_json` instead, which raises its clear error (or, for a first value
    that is not an object, returns it as the whole parse would)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    text, size = "", FIRST_RECORD_CHUNK
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(size)
            size *= 2
            try:
                text += decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                break
            found = _parse_first_record(text)
            if found is not None:
                return found
            if not chunk:
                break
    return next(iter(_load_json(path).values()), {})


_SPACE = re.compile(r"[ \t\n\r]*")     # JSON's whitespace


def _parse_first_record(text: str) -> dict | None:
    """The value of the first key of the JSON object that ``text`` starts with, when ``text`` holds it whole and it
    is an object; ``{}`` for an empty object; None otherwise (more text needed, or not WRENCH's layout)."""
    decoder = json.JSONDecoder()
    i = _SPACE.match(text).end()
    if text[i:i + 1] != "{":
        return None
    i = _SPACE.match(text, i + 1).end()
    if text[i:i + 1] == "}":
        return {}
    try:
        key, i = decoder.raw_decode(text, i)
        i = _SPACE.match(text, i).end()
        if not isinstance(key, str) or text[i:i + 1] != ":":
            return None
        value, _ = decoder.raw_decode(text, _SPACE.match(text, i + 1).end())
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON at line {e.lineno}: {e.msg}", file=str(path),
                        fix="restore the file from the WRENCH release") from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object mapping id -> example", file=str(path),
                        fix="use WRENCH's format")
    return data


def load_wrench_split(path: str | Path, task: Task, ids: list[int] | None = None) -> Dataset:
    """One WRENCH split file as a Dataset whose ``weak_labels`` are the precomputed votes.

    ``ids``: the class ids the file uses, in class-index order (:func:`label_ids`); None = ``0..k-1``. Labels
    and votes are mapped to class indices; an id not in ``ids`` is a DataError naming the row."""
    path = Path(path)
    data = _load_json(path)
    remap = None if ids is None or list(ids) == list(range(len(ids))) else {v: i for i, v in enumerate(ids)}
    rows, weak, feats = [], [], []
    m = d_feat = None
    tabular = None
    for key, rec in data.items():
        d = rec.get("data") if isinstance(rec, dict) else None
        if not isinstance(d, dict) or ("text" not in d and "feature" not in d):
            raise DataError("no data.text (or data.feature for tabular data)", file=str(path), row=key,
                            column="data.text",
                            fix="each example needs {\"data\": {\"text\": ...}} or {\"data\": {\"feature\": [numbers]}}")
        if tabular is None:
            tabular = "text" not in d
        elif tabular != ("text" not in d):
            raise DataError("rows mix data.text and data.feature", file=str(path), row=key, column="data",
                            fix="a split is either text or tabular throughout")
        wl = rec.get("weak_labels")
        if wl is None:
            raise DataError("no weak_labels", file=str(path), row=key, column="weak_labels",
                            fix="each WRENCH example lists its weak labels")
        if not isinstance(wl, list):
            raise DataError(f"weak_labels is {type(wl).__name__}, not a list", file=str(path), row=key,
                            column="weak_labels", fix="each WRENCH example lists one vote per labeling function")
        if remap is not None:
            wl, rec = _remapped(wl, rec, remap, path, key)
        if m is None:
            m = len(wl)
        elif len(wl) != m:
            raise DataError(f"{len(wl)} weak labels where earlier rows have {m}", file=str(path), row=key,
                            column="weak_labels", fix="every row needs one vote per labeling function")
        try:
            check_votes(wl, n_classes=task.n_classes, ndim=1, what="weak_labels", error=DataError)
        except DataError as e:      # name the file, the example's key and the labeling function
            msg = e.message if e.row is None else \
                f"weak label {wl[e.row]} of labeling function {e.row} is outside -1..{task.n_classes - 1}"
            raise DataError(msg, file=str(path), row=key, column="weak_labels", fix=e.fix) from None
        if tabular:
            vec = _feature_vector(d["feature"], path, key)
            if d_feat is None:
                d_feat = len(vec)
            elif len(vec) != d_feat:
                raise DataError(f"{len(vec)} features where earlier rows have {d_feat}", file=str(path), row=key,
                                column="data.feature", fix="every row needs a feature vector of the same length")
            feats.append(vec)
        row = {"id": str(key), "text": "" if tabular else d["text"], "label": rec.get("label")}
        for f in ("entity1", "entity2", "span1", "span2", "type1", "type2", "entity1_type", "entity2_type"):
            if f in d:
                row[f] = d[f]
        rows.append(row)
        weak.append(wl)
    if tabular:
        return _tabular_dataset(rows, weak, feats, m or 0, path)
    relation = any("entity1" in r or "entity2" in r for r in rows)
    if relation:
        _char_spans(rows, path)
    frame = pd.DataFrame(rows)
    blank = [r["id"] for r in rows if not isinstance(r["text"], str) or not r["text"].strip()]
    if blank:       # a published benchmark file the user cannot fix: kept as "" (sources see an empty text)
        log.warning("%s: %d example(s) with an empty data.text kept as empty texts (first: %s)", path,
                    len(blank), blank[0])
    ds = from_pandas(frame, task, id_column="id",
                     entity_columns=("entity1", "entity2") if relation else None,
                     span_columns=("span1", "span2") if relation else None,
                     name=path.stem, source=str(path), allow_blank_text=True)
    m = m or 0
    ds.weak_labels = np.asarray(weak, dtype=np.int64).reshape(len(rows), m)
    ds.weak_label_names = [f"lf_{j}" for j in range(m)]
    return ds


def _char_spans(rows: list[dict], path: Path) -> None:
    """Give every relation row ``span1``/``span2`` as character offsets of its entities (in place).

    WRENCH's relation files store character spans (``text[s:e] == entity``). Other copies leave them out or store
    token offsets (positions in ``text.split()``). Per entity: a span that matches the entity (case-insensitive)
    is kept; else token offsets that cover it are converted; else the entity's first occurrence in the text is
    used; else the given span if it lies in the text, or None. Counts of each case are logged once per file.

    Raises:
        DataError: a row without entity1 or entity2.
    """
    how: Counter = Counter()
    for r in rows:
        text = str(r["text"])
        tokens = None
        for e, key in (("entity1", "span1"), ("entity2", "span2")):
            ent = r.get(e)
            if not isinstance(ent, str) or not ent.strip():
                raise DataError(f"relation example without {e}", file=str(path), row=r["id"], column=f"data.{e}",
                                fix="every relation example needs data.entity1 and data.entity2 (strings)")
            span = _int_span(r.get(key))
            low, target = text.lower(), ent.strip().lower()
            if span is not None and 0 <= span[0] < span[1] <= len(text) and \
                    text[span[0]:span[1]].strip().lower() == target:
                how["character"] += 1
                continue
            if span is not None:
                tokens = tokens if tokens is not None else [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
                if 0 <= span[0] < span[1] <= len(tokens):
                    a, b = tokens[span[0]][0], tokens[span[1] - 1][1]
                    at = low.find(target, a, b)
                    if at >= 0:
                        r[key] = [at, at + len(target)]
                        how["token offsets"] += 1
                        continue
            at = low.find(target)
            if at >= 0:
                r[key] = [at, at + len(target)]
                how["missing" if span is None else "not matching (entity located in the text)"] += 1
                continue
            ok = span is not None and 0 <= span[0] < span[1] <= len(text)
            r[key] = list(span) if ok else None
            how["entity not in text"] += 1
    odd = {k: v for k, v in how.items() if k != "character"}
    if odd:
        log.warning("%s: entity spans read as %s (of %d entities)", path, dict(sorted(odd.items())), sum(how.values()))


def _int_span(v: object) -> tuple[int, int] | None:
    """``[start, end]`` as two ints, or None."""
    if isinstance(v, (list, tuple)) and len(v) == 2:
        try:
            return int(v[0]), int(v[1])
        except (TypeError, ValueError):
            return None
    return None


def _remapped(wl: list, rec: dict, remap: dict[int, int], path: Path, key: str) -> tuple[list, dict]:
    """Votes and gold label in class ids mapped to class indices (-1 kept); an unknown id is a DataError."""
    def one(v: object, column: str) -> object:
        if v is None or v == -1 or isinstance(v, bool) or not isinstance(v, int):
            return v                      # -1, missing or not an int: left for the checks that follow
        if v not in remap:
            raise DataError(f"class id {v} is not in label.json (ids {sorted(remap)})", file=str(path), row=key,
                            column=column, fix="use the ids label.json lists, or -1")
        return remap[v]

    return [one(v, "weak_labels") for v in wl], {**rec, "label": one(rec.get("label"), "label")}


def _feature_vector(value: object, path: Path, key: str) -> np.ndarray:
    """One row's ``data.feature`` as finite floats, or a DataError naming the row."""
    try:
        vec = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("data.feature is not a list of numbers", file=str(path), row=key, column="data.feature",
                        fix="store each tabular example as {\"feature\": [numbers]}") from None
    if vec.ndim != 1 or vec.size == 0:
        raise DataError(f"data.feature has shape {vec.shape}, expected a flat list of numbers", file=str(path),
                        row=key, column="data.feature", fix="store one flat vector per example")
    if not np.all(np.isfinite(vec)):
        j = int(np.flatnonzero(~np.isfinite(vec))[0])
        raise DataError(f"data.feature[{j}] is NaN or infinite", file=str(path), row=key, column="data.feature",
                        fix="impute or drop the missing value")
    return vec


def _tabular_dataset(rows: list[dict], weak: list, feats: list[np.ndarray], m: int, path: Path) -> Dataset:
    """A Dataset of examples without text (``text`` empty) whose ``features`` are the numeric vectors."""
    frame = pd.DataFrame(rows, columns=["id", "text", "label"])
    gold = frame["label"]
    frame["label"] = [-1 if g is None or (isinstance(g, float) and np.isnan(g)) else int(g) for g in gold]
    frame["text"] = frame["text"].astype(str)
    ds = Dataset(frame=frame, name=path.stem, source=str(path),
                 weak_labels=np.asarray(weak, dtype=np.int64).reshape(len(rows), m),
                 weak_label_names=[f"lf_{j}" for j in range(m)],
                 features=np.vstack(feats) if feats else np.zeros((0, 0)))
    return ds


def load_wrench(directory: str | Path, task: Task | None = None) -> dict[str, Dataset]:
    """Load every split present in a WRENCH directory.

    Returns:
        split name -> Dataset, for the splits that exist (``train`` may be absent, e.g. chemprot).

    Raises:
        DataError: missing directory/label.json, or splits with different numbers of labeling functions.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError("WRENCH directory not found", file=str(directory),
                        fix="point to a folder holding train/valid/test.json and label.json")
    task = task or wrench_task(directory)
    ids, _ = label_ids(directory) if (directory / "label.json").exists() else (None, None)
    if ids is not None and len(ids) != task.n_classes:
        raise DataError(f"label.json lists {len(ids)} classes but the task has {task.n_classes}",
                        file=str(directory / "label.json"), fix="give the task the classes label.json lists")
    out = {s: load_wrench_split(directory / f"{s}.json", task, ids) for s in SPLITS
           if (directory / f"{s}.json").exists()}
    if not out:
        raise DataError("no train/valid/test.json", file=str(directory), fix="add at least one split file")
    dims = {s: d.features.shape[1] for s, d in out.items() if d.features is not None}
    if len(set(dims.values())) > 1:
        raise DataError(f"splits have feature vectors of different lengths: {dims}", file=str(directory),
                        column="data.feature", fix="use the same features in every split")
    if dims and len(dims) != len(out):
        raise DataError("some splits are tabular (data.feature) and others text", file=str(directory),
                        column="data", fix="use one kind of example in every split")
    widths = {s: d.weak_labels.shape[1] for s, d in out.items()}
    if len(set(widths.values())) > 1:
        raise DataError(f"splits have different numbers of weak labels: {widths}", file=str(directory),
                        column="weak_labels", fix="regenerate the splits with the same labeling functions")
    names = _lf_names(directory, next(iter(widths.values())))
    for d in out.values():
        d.weak_label_names = names
    return out


def _lf_names(directory: Path, m: int) -> list[str]:
    """LF names from readme.txt's "Labeling functions list" when it lists exactly m; else lf_0.."""
    readme = directory / "readme.txt"
    if readme.exists():
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
        for i, line in enumerate(lines):
            if "labeling functions list" in line.lower():
                names = []
                for item in lines[i + 1:]:
                    item = item.strip().rstrip(",")
                    if not item:
                        if names:
                            break
                        continue
                    if " " in item or ":" in item:
                        break
                    names.append(item)
                if len(names) == m and len(set(names)) == m:
                    return names
    return [f"lf_{j}" for j in range(m)]
