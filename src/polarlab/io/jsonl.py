"""Reading a user's JSON-lines file: one object per line, blank lines skipped, and one clear ``DataError`` naming the
file and line for a line that is not JSON or not an object.

Every JSONL reader of polarlab (data files, unlabelled texts, span files, BEIR folders) goes through
:func:`json_objects`, so they all refuse bad lines the same way; what each needs of an object's keys it checks
itself, with the line number this yields.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError


def json_objects(path: str | os.PathLike, *, fix: str, text: str | None = None,
                 object_pairs_hook: Callable[[int], Callable[[list[tuple[str, Any]]], Any]] | None = None,
                 ) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, object)`` for each non-blank line of ``path`` (numbers 1-based).

    Args:
        path: the JSONL file.
        fix: the fix a bad line's error proposes, e.g. ``'one object per line: {"id", "text"}'``.
        text: the file's contents when the caller has read them already; None = read here as UTF-8 (a byte-order
            mark skipped; bytes that are not UTF-8 are one ``DataError`` with their line).
        object_pairs_hook: given a line number, the ``json.loads`` hook for that line (e.g. to refuse repeated keys
            with the line in the message); None = plain dicts.

    Raises:
        DataError: bytes that are not UTF-8, a line that is not JSON, or JSON that is not an object, with its file
            and line.
    """
    path = Path(path)
    if text is None:
        text = read_utf8(path)
    # split on "\n" only: str.splitlines would also split inside a JSON string holding U+2028
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        hook = object_pairs_hook(line_no) if object_pairs_hook is not None else None
        try:
            row = json.loads(line, object_pairs_hook=hook)
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON ({e.msg})", file=str(path), line=line_no, fix=fix) from None
        if not isinstance(row, dict):
            raise DataError(f"a JSON {type(row).__name__}, not an object", file=str(path), line=line_no, fix=fix)
        yield line_no, row


def read_utf8(path: Path) -> str:
    """The text of ``path`` as UTF-8 (a byte-order mark skipped); bytes that are not UTF-8 are a ``DataError``
    naming the byte, its offset and line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}, line {line})",
                        file=str(path), line=line,
                        fix="re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
