"""A run's outputs, published together: staged in a hidden folder, moved into place, listed in a manifest.

``manifest.json`` in the output folder names the files of the run that wrote them (with their SHA-256). A new
run moves its files in and removes the files the previous manifest listed that it does not produce itself
(e.g. ``corrections.csv`` of an earlier run with ``[correct]``), so the folder never mixes two runs. Files the
manifest does not list (the user's own) are never touched. The manifest is written last, atomically.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

from ..errors import ConfigError
from .atomic import write_text
from .jsonout import dumps

MANIFEST = "manifest.json"


def check_writable(folder: str | os.PathLike, file: str | None, key: str) -> None:
    """``folder`` is a writable folder, or can be created (its nearest existing parent is writable); creates
    nothing. Else a ConfigError naming ``key`` (and the project ``file``), before any slow work."""
    import tempfile

    folder = Path(folder).absolute()
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        what = "is a file, not a folder" if probe == folder else f"is inside {probe}, which is a file"
        raise ConfigError(f"{folder} {what}", file=file, column=key, fix="give a folder (it is created when missing)")
    try:
        if probe == folder:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".polarlab-write-test-"):
                pass
        elif not os.access(probe, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        raise ConfigError(f"cannot write to {folder} ({e.strerror or e})", file=file, column=key,
                          fix="choose a folder you can write to") from None


@contextlib.contextmanager
def staging_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """A fresh hidden folder inside ``out_dir`` to write a run's files to; removed afterwards."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".polarlab-staging-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_manifest(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    p = Path(out_dir) / MANIFEST
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def publish(staged: Path, out_dir: str | os.PathLike, meta: dict[str, Any] | None = None
            ) -> tuple[dict[str, Path], list[str]]:
    """Move every file of ``staged`` into ``out_dir``; remove the previous run's files not produced now.

    Returns:
        (file name -> its final path, messages naming what was replaced or removed).
    """
    out = Path(out_dir)
    old = read_manifest(out) or {}
    old_files = set(old.get("files", {}))
    new_files = {p.name: p for p in sorted(staged.iterdir()) if p.is_file()}
    replaced = []
    files = {}
    for name, p in new_files.items():
        target = out / name
        if target.exists():
            replaced.append(f"replaced {name}" + ("" if name in old_files else " (not written by polarlab)"))
        files[name] = hashlib.sha256(p.read_bytes()).hexdigest()
        os.replace(p, target)
    for name in sorted(old_files - set(new_files)):
        target = out / name
        if target.is_file():
            target.unlink()
            replaced.append(f"removed {name} (from the run of {old.get('written', 'an earlier run')}, "
                            "not produced by this one)")
    manifest = {"written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "files": files, **(meta or {})}
    write_text(out / MANIFEST, dumps(manifest, indent=1))
    return {name: out / name for name in new_files}, replaced
