"""Where row-parallel work runs: this process (``local``) or a Ray cluster (``ray``).

An engine applies sources to a dataset partition by partition and predicts with a fitted model by partition.
The driver (the process running ``polarlab run``) stays the only writer of the project state and of the LLM
answer cache: engines return arrays; they never write files. Engines come from a registry::

    from polarlab.engine import make_engine, register_engine
    engine = make_engine("ray", address="auto", partition_rows=50_000)
    L = engine.apply_sources(data, sources, task)          # same LabelMatrix as the local engine

See :mod:`polarlab.engine.ray_engine` for what moves over the network.
"""
from .base import ENGINE_KEYS, ENGINES, Engine, make_engine, register_engine
from .local import LocalEngine

__all__ = ["ENGINE_KEYS", "ENGINES", "Engine", "LocalEngine", "make_engine", "register_engine"]


register_engine("local", LocalEngine, keys=["workers"])


def _ray(**options):
    from .ray_engine import RayEngine      # imports Ray only when asked for

    return RayEngine(**options)


register_engine("ray", _ray, keys=["address", "partition_rows", "max_retries", "num_cpus"])
