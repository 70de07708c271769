"""Benchmarks that compare polarlab's stages with baselines on labelled data (WRENCH)."""
from .wrench import BenchConfig, bench_wrench

__all__ = ["BenchConfig", "bench_wrench"]
