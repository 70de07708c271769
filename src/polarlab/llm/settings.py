"""The typed ``[[sources]] type = "llm"`` table, and the :class:`LLMSource` it builds.

The table's keys are the common ones below plus those of its backend (:mod:`polarlab.llm.backends`): the
table is validated by one model joining both (:func:`llm_settings_for`), so an unknown key, a key of another
backend or a wrong type is refused with its key path, and a plugin backend brings its own keys.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..config.base import suggest
from ..sources.registry import SourceSettings
from .backends import LLM_BACKENDS
from .source import LLMSource

DEFAULT_CACHE = "llm_cache.sqlite"


class LLMSettings(SourceSettings):
    """``type = "llm"``: an LLM labeler. Besides these keys, the table takes those of its ``backend`` (below)."""

    name: str = "llm"
    backend: str = Field("local", description='a registered backend: "local" (embedded llama.cpp) or "openai" '
                                              "(any OpenAI-compatible server), or a plugin's")
    mode: Literal["scoring", "generation"] = Field("scoring", description="label log-probs, or parsed text")
    calibrate: bool = Field(True, description="contextual calibration of scoring distributions")
    few_shot: list[dict[str, Any]] = Field([], description="demonstrations {text=..., label=...}")
    content_free: Optional[list[str]] = Field(None, description='calibration inputs (default ["N/A", "", '
                                                               '"[MASK]"])')
    min_confidence: float = Field(0.0, ge=0.0, le=1.0, description="abstain below this top probability")
    price_in_per_1k: Optional[float] = Field(None, ge=0.0, description="price per 1000 prompt tokens")
    price_out_per_1k: Optional[float] = Field(None, ge=0.0, description="price per 1000 completion tokens")
    cache: Optional[str] = Field(None, description=f"answer cache, relative to the state dir (default "
                                                   f"{DEFAULT_CACHE!r})")
    progress: bool = Field(True, description="show a progress bar")

    @field_validator("backend")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in LLM_BACKENDS:
            guess = suggest(v, list(LLM_BACKENDS))
            raise ValueError(f"unknown backend {v!r}. Fix: " + (f"did you mean {guess!r}? " if guess else "")
                             + f"use one of {sorted(LLM_BACKENDS)} (a plugin adds one with register_llm_backend)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _other_backends_keys(cls, data: Any) -> Any:
        """A key of another backend gets a message naming that backend."""
        if not isinstance(data, dict) or cls is LLMSettings:
            return data
        backend = data.get("backend", "local")
        for key in data:
            if key in cls.model_fields:
                continue
            owners = sorted(n for n, b in LLM_BACKENDS.items() if key in b.settings.model_fields)
            if owners:
                raise ValueError(f"@{key}: key {key!r} is for backend = \"{owners[0]}\", not \"{backend}\". "
                                 f"Fix: remove {key!r}, or set backend = \"{owners[0]}\"")
        return data


@lru_cache(maxsize=None)
def _joined(backend: str, settings: type) -> type[LLMSettings]:
    return type(f"LLMSettings_{backend}", (LLMSettings, settings),
                {"__doc__": f"An ``llm`` source with ``backend = {backend!r}``.", "__module__": __name__})


def llm_settings_for(table: dict[str, Any]) -> type[LLMSettings]:
    """The model that validates ``table``: the common keys joined with those of its backend.

    An unknown (or non-string) backend gets :class:`LLMSettings` alone, which refuses it naming the key.
    """
    backend = table.get("backend", "local")
    spec = LLM_BACKENDS.get(backend) if isinstance(backend, str) else None
    return LLMSettings if spec is None else _joined(backend, spec.settings)


_SOURCE_KEYS = ("name", "mode", "calibrate", "min_confidence", "price_in_per_1k", "price_out_per_1k", "progress",
                "fault_tolerant", "max_failure_share")


def build_llm_source(cfg: LLMSettings, state_dir: str | Path) -> LLMSource:
    """The :class:`LLMSource` of a validated table (from :func:`llm_settings_for`); its cache in ``state_dir``."""
    backend = LLM_BACKENDS[cfg.backend].build(cfg)
    cache_path = Path(cfg.cache or DEFAULT_CACHE)
    if not cache_path.is_absolute():
        cache_path = Path(state_dir) / cache_path
    kw: dict[str, Any] = {k: getattr(cfg, k) for k in _SOURCE_KEYS if k in cfg.model_fields_set}
    if cfg.content_free is not None:
        kw["content_free"] = tuple(cfg.content_free)
    return LLMSource(backend, few_shot=cfg.few_shot, cache=cache_path, **kw)
