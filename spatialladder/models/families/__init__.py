"""Model families: one module per family, one registry, one refusal for everything else.

Stages ask ``family_for(config)`` (or ``LoadedModel.family``) for the facts that differ between families instead of
testing ``model_type``.
"""

from __future__ import annotations

from typing import Any

from spatialladder.errors import ModelLoadError
from spatialladder.models.families import qwen2_5_vl, qwen3_5, qwen3_vl
from spatialladder.models.families.base import ModelFamily

FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (qwen2_5_vl.FAMILY, qwen3_vl.FAMILY, qwen3_5.FAMILY)}
"""By user-facing name, in the order the docs list them."""
BY_MODEL_TYPE: dict[str, ModelFamily] = {t: f for f in FAMILIES.values() for t in f.model_types}


def supported() -> str:
    return "; ".join(f"{f.name} ({', '.join(f.model_types)})" for f in FAMILIES.values())


def family_named(name: str) -> ModelFamily:
    """The family a user names (``--family``); a one-line error listing the names otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ModelLoadError(f"unknown model family {name!r}; expected one of {', '.join(FAMILIES)}") from None


def family_for_model_type(model_type: str, source: str = "model") -> ModelFamily:
    """The family serving ``model_type``; an unsupported checkpoint is refused in one line listing the families."""
    try:
        return BY_MODEL_TYPE[model_type]
    except KeyError:
        raise ModelLoadError(
            f"{source}: model_type {model_type!r} is not supported; supported families: {supported()}"
        ) from None


def family_for(config: Any, source: str = "model") -> ModelFamily:
    """The family of a loaded model's (or a ``config.json`` dict's) ``model_type``."""
    model_type = config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None)
    return family_for_model_type(str(model_type), source)


__all__ = ["FAMILIES", "ModelFamily", "family_for", "family_for_model_type", "family_named"]
