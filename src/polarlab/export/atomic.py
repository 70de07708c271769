"""Kept for old imports: atomic writing lives in :mod:`polarlab.io.atomic`."""
from ..io.atomic import atomic_path, write_bytes, write_text  # noqa: F401

__all__ = ["atomic_path", "write_bytes", "write_text"]
