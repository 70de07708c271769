"""Stage 0: datasets and loaders."""
from .dataset import Dataset, Example
from .loaders import from_hf, from_pandas, load_csv, load_jsonl, load_parquet, load_table
from .wrench import load_wrench, load_wrench_split, wrench_task

__all__ = ["Dataset", "Example", "from_hf", "from_pandas", "load_csv", "load_jsonl", "load_parquet",
           "load_table", "load_wrench", "load_wrench_split", "wrench_task"]
