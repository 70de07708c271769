"""A task kind with a job of its own, as status, report and export see it: one :class:`JobKind` per kind."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: ``writer(outputs, dest) -> rows``: write an export to ``dest`` from the files the last run wrote
#: (``outputs``: name -> path, as the runner returned them); returns the rows (spans, links, pairs) written.
ExportWriter = Callable[[dict[str, Path], Path], int]


@dataclass(frozen=True)
class JobPaths:
    """Where a project of the kind keeps things.

    Attributes:
        state_dir: the ``[project] state_dir`` (the state database with the runs table, the LLM answer cache).
        inputs: the files and folders the run reads (data, ontologies, term lists); a change makes outputs stale.
        outputs: name -> where a run of the project file writes that file (without ``--out``), as the runner
            names them; status looks there for outputs a run left before runs were recorded.
    """

    state_dir: Path
    inputs: tuple[Path, ...] = ()
    outputs: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportFormat:
    """One export of a kind: the file suffix it writes and its writer."""

    suffix: str
    write: ExportWriter


@dataclass(frozen=True)
class JobKind:
    """How status, report and export read a kind's project.

    Attributes:
        name: the ``[task] kind``.
        paths: project file -> :class:`JobPaths` (read with the kind's own loader; its errors are ConfigErrors).
        quality: the run's metrics (its ``metrics.json``, {} when it wrote none) -> report sections, each
            ``(title, html)``: the kind's quality figures and the calibration of its risk.
        exports: format name -> :class:`ExportFormat`.
        unit: what one row of its labels is ("span", "link", "pair"), for messages.
    """

    name: str
    paths: Callable[[Path], JobPaths]
    quality: Callable[[dict], list[tuple[str, str]]]
    exports: dict[str, ExportFormat] = field(default_factory=dict)
    unit: str = "row"
