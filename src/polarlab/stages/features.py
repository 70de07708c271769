"""Stage ``features``: the harmonizer's example features (``[harmonizer] features`` and its settings), the
extractor fitted on the fit split; stored in the state by content hash, so an unchanged project computes no
embedding again."""
from __future__ import annotations

from typing import Any

from ..config.models import HARMONIZER_METHOD, HarmonizerSection
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage


#: The feature extractor when ``[harmonizer] features`` is not given (the typed model's default).
DEFAULT_FEATURES = HarmonizerSection.model_fields["features"].default


def feature_options(ctx: RunContext) -> tuple[str, dict[str, Any]]:
    """(extractor kind, its :class:`FeatureSpec` settings) from ``[harmonizer]``."""
    from ..features import FeatureSpec

    options = dict(ctx.project.harmonizer)
    kind = options.pop("features", DEFAULT_FEATURES)
    spec_keys = set(FeatureSpec.__dataclass_fields__) - {"kind", "cache_dir"}
    return kind, {k: v for k, v in options.items() if k in spec_keys}


def wants_harmonizer(ctx: RunContext) -> bool:
    return HARMONIZER_METHOD in ctx.project.labelmodel.get("methods", (HARMONIZER_METHOD,))


class FeaturesStage:
    name = "features"

    def wanted(self, ctx: RunContext) -> bool:
        return wants_harmonizer(ctx)

    def config(self, ctx: RunContext) -> Any:
        kind, opts = feature_options(ctx)
        return {"kind": kind, "options": opts, "fit_split": ctx.fit_split}

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        return {f"examples:{s}": ctx.hashes[f"examples:{s}"] for s in ctx.splits}

    def _key(self, ctx: RunContext, split: str) -> str:
        return content_hash(self.config(ctx), ctx.hashes[f"examples:{ctx.fit_split}"], ctx.hashes[f"examples:{split}"])

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..pipeline import featurize

        kind, opts = feature_options(ctx)
        ctx.features = featurize(ctx.splits, ctx.fit_split, kind, ctx.state_dir / "features", opts)
        return {"kind": kind, "dims": {s: list(X.shape) for s, X in ctx.features.items()}}

    def save(self, ctx: RunContext) -> str:
        keys = []
        for split, X in ctx.features.items():
            key = self._key(ctx, split)
            ctx.state.put_features(key, X)
            keys.append(key)
        return content_hash(keys)

    def load(self, ctx: RunContext, record: StageRecord) -> bool:
        out = {}
        for split in ctx.splits:
            X = ctx.state.features(self._key(ctx, split))
            if X is None:
                return False
            out[split] = X
        ctx.features = out
        return True


register_stage(FeaturesStage())
