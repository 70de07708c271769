"""Write ``docs/config.md``, the project-file reference, from the typed models (``python -m polarlab.config.docs``).

``tests/test_config_docs.py`` checks that the committed file equals what this writes.
"""
from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .models import SECTIONS

HEADER = """# Project file reference (`polarlab.toml`)

Generated from the typed models in `src/polarlab/config/models.py`, `src/polarlab/sources/registry.py`,
`src/polarlab/llm/settings.py`, `src/polarlab/llm/backends.py`, `src/polarlab/linking/config.py`,
`src/polarlab/relevance/config.py` and `src/polarlab/spans/config.py` by
`python -m polarlab.config.docs`; do not edit by hand. Every key is checked: an unknown key or a value of the
wrong type stops the run before any work, with the file, the key path and a "did you mean" suggestion.
Types are strict: `"10"` is not an integer and `"mv"` is not a list. The default of a key the model leaves unset
(`[harmonizer] epochs`) is read from the code that reads the key (`reader_defaults` in `src/polarlab/config/docs.py`).
"""


def _type(annotation: Any) -> str:
    if annotation is Path:
        return "path"
    text = str(annotation) if not isinstance(annotation, type) else annotation.__name__
    for a, b in (("typing.", ""), ("Optional[", "optional["), ("NoneType", "none"), ("<class '", ""), ("'>", ""),
                 ("polarlab.config.models.", ""), ("polarlab.linking.config.", ""), ("Literal", "one of"),
                 ("pathlib.Path", "path"), ("pathlib._local.Path", "path"), ("PosixPath", "path")):
        text = text.replace(a, b)
    return text.replace("|", "\\|")


def _init_defaults(cls: type) -> dict[str, Any]:
    return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def reader_defaults() -> dict[type, dict[str, Any]]:
    """The default of each optional key whose model default is None (unset): the default of the code that reads
    it, so the docs show what an unset key does (``[harmonizer] epochs``: 100) and cannot drift from it.

    ``[harmonizer]``: the :class:`~polarlab.features.FeatureSpec` keys go to the features
    (``stages/features.py``), the rest to :class:`~polarlab.harmonizer.PolarHarmonizer`
    (``stages/harmonizer.py``); ``[harmonizer.transformer]``: ``TransformerHarmonizer`` (its seed is the
    ``[harmonizer]`` one); ``[correct]``: :class:`~polarlab.correct.CorrectionConfig`.
    """
    from ..correct.config import CorrectionConfig
    from ..features import FeatureSpec
    from ..harmonizer.polar import PolarHarmonizer
    from ..harmonizer.transformer import TransformerHarmonizer
    from .models import CorrectSection, HarmonizerSection, TransformerSection

    spec = {f.name: f.default for f in dataclasses.fields(FeatureSpec)}
    transformer = {k: v for k, v in _init_defaults(TransformerHarmonizer).items() if k != "seed"}
    return {HarmonizerSection: {**_init_defaults(PolarHarmonizer), **spec}, TransformerSection: transformer,
            CorrectSection: {f.name: f.default for f in dataclasses.fields(CorrectionConfig)}}


def _default(field: Any, name: str = "", model: Any = None, readers: dict | None = None) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if value is None:
        read = (readers or {}).get(model, {}).get(name)
        if read is None or read is dataclasses.MISSING:
            return "—"
        value = list(read) if isinstance(read, tuple) else read     # TOML has lists, not tuples
    if isinstance(value, BaseModel):
        return "(table)"
    return f"`{value!r}`".replace("|", "\\|")


def _meaning(field: Any) -> str:
    """The field's description as one table cell (a ``|`` in it, "csv | jsonl", would start a new column)."""
    return (field.description or "").replace("|", "\\|")


def model_table(model: type[BaseModel]) -> str:
    readers = reader_defaults()
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        rows.append(f"| `{name}` | {_type(field.annotation)} | {_default(field, name, model, readers)} | "
                    f"{_meaning(field)} |")
    return "\n".join(rows)


def render() -> str:
    from ..sources import config as _builtin_sources  # noqa: F401  (registers the built-in source types)
    from ..llm.backends import LLM_BACKENDS
    from ..sources.registry import SOURCE_TYPES
    from .models import TransformerSection

    out = [HEADER]
    for name, model in SECTIONS.items():
        out.append(f"## `[{name}]`\n\n{inspect.cleandoc(model.__doc__ or '')}\n\n{model_table(model)}\n")
        if name == "harmonizer":
            out.append(f"### `[harmonizer.transformer]`\n\n{inspect.cleandoc(TransformerSection.__doc__ or '')}\n\n"
                       f"{model_table(TransformerSection)}\n")
    out.append("## `[[sources]]`\n\nOne table per source; `type` picks the model below. A plugin adds a type with "
               "`polarlab.sources.registry.register_source_type`.\n")
    for kind, spec in SOURCE_TYPES.items():
        out.append(f"### `type = \"{kind}\"`\n\n{inspect.cleandoc(spec.settings.__doc__ or '')}\n\n"
                   f"{model_table(spec.settings)}\n")
    out.append("### LLM backends\n\nAn `llm` source table also takes the keys of its `backend`. A plugin adds a "
               "backend with `polarlab.llm.backends.register_llm_backend`.\n")
    for name, backend in LLM_BACKENDS.items():
        out.append(f"#### `backend = \"{name}\"`\n\n{inspect.cleandoc(backend.settings.__doc__ or '')}\n\n"
                   f"{model_table(backend.settings)}\n")
    out.append(linking_tables())
    out.append(relevance_tables())
    out.append(spans_tables())
    return "\n".join(out)


def task_table() -> str:
    """``[task]`` of a linking or relevance project (:class:`polarlab.config.models.JobTaskSection`)."""
    from .models import JobTaskSection

    return f"### `[task]`\n\n{inspect.cleandoc(JobTaskSection.__doc__ or '')}\n\n{model_table(JobTaskSection)}\n"


def relevance_tables() -> str:
    """The tables of a relevance project (``[task] kind = "relevance"``, :mod:`polarlab.relevance.config`)."""
    from ..relevance.config import RelevanceConfig

    fields = {k: f for k, f in RelevanceConfig.model_fields.items() if k != "data"}
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{n}` | {_type(f.annotation)} | {_default(f)} | {_meaning(f)} |" for n, f in fields.items()]
    return ("## Relevance projects (`[task] kind = \"relevance\"`)\n\nA relevance project file (`polarlab run "
            "project.toml`) has `[data] beir = \"FOLDER\"` (a BEIR folder: corpus.jsonl, queries.jsonl and, optional, "
            "qrels/train.tsv, qrels/test.tsv: without them what needs them is skipped), an optional `[relevance]` "
            "table and `[project] state_dir`.\n\n"
            + task_table() + "\n### `[relevance]`\n\n" + inspect.cleandoc(RelevanceConfig.__doc__ or "") + "\n\n"
            + "\n".join(rows) + "\n")


def spans_tables() -> str:
    """The tables of a spans project (``[task] kind = "spans"``, :mod:`polarlab.spans.config`)."""
    from ..spans.config import SPANS_TABLES

    out = ["## Spans projects (`[task] kind = \"spans\"`)\n\nA spans project file (`polarlab run project.toml`) has "
           "these tables and `[project] state_dir`.\n"]
    for name, model in SPANS_TABLES.items():
        doc = f"{inspect.cleandoc(model.__doc__)}\n\n" if model.__doc__ else ""
        out.append(f"### `[{name}]`\n\n{doc}{model_table(model)}\n")
    return "\n".join(out)


def linking_tables() -> str:
    """The tables of a linking project (``[task] kind = "linking"``, :mod:`polarlab.linking.config`)."""
    from ..linking.config import LINKING_TABLES

    out = ["## Linking projects (`[task] kind = \"linking\"`)\n\nA linking project file "
           "(`polarlab link project.toml`) has these tables instead of `[data]` and `[[sources]]`.\n", task_table()]
    for name, model in LINKING_TABLES.items():
        out.append(f"### `[{name}]`\n\n{inspect.cleandoc(model.__doc__ or '')}\n\n{model_table(model)}\n")
    return "\n".join(out)


def main(path: str = "docs/config.md") -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
