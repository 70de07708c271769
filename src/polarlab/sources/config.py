"""Build sources from the ``[[sources]]`` tables of a project file.

Each table has a ``type``:

- ``keyword``: ``name``, ``keywords`` (list), ``label``, [``ignore_case``, ``whole_word``, ``column``, ``explain``]
- ``regex``: ``name``, ``pattern``, ``label``, [``ignore_case``, ``column``, ``explain``]
- ``dictionary``: ``name``, ``terms`` (list, with ``label``) or ``terms`` (table term -> label) or ``file``
  (``term<TAB>label`` lines, or bare terms with ``label``), [``ignore_case``, ``whole_word``, ``column``]
- ``python``: ``file`` (a .py file); every ``@labeling_function`` and Snorkel ``LabelingFunction`` in it,
  or only those listed in ``names``
- ``votes``: ``name``, ``column`` — votes already in the data
- ``wrench``: the dataset's precomputed ``weak_labels`` (all, or ``names`` / ``indices``)
- ``llm``: an LLM labeler; see :func:`polarlab.llm.from_config`
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

from ..data.dataset import Dataset
from ..errors import ConfigError
from .base import Source
from .dictionary import DictionarySource, read_terms
from .lf import LabelingFunction
from .rules import KeywordSource, RegexSource
from .snorkel_adapter import SnorkelSource, is_snorkel_lf
from .votes import VoteColumn, WeakLabelColumn, weak_label_sources

SOURCE_TYPES = ("keyword", "regex", "dictionary", "python", "votes", "wrench", "llm")


def _take(d: dict, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    missing = [k for k in required if k not in d]
    if missing:
        raise ConfigError(f"missing key(s) {missing}", column=where, fix=f"add {', '.join(missing)}")
    unknown = sorted(set(d) - set(required) - set(optional) - {"type"})
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown}", column=where,
                          fix=f"allowed keys: {sorted(set(required) | set(optional))}")
    return {k: d[k] for k in d if k != "type"}


def _resolve(base_dir: Path, p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else base_dir / path


def load_python_sources(path: Path, names: list[str] | None = None) -> list[Source]:
    """Every labeling function defined in the Python file ``path`` (ours or Snorkel's)."""
    if not path.exists():
        raise ConfigError("labeling function file not found", file=str(path), fix="check the path")
    mod_name = f"polarlab_user_lfs_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as e:
        raise ConfigError(f"importing it raised {type(e).__name__}: {e}", file=str(path),
                          fix="fix the error in the labeling function file") from e
    found: list[Source] = []
    for obj in vars(module).values():
        if isinstance(obj, LabelingFunction):
            found.append(obj)
        elif is_snorkel_lf(obj):
            found.append(SnorkelSource(obj))
    if names is not None:
        by_name = {s.name: s for s in found}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(f"no labeling function(s) {unknown} in the file", file=str(path), column="names",
                              fix=f"the file defines {sorted(by_name)}")
        found = [by_name[n] for n in names]
    if not found:
        raise ConfigError("no labeling functions found", file=str(path),
                          fix="decorate functions with @polarlab.labeling_function()")
    return found


def sources_from_config(tables: list[dict[str, Any]], *, base_dir: Path, state_dir: Path,
                        sample: Dataset | None = None, file: str | None = None) -> list[Source]:
    """Build the sources a project file declares.

    Args:
        tables: the ``[[sources]]`` tables.
        base_dir: folder relative paths are read from (the project file's folder).
        state_dir: the project's state folder (LLM caches live there).
        sample: a dataset of the project (to enumerate WRENCH weak-label columns).
        file: the project file, for messages.
    """
    builders: dict[str, Callable[[dict, str], list[Source]]] = {
        "keyword": lambda d, w: [KeywordSource(**_take(d, w, ("name", "keywords", "label"),
                                                       ("ignore_case", "whole_word", "column", "explain")))],
        "regex": lambda d, w: [RegexSource(**_take(d, w, ("name", "pattern", "label"),
                                                   ("ignore_case", "column", "explain")))],
        "dictionary": lambda d, w: [_dictionary(_take(d, w, ("name",), ("terms", "file", "label", "ignore_case",
                                                                        "whole_word", "column", "explain")),
                                                base_dir, w)],
        "python": lambda d, w: load_python_sources(_resolve(base_dir, _take(d, w, ("file",), ("names",))["file"]),
                                                   d.get("names")),
        "votes": lambda d, w: [VoteColumn(**_take(d, w, ("name", "column"), ("explain",)))],
        "wrench": lambda d, w: _wrench(_take(d, w, (), ("names", "indices")), sample, w),
        "llm": lambda d, w: [_llm(d, state_dir)],
    }
    out: list[Source] = []
    for i, table in enumerate(tables):
        where = f"sources[{i}]" + (f" ({table['name']})" if "name" in table else "")
        kind = table.get("type")
        if kind not in builders:
            raise ConfigError(f"unknown source type {kind!r}", file=file, column=where,
                              fix=f"use one of {list(SOURCE_TYPES)}")
        try:
            out.extend(builders[kind](table, where))
        except ConfigError as e:
            if e.file is None:
                e.file = file
            if e.column is None:  # e.g. a missing LF or term file: say which source names it
                e.column = where
            raise
        except TypeError as e:
            raise ConfigError(str(e), file=file, column=where, fix="check the keys of this source") from None
    return out


def _dictionary(d: dict, base_dir: Path, where: str) -> DictionarySource:
    terms = d.pop("terms", None)
    path = d.pop("file", None)
    label = d.pop("label", None)
    if (terms is None) == (path is None):
        raise ConfigError("give exactly one of 'terms' or 'file'", column=where, fix="e.g. terms = [\"aspirin\"]")
    if path is not None:
        mapping = read_terms(_resolve(base_dir, path), label)
    elif isinstance(terms, dict):
        mapping = dict(terms)
    else:
        if label is None:
            raise ConfigError("a term list needs a 'label'", column=where, fix="add label = \"...\"")
        mapping = {t: label for t in terms}
    return DictionarySource(terms=mapping, **d)


def _wrench(d: dict, sample: Dataset | None, where: str) -> list[Source]:
    if sample is None or sample.weak_labels is None:
        raise ConfigError("the data has no precomputed weak_labels", column=where,
                          fix="use type = \"wrench\" only with a WRENCH data directory")
    all_src = weak_label_sources(sample)
    if "names" in d:
        by = {s.name: s for s in all_src}
        bad = [n for n in d["names"] if n not in by]
        if bad:
            raise ConfigError(f"unknown weak label name(s) {bad}", column=where, fix=f"choose from {sorted(by)}")
        return [by[n] for n in d["names"]]
    if "indices" in d:
        m = len(all_src)
        bad = [j for j in d["indices"] if not 0 <= j < m]
        if bad:
            raise ConfigError(f"weak label index {bad[0]} outside 0..{m - 1}", column=where, fix="fix indices")
        return [WeakLabelColumn(name=all_src[j].name, index=j) for j in d["indices"]]
    return list(all_src)


def _llm(d: dict, state_dir: Path) -> Source:
    from ..llm import from_config

    return from_config(d, state_dir)
