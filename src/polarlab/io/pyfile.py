"""Import a user's Python file (labeling functions, slicing functions) as a module, with clear errors."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError


def import_file(path: Path, what: str = "labeling function") -> ModuleType:
    """The module defined by the file ``path`` (imported once per path; re-imported when asked again).

    Raises:
        ConfigError: the file does not exist, or importing it raised (the error is named).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} file not found", file=str(path), fix="check the path")
    mod_name = f"polarlab_user_{what.replace(' ', '_')}s_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as e:
        raise ConfigError(f"importing it raised {type(e).__name__}: {e}", file=str(path),
                          fix=f"fix the error in the {what} file") from e
    return module
