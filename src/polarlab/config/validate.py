"""Validate a parsed project file, table by table, into a :class:`ProjectConfig`."""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import suggest, validate
from .models import SECTIONS, ProjectConfig

ALL_SECTIONS = tuple(SECTIONS) + ("sources",)


def validate_tables(raw: dict[str, Any], file: str | None) -> ProjectConfig:
    """Every table of ``raw`` (a parsed polarlab.toml) checked; the first problem raised as a ConfigError.

    Order: unknown sections, then each section in file order (so the message points at the first mistake),
    then each ``[[sources]]`` table by its type's model.
    """
    from ..sources.config import validate_source

    for name in raw:
        if name not in ALL_SECTIONS:
            guess = suggest(name, ALL_SECTIONS)
            raise ConfigError(f"unknown section [{name}]", file=file, column=name,
                              fix=(f"did you mean [{guess}]? " if guess else "") + f"use only {sorted(ALL_SECTIONS)}")
    if "data" not in raw:
        raise ConfigError("no [data] section", file=file, column="data",
                          fix="add [data] with wrench = DIR, path = FILE or [data.splits]")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        raise ConfigError("no [[sources]]" if sources is None or sources == [] else f"{sources!r} is not a list of "
                          "tables", file=file, column="sources", fix="declare at least one [[sources]] table")
    sections: dict[str, Any] = {}
    for name, table in raw.items():
        if name == "sources":
            continue
        sections[name] = validate(SECTIONS[name], table, file=file, prefix=name, table=f"[{name}]")
    settings = [validate_source(t, i, file)[0] for i, t in enumerate(sources)]
    names = [getattr(s, "name", None) for s in settings]
    named = [n for n in names if n is not None]
    dup = sorted({n for n in named if named.count(n) > 1})
    if dup:
        raise ConfigError(f"two sources are named {dup[0]!r}", file=file, column="sources",
                          fix="give every source a distinct name")
    return ProjectConfig.model_construct(sources=settings, **sections)
