"""Content-addressed artifact files (NPY arrays, Parquet tables) beside the state database.

An artifact is named by the SHA-256 of its bytes, written to a temporary file and renamed, so a file
that exists is always complete, two writers of the same content agree, and nothing is overwritten.
The database rows that reference an artifact are committed only after the file is in place: a crash
between the two leaves at worst an unreferenced file (reported by the integrity check, harmless).
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.atomic import write_bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def array_bytes(a: np.ndarray) -> bytes:
    """The ``.npy`` encoding of ``a`` (no pickled objects)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """The Parquet encoding of ``frame`` (index dropped)."""
    buf = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buf, index=False)
    return buf.getvalue()


class ArtifactStore:
    """Files under ``root``, one per content hash: ``root/ab/abcdef….npy`` or ``….parquet``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, digest: str, ext: str) -> Path:
        return self.root / digest[:2] / f"{digest}.{ext}"

    def _put(self, data: bytes, ext: str) -> str:
        digest = sha256(data)
        p = self.path(digest, ext)
        if not p.exists():
            write_bytes(p, data)
        return f"{digest}.{ext}"

    def put_array(self, a: np.ndarray) -> str:
        """Store ``a``; returns its reference (``"<sha256>.npy"``)."""
        return self._put(array_bytes(np.asarray(a)), "npy")

    def put_frame(self, frame: pd.DataFrame) -> str:
        """Store ``frame``; returns its reference (``"<sha256>.parquet"``)."""
        return self._put(frame_bytes(frame), "parquet")

    def file(self, ref: str) -> Path:
        digest, ext = ref.split(".", 1)
        return self.path(digest, ext)

    def get_array(self, ref: str) -> np.ndarray:
        return np.load(self.file(ref), allow_pickle=False)

    def get_frame(self, ref: str) -> pd.DataFrame:
        return pd.read_parquet(self.file(ref))

    def verify(self, ref: str) -> str | None:
        """None if the artifact is present and its bytes hash to its name, else what is wrong."""
        p = self.file(ref)
        if not p.exists():
            return "missing"
        if sha256(p.read_bytes()) != ref.split(".", 1)[0]:
            return "content does not match its hash"
        return None

    def all_refs(self) -> set[str]:
        if not self.root.exists():
            return set()
        return {p.name for p in self.root.glob("*/*") if p.is_file() and not p.name.startswith(".")}
