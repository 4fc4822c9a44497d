"""The config kinds, keyed by the ``kind:`` field every YAML carries.

The registry maps a kind to the module and class that define it; modules are imported on demand so that
validating a data config never imports trainer code.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from spatialladder.errors import ConfigError

CONFIG_KINDS: dict[str, tuple[str, str]] = {
    "data": ("spatialladder.config.data", "DataConfig"),
    "sft": ("spatialladder.config.sft", "SFTStageConfig"),
    "grpo": ("spatialladder.config.grpo", "GRPOStageConfig"),
    "eval": ("spatialladder.config.eval", "EvalConfig"),
    "ladder": ("spatialladder.config.ladder", "LadderConfig"),
}


def model_for_kind(kind: Any, source: str = "<config>") -> type[BaseModel]:
    """The pydantic model for a ``kind:`` value; an unknown kind lists the valid ones."""
    if kind not in CONFIG_KINDS:
        raise ConfigError(f"{source}: kind: expected one of {', '.join(sorted(CONFIG_KINDS))} (got {kind!r})")
    module, name = CONFIG_KINDS[kind]
    return getattr(importlib.import_module(module), name)


class AnyConfig(BaseModel):
    """Placeholder model used only to report a missing ``kind:`` key."""

    kind: str
