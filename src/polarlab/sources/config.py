"""Build sources from the ``[[sources]]`` tables of a project file.

Each table has a ``type``:

- ``keyword``: ``name``, ``keywords`` (list), ``label``, [``ignore_case``, ``whole_word``, ``column``, ``explain``]
- ``regex``: ``name``, ``pattern``, ``label``, [``ignore_case``, ``column``, ``explain``]
- ``dictionary``: ``name``, ``terms`` (list, with ``label``) or ``terms`` (table term -> label) or ``file``
  (``term<TAB>label`` lines, or bare terms with ``label``), [``ignore_case``, ``whole_word``, ``column``]
- ``python``: ``file`` (a .py file); every ``@labeling_function`` and Snorkel ``LabelingFunction`` in it,
  or only those listed in ``names``
- ``rules``: ``file`` of ``pattern->label`` lines (one source each), [``matching``, ``prefix``]
- ``votes``: ``name``, ``column`` — votes already in the data
- ``wrench``: the dataset's precomputed ``weak_labels`` (all, or ``names`` / ``indices``)
- ``llm``: an LLM labeler; the common keys and each backend's: :mod:`polarlab.llm.settings`
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..task import Task
from ..llm.settings import LLMSettings, build_llm_source, llm_settings_for
from .base import Source
from .dictionary import DictionarySource, read_terms
from .lf import LabelingFunction
from .rules import KeywordSource, RegexSource
from .snorkel_adapter import SnorkelSource, is_snorkel_lf
from .registry import (SOURCE_TYPES, BuildContext, DictionarySettings, KeywordSettings, PythonSettings,
                       RegexSettings, RulesSettings, SourceSettings, VotesSettings, WrenchSettings,
                       register_source_type)
from .rulefile import read_rule_file
from .votes import VoteColumn, WeakLabelColumn, weak_label_sources

def _resolve(base_dir: Path, p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else base_dir / path


def load_python_sources(path: Path, names: list[str] | None = None) -> list[Source]:
    """Every labeling function defined in the Python file ``path`` (ours or Snorkel's)."""
    from ..io.pyfile import import_file

    module = import_file(path, "labeling function")
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
                        sample: Dataset | None = None, file: str | None = None, offset: int = 0,
                        task: Task | None = None) -> list[Source]:
    """Build the sources a project file declares (each table validated by its type's settings model).

    Args:
        tables: the ``[[sources]]`` tables.
        base_dir: folder relative paths are read from (the project file's folder).
        state_dir: the project's state folder (LLM caches live there).
        sample: a dataset of the project (to enumerate WRENCH weak-label columns).
        file: the project file, for messages.
        offset: the index of ``tables[0]`` among the file's ``[[sources]]`` (for key paths in messages).
        task: the project's task: sources that read labels from a file check them as they are built (rule files).
    """
    out: list[Source] = []
    for i, table in enumerate(tables, start=offset):
        settings, where = validate_source(table, i, file)
        ctx = BuildContext(base_dir=Path(base_dir), state_dir=Path(state_dir), sample=sample, file=file, where=where,
                           task=task)
        try:
            built = SOURCE_TYPES[settings.type].build(settings, ctx)
            for src in built:   # read by apply_sources: how many failing rows this source may have
                try:
                    object.__setattr__(src, "failure_policy",
                                       FailurePolicy(settings.fault_tolerant, settings.max_failure_share))
                except (AttributeError, TypeError):  # pragma: no cover - a source type with __slots__
                    pass
            out.extend(built)
        except ConfigError as e:
            if e.file is None:
                e.file = file
            if e.column is None:  # e.g. a missing LF or term file: say which source names it
                e.column = where
            raise
        except TypeError as e:
            raise ConfigError(str(e), file=file, column=where, fix="check the keys of this source") from None
    return out


def check_source_labels(tables: Any, task: Any, file: str | None) -> None:
    """Every label a ``[[sources]]`` table names (``label``, a ``terms`` table's values) is one of the task's,
    checked when the project file is read: a typo fails before any source (an LLM's included) runs.

    Raises:
        ConfigError: naming the file and the key path (``sources[2].label``).
    """
    for i, table in enumerate(tables if isinstance(tables, list) else []):
        if not isinstance(table, dict):
            continue
        named = {"label": table.get("label")}
        if isinstance(table.get("terms"), dict):
            named.update({f"terms.{k}": v for k, v in table["terms"].items()})
        for key, value in named.items():
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                task.label_index(value, file=file, column=f"sources[{i}].{key}")


def check_source_files(tables: Any, base_dir: Path, file: str | None) -> None:
    """Every file a ``[[sources]]`` table reads (``file`` of python / rules / dictionary sources) exists,
    checked before the first stage: a wrong path fails before any source (an LLM's included) runs.

    Raises:
        ConfigError: naming the project file, the key path (``sources[3].file``) and where the path was looked for.
    """
    for i, table in enumerate(tables if isinstance(tables, list) else []):
        name = table.get("file") if isinstance(table, dict) else None
        if isinstance(name, str) and not _resolve(base_dir, name).is_file():
            raise ConfigError(f"no such file {name!r} (looked for {_resolve(base_dir, name).absolute()})", file=file,
                              column=f"sources[{i}].file",
                              fix="fix the path; a relative path is read from the project file's folder")


def check_source_columns(tables: Any, splits: dict[str, Dataset], file: str | None, *,
                         text_column: str | None = None, label_column: str | None = None) -> None:
    """Every ``column`` a ``[[sources]]`` table reads (keyword, regex, dictionary, votes) is a column of every
    split, checked once the data is read and before any source is applied: a typo fails before an earlier
    table (an LLM's included) runs, naming the key, not the data files.

    ``text_column`` / ``label_column`` are the data's own names of the text and gold columns: the text is read
    into the column ``text``, and sources never see gold, so either name gets a fix of its own.

    Raises:
        ConfigError: naming the file, the key path (``sources[2].column``), the split and the columns there are.
    """
    from ..config.base import suggest

    for i, table in enumerate(tables if isinstance(tables, list) else []):
        column = table.get("column") if isinstance(table, dict) else None
        if not isinstance(column, str):
            continue
        for split, ds in splits.items():
            have = [str(c) for c in ds.frame.columns if c != "label"]
            if column in have:
                continue
            where = f"source {table['name']!r}: " if isinstance(table.get("name"), str) else ""
            if column == text_column:
                fix = f'write column = "text" (the text column {column!r} is read as "text"), or leave column out'
            elif column == label_column or column == "label":
                fix = "sources never see gold labels; vote from another column"
            else:
                guess = suggest(column, have)
                fix = (f"did you mean {guess!r}? " if guess else "") + "name one of the columns above"
            raise ConfigError(f"{where}no column {column!r} in split {split!r}; its columns are {have}", file=file,
                              column=f"sources[{i}].column", fix=fix)


@dataclass(frozen=True)
class FailurePolicy:
    """A source's ``fault_tolerant`` / ``max_failure_share`` settings (``[[sources]]`` keys), attached to each
    built source as ``source.failure_policy``."""

    fault_tolerant: bool = False
    max_failure_share: float | None = None


def validate_source(table: Any, i: int, file: str | None) -> tuple[SourceSettings, str]:
    """The ``i``-th ``[[sources]]`` table, validated by its type's settings model.

    Returns:
        (the settings, the table's key path for messages, e.g. ``"sources[2] (kw_free)"``).
    """
    from ..config.base import suggest, validate

    if not isinstance(table, dict):
        raise ConfigError(f"{table!r} is not a table", file=file, column=f"sources[{i}]",
                          fix="declare each source as a [[sources]] table")
    where = f"sources[{i}]" + (f" ({table['name']})" if isinstance(table.get("name"), str) else "")
    kind = table.get("type")
    if kind not in SOURCE_TYPES:
        guess = suggest(str(kind), list(SOURCE_TYPES))
        raise ConfigError(f"unknown source type {kind!r}" if kind is not None else "no type", file=file,
                          column=f"sources[{i}].type",
                          fix=(f"did you mean {guess!r}? " if guess else "") + f"use one of {list(SOURCE_TYPES)}")
    return validate(SOURCE_TYPES[kind].model_for(table), table, file=file, prefix=f"sources[{i}]",
                    table=f"[[sources]] of type {kind!r}"), where


def _fields(cfg: SourceSettings, *names: str) -> dict[str, Any]:
    """The given settings that were set (not their defaults), as keyword arguments."""
    return {k: getattr(cfg, k) for k in names if k in cfg.model_fields_set}


def _keyword(cfg: KeywordSettings, ctx: BuildContext) -> list[Source]:
    return [KeywordSource(name=cfg.name, keywords=list(cfg.keywords), label=cfg.label,
                          **_fields(cfg, "ignore_case", "whole_word", "column", "explain"))]


def _regex(cfg: RegexSettings, ctx: BuildContext) -> list[Source]:
    return [RegexSource(name=cfg.name, pattern=cfg.pattern, label=cfg.label,
                        **_fields(cfg, "ignore_case", "column", "explain"))]


def _python(cfg: PythonSettings, ctx: BuildContext) -> list[Source]:
    return load_python_sources(_resolve(ctx.base_dir, cfg.file), cfg.names)


def _rules(cfg: RulesSettings, ctx: BuildContext) -> list[Source]:
    return read_rule_file(_resolve(ctx.base_dir, cfg.file), matching=cfg.matching, prefix=cfg.prefix,
                          task=ctx.task).sources


def _votes(cfg: VotesSettings, ctx: BuildContext) -> list[Source]:
    return [VoteColumn(name=cfg.name, column=cfg.column, **_fields(cfg, "explain"))]


def _dictionary(cfg: DictionarySettings, ctx: BuildContext) -> list[Source]:
    terms, path, label = cfg.terms, cfg.file, cfg.label
    if path is not None:
        mapping = read_terms(_resolve(ctx.base_dir, path), label)
    elif isinstance(terms, dict):
        mapping = dict(terms)
    else:
        mapping = {t: label for t in terms or []}
    return [DictionarySource(name=cfg.name, terms=mapping,
                             **_fields(cfg, "ignore_case", "whole_word", "column", "explain"))]


def _wrench(cfg: WrenchSettings, ctx: BuildContext) -> list[Source]:
    d = cfg.model_dump(include=cfg.model_fields_set & {"names", "indices"})
    sample, where = ctx.sample, ctx.where
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


def _llm(cfg: LLMSettings, ctx: BuildContext) -> list[Source]:
    return [build_llm_source(cfg, ctx.state_dir)]


for _name, _settings, _build in (("keyword", KeywordSettings, _keyword), ("regex", RegexSettings, _regex),
                                 ("dictionary", DictionarySettings, _dictionary), ("python", PythonSettings, _python),
                                 ("rules", RulesSettings, _rules), ("votes", VotesSettings, _votes),
                                 ("wrench", WrenchSettings, _wrench)):
    register_source_type(_name, _settings, _build)
register_source_type("llm", LLMSettings, _llm, settings_for=llm_settings_for)
