"""Outputs: labels files, metrics.json, reports — all written atomically."""
from ..io.atomic import atomic_path, write_bytes, write_text
from .labels import labels_frame, to_json, write_json, write_table

__all__ = ["atomic_path", "labels_frame", "to_json", "write_bytes", "write_json", "write_table", "write_text"]
