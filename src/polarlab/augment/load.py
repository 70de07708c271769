"""Transformation functions defined in a user's Python file (polarlab's or Snorkel's decorator)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.pyfile import import_file
from .function import TransformationFunction, is_snorkel_tf


def load_transformation_functions(path: Path) -> list[Any]:
    """Every transformation function defined at the top level of ``path``, in definition order.

    Raises:
        ConfigError: no such file, it fails to import, or it defines no transformation function.
    """
    module = import_file(Path(path), "transformation function")
    found = [obj for obj in vars(module).values() if isinstance(obj, TransformationFunction) or is_snorkel_tf(obj)]
    if not found:
        raise ConfigError("the file defines no transformation function", file=str(path),
                          fix="decorate functions with @polarlab.augment.transformation_function() (or Snorkel's)")
    return found
