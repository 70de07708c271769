"""Generic file helpers shared by every stage (atomic writes; strict JSON output: ``jsonout``)."""
from .atomic import atomic_path, write_bytes, write_text

__all__ = ["atomic_path", "write_bytes", "write_text"]
