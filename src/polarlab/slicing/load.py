"""Slicing functions defined in a user's Python file (polarlab's or Snorkel's decorator)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.pyfile import import_file
from .function import SlicingFunction, is_snorkel_sf


def load_slicing_functions(path: Path, names: list[str] | None = None) -> list[Any]:
    """Every slicing function defined at the top level of ``path``, in definition order; only ``names`` if given.

    Raises:
        ConfigError: no such file, it fails to import, it defines no slicing function, or a name is unknown.
    """
    module = import_file(Path(path), "slicing function")
    found = [obj for obj in vars(module).values() if isinstance(obj, SlicingFunction) or is_snorkel_sf(obj)]
    if not found:
        raise ConfigError("the file defines no slicing function", file=str(path),
                          fix="decorate predicates with @polarlab.slicing.slicing_function() (or Snorkel's)")
    if names is None:
        return found
    by_name = {sf.name: sf for sf in found}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(f"no slicing function named {unknown}", file=str(path), fix=f"use {sorted(by_name)}")
    return [by_name[n] for n in names]
