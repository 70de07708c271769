"""One shape for every step of a run: the :class:`Stage` protocol, the shared :class:`RunContext`, the registry.

A stage reads what earlier stages left in the context (and the project state), computes, and stores its
outputs. The runner (:mod:`polarlab.stages.runner`) hashes the stage's config section and its inputs; when the
state holds a completed record with the same hashes the stage is skipped and :meth:`Stage.load` restores its
outputs from the state instead.

Adding a stage: write a class with the methods below in its own file under ``stages/``, register it with
``register_stage(MyStage())`` and put its name into a stage list (``PIPELINE`` in :mod:`polarlab.stages`).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..state import ProjectState, StageRecord, content_hash


@dataclass
class RunContext:
    """What a run knows so far; each stage reads earlier stages' fields and fills its own.

    Attributes:
        project: the :class:`polarlab.project.Project`.
        state: the project's :class:`ProjectState`.
        progress: show progress bars.
        task, splits, fit_split, eval_split: set by the ``data`` stage.
        sources: source name -> built source object (only those built in this run).
        matrices: split -> :class:`LabelMatrix` (``sources`` stage; corrected by ``correct``).
        analysis: per-source statistics on the fit split.
        probas: method -> split -> (n, k) distributions (``label_models``, ``harmonizer``, ``correct``).
        features: split -> (n, d) harmonizer features (``features`` stage).
        harmonizer: the fitted POLAR harmonizer object, or None when its stage was skipped.
        linear_harmonizer_options: the options the harmonizer was built with (for a lazy refit).
        extra: ``columns`` (risk per LLM and split), ``report`` (llm_weight, correction, risk, llm), ``audit``.
        seconds: stage -> wall seconds.
        hashes: output hash of each completed stage (later stages' inputs).
        log: one :class:`StageReport` per stage, in order.
    """

    project: Any
    state: ProjectState
    progress: bool = True
    task: Any = None
    splits: dict[str, Any] = field(default_factory=dict)
    fit_split: str = "train"
    eval_split: str | None = None
    sources: dict[str, Any] = field(default_factory=dict)
    matrices: dict[str, Any] = field(default_factory=dict)
    analysis: Any = None
    probas: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    harmonizer: Any = None
    extra: dict[str, Any] = field(default_factory=lambda: {"columns": {}, "report": {}})
    seconds: dict[str, float] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    log: list["StageReport"] = field(default_factory=list)
    run_id: int | None = None
    engine: Any = None

    def get_engine(self) -> Any:
        """The ``[engine]`` the project asks for (:mod:`polarlab.engine`), built on first use."""
        if self.engine is None:
            from ..engine import make_engine

            cfg = getattr(self.project, "config", None)
            section = getattr(cfg, "engine", None)
            kind, options = (section.kind, section.options()) if section is not None else ("local", {})
            if kind == "local":
                options.setdefault("progress", self.progress)
            self.engine = make_engine(kind, **options)
        return self.engine

    @property
    def file(self) -> str:
        return str(self.project.path)

    @property
    def state_dir(self) -> Path:
        return Path(self.project.state_dir)


@dataclass
class StageReport:
    """What happened to one stage in one run.

    Attributes:
        name: the stage.
        action: ``"ran"`` or ``"skipped"`` (inputs and config unchanged; outputs loaded from the state).
        seconds: wall time in this run.
        reason: why it ran (``"first run"``, ``"config or polarlab's code changed"``, ``"input 'matrix' changed"``) or was skipped.
        report: the stage's own report (JSON-able).
    """

    name: str
    action: str
    seconds: float
    reason: str
    report: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Stage(Protocol):
    """A step of a run.

    ``wanted`` says whether the project needs it; ``config`` is the JSON-able part of the project file it
    depends on; ``inputs`` the hashes of what it reads (``ctx.hashes`` of earlier stages, data hashes);
    ``run`` computes (filling ``ctx``) and returns its report; ``save`` stores the outputs in the state (inside
    the transaction that also records the stage) and returns their hash; ``load`` restores them when skipped.

    Optional (read with ``getattr``): ``always = True`` runs the stage every time; ``expect(ctx)`` marks in
    ``ctx`` what later stages' ``wanted`` read from this stage's outputs, as if it had run, without computing
    anything. ``polarlab status`` calls it for a stage that is stale or never ran, so that a later stage it
    will enable reads "stale" or "never ran", not "not used" (the harmonizer's distributions enable
    ``correct`` and ``risk``).
    """

    name: str

    def wanted(self, ctx: RunContext) -> bool: ...
    def config(self, ctx: RunContext) -> Any: ...
    def inputs(self, ctx: RunContext) -> dict[str, str]: ...
    def run(self, ctx: RunContext) -> dict[str, Any]: ...
    def save(self, ctx: RunContext) -> str: ...
    def load(self, ctx: RunContext, record: StageRecord) -> bool: ...


STAGES: dict[str, Stage] = {}


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """polarlab's version and a hash of its Python sources, read once per process.

    Part of every stage's config hash (:func:`stage_config_hash`): a stage recorded by other code (an upgrade, or
    an edited checkout) is not current and runs again, instead of handing back results the code in use would not
    give. Paid work is not redone: the LLM answers and features have their own content-keyed caches."""
    from .. import __version__

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def stage_config_hash(stage: Stage, ctx: RunContext) -> str:
    """The hash a stage's record is current for: its config section and :func:`code_version`."""
    return content_hash({"config": stage.config(ctx), "code": code_version()})


def stale_reason(rec: StageRecord, config_hash: str, inputs: dict[str, str]) -> tuple[str | None, list[str]]:
    """Why a stage's last record ``rec`` no longer matches its ``config_hash`` and ``inputs`` (None: it does),
    and the names of the inputs that changed (shared by the runner and ``polarlab status``)."""
    if rec.config_hash != config_hash:
        return "config or polarlab's code changed", []
    changed = sorted(k for k in set(inputs) | set(rec.inputs) if inputs.get(k) != rec.inputs.get(k))
    return (f"input {', '.join(changed)} changed", changed) if changed else (None, [])


def register_stage(stage: Stage) -> Stage:
    """Add ``stage`` to the registry under ``stage.name`` (replacing an earlier one); returns it."""
    STAGES[stage.name] = stage
    return stage
