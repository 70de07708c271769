"""The project file (``polarlab.toml``): task, data, sources, label model, outputs in one place.

Example::

    [task]
    name = "youtube"
    labels = ["ham", "spam"]
    instruction = "Is this YouTube comment spam?"

    [data]                      # one of: wrench = DIR | path = FILE | [data.splits]
    wrench = "../shared/data/youtube"

    [[sources]]
    type = "wrench"

    [[sources]]
    type = "keyword"
    name = "kw_subscribe"
    keywords = ["subscribe"]
    label = "spam"

    [labelmodel]
    methods = ["mv", "snorkel", "dawid_skene"]   # all fitted and compared
    final = "snorkel"                            # whose labels are written

    [output]
    dir = "out"                  # relative to this file
    labels = "labels.csv"        # .csv | .jsonl | .parquet

Relative paths are read from the project file's folder.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .data.dataset import Dataset
from .data.loaders import load_table
from .data.wrench import load_wrench, wrench_task
from .config import ProjectConfig, validate_tables
from .errors import ConfigError
from .task import Task



@dataclass
class Project:
    """A parsed project file.

    Attributes:
        path: the project file.
        task: the task.
        data: the ``[data]`` table.
        sources: the ``[[sources]]`` tables.
        labelmodel: the ``[labelmodel]`` table.
        harmonizer: the ``[harmonizer]`` table (POLAR options).
        correct: the ``[correct]`` table (error-correction options).
        engine: the ``[engine]`` table (local or Ray, :mod:`polarlab.engine`).
        output_dir: where outputs go.
        labels_file: the labels file name inside ``output_dir``.
        state_dir: where the project state (LLM answers, embeddings, stage results) lives.
        config: the typed, validated tables (:mod:`polarlab.config`); the dicts above are what the file
            said (CLI overrides change them; :func:`validate_project` checks them again before a run).
    """

    path: Path
    task: Task
    data: dict[str, Any]
    sources: list[dict[str, Any]]
    labelmodel: dict[str, Any] = field(default_factory=dict)
    harmonizer: dict[str, Any] = field(default_factory=dict)
    correct: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    output_dir: Path = Path("out")
    labels_file: str = "labels.csv"
    state_dir: Path = Path(".polarlab")
    config: ProjectConfig | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, p: str | Path) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.base_dir / p

    def load_splits(self) -> dict[str, Dataset]:
        """The data, as split name -> Dataset (a single table without split column is ``train``)."""
        d = self.data
        limit = d.get("limit")
        if "wrench" in d:
            splits = load_wrench(self.resolve(d["wrench"]), self.task)
        else:
            kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()
                  if k in ("text_column", "label_column", "id_column", "entity_columns", "span_columns")}
            if "path" in d:
                ds = load_table(self.resolve(d["path"]), self.task, **kw)
                col = d.get("split_column")
                if col:
                    if col not in ds.frame.columns:
                        raise ConfigError(f"no split column {col!r}", file=str(self.path), column="data.split_column",
                                          fix=f"the columns are {list(ds.frame.columns)}")
                    splits = {str(s): ds.subset(ds.frame.index[ds.frame[col] == s].to_numpy(), name=str(s))
                              for s in ds.frame[col].unique()}
                else:
                    splits = {"train": ds}
            else:
                splits = {}
                for split, paths in d["splits"].items():
                    paths = [paths] if isinstance(paths, str) else list(paths)
                    parts = [load_table(self.resolve(p), self.task, **kw) for p in paths]
                    splits[split] = _concat(parts, split)
        if limit:
            splits = {k: v.head(int(limit)) for k, v in splits.items()}
        _warn_if_no_gold(d.get("label_column"), splits)
        return splits

    @property
    def fit_split(self) -> str:
        return self.data.get("fit_split", "train")

    @property
    def eval_split(self) -> str | None:
        return self.data.get("eval_split")


def _concat(parts: list[Dataset], name: str) -> Dataset:
    import pandas as pd

    if len(parts) == 1:
        return Dataset(frame=parts[0].frame, name=name, source=parts[0].source)
    frames = []
    for p in parts:
        f = p.frame.copy()
        f["id"] = [f"{p.name}:{i}" for i in f["id"]]  # ids stay unique across files
        frames.append(f)
    return Dataset(frame=pd.concat(frames, ignore_index=True), name=name,
                   source=", ".join(str(p.source) for p in parts))


def _warn_if_no_gold(label_column: str | None, splits: dict[str, Dataset]) -> None:
    """A ``label_column`` that gives no split any gold is likely misspelt (a file without it means "no gold")."""
    if not label_column or not splits or any((ds.gold >= 0).any() for ds in splits.values() if ds.gold is not None):
        return
    import warnings

    from .config.base import suggest

    other = sorted({str(c) for ds in splits.values() for c in ds.frame.columns} - {"id", "text", "label"})
    guess = suggest(label_column, other)
    warnings.warn(f"[data] label_column = {label_column!r} gives no gold label in any split (no file has that "
                  f"column, or its cells are empty); the files' other columns: {other}. Metrics need gold: "
                  + (f"did you mean {guess!r}? " if guess else "") + "fix the name, or remove label_column when "
                  "there is no gold", UserWarning, stacklevel=2)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a project file; a missing file, a folder, bad TOML or bad encoding is one ConfigError."""
    path = Path(path)
    if path.is_dir():
        inside = path / "polarlab.toml"
        raise ConfigError("is a folder, not a project file", file=str(path),
                          fix=f"give the project file: {inside}" if inside.exists() else
                          "give the path to a polarlab.toml")
    if not path.exists():
        raise ConfigError("project file not found", file=str(path), fix="give the path to a polarlab.toml")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML: {e}", file=str(path), fix="fix the syntax") from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8", file=str(path), fix="save the project file as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"cannot be read ({e.strerror or e})", file=str(path), fix="check its permissions") from None


def load_project(path: str | Path) -> Project:
    """Read and validate a project file (every table and key, :mod:`polarlab.config`).

    Raises:
        ConfigError: naming the file and key path, for malformed TOML, unknown sections/keys, wrong types,
            missing data.
    """
    from .plugins import load_plugins

    load_plugins()
    path = Path(path)
    raw = read_toml(path)
    from .tasks import PROJECT_RUNNERS

    kind = task_kind(raw)
    if kind in PROJECT_RUNNERS:      # endmodel, import, review, ...: made for the label task's stages and state
        # (status, report and export read these kinds through polarlab.jobs before they get here)
        # a relevance project has no [output] table: `out/` beside the file, or `polarlab run --out DIR`
        outputs = ("out/ beside the project file (or the --out folder of that run)" if kind == "relevance"
                   else "its [output] dir")
        raise ConfigError(f'a [task] kind = "{kind}" project has a job of its own, which this command does not read',
                          file=str(path), column="task.kind",
                          fix=f"run it with `polarlab run {path}`" + (f" (or `polarlab link {path}`)" if kind == "linking"
                                                                       else "") + f"; its outputs are in {outputs}")
    from .tasks import known_kinds

    if kind is not None and kind not in known_kinds():   # before the keys: the kind decides which keys are valid
        from .config.base import suggest

        guess = suggest(kind, known_kinds())
        raise ConfigError(f"unknown task kind {kind!r}", file=str(path), column="task.kind",
                          fix=(f"did you mean {guess!r}? " if guess else "") + f"use one of {known_kinds()}")
    config = validate_tables(raw, str(path))
    data = raw["data"]
    base = path.parent
    try:
        if "task" in raw:
            task_d = dict(raw["task"])
            if "labels" not in task_d and "wrench" in data:
                task_d["labels"] = list(wrench_task(_abs(base, data["wrench"])).labels)
            task = Task.from_dict(task_d)
        elif "wrench" in data:
            task = wrench_task(_abs(base, data["wrench"]))
        else:
            raise ConfigError("no [task] section", column="task", fix="add [task] with labels = [...]")
    except ConfigError as e:
        e.file = e.file or str(path)
        if e.column and not e.column.startswith("task"):
            e.column = f"task.{e.column}"
        raise
    from .sources.config import check_source_labels

    check_source_labels(raw.get("sources"), task, str(path))
    out = raw.get("output", {})
    proj = raw.get("project", {})
    return Project(
        path=path, task=task, data=data, sources=raw["sources"],
        labelmodel=raw.get("labelmodel", {}), harmonizer=raw.get("harmonizer", {}), correct=raw.get("correct", {}),
        engine=raw.get("engine", {}),
        output_dir=_abs(base, out.get("dir", "out")), labels_file=out.get("labels", "labels.csv"),
        state_dir=_abs(base, proj.get("state_dir", ".polarlab")), config=config,
    )


def validate_project(project: Project) -> ProjectConfig:
    """Validate a project's tables as they are now (after CLI overrides), in one place; returns the typed config.

    Raises:
        ConfigError: naming the file and key path.
    """
    raw: dict[str, Any] = {"data": project.data, "sources": project.sources}
    for name in ("labelmodel", "harmonizer", "correct", "engine"):   # [engine] was dropped: Ray never ran
        if getattr(project, name):
            raw[name] = getattr(project, name)
    raw["output"] = {"dir": str(project.output_dir), "labels": project.labels_file}
    raw["project"] = {"state_dir": str(project.state_dir)}
    project.config = validate_tables(raw, str(project.path))
    return project.config


def _abs(base: Path, p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else base / q


def peek_task_kind(path: str | Path) -> str | None:
    """``[task] kind`` of the project file at ``path``, or None when it cannot be read (``load_project`` then
    reports why)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return task_kind(raw)


def task_kind(raw: dict) -> str | None:
    """``[task] kind`` of parsed project tables, or None when absent or not a string (validation reports it)."""
    task = raw.get("task")
    kind = task.get("kind") if isinstance(task, dict) else None
    return kind if isinstance(kind, str) else None
