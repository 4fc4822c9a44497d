"""The only place our config becomes trl's config. ``trainer:`` keys pass through untouched."""

from __future__ import annotations

import dataclasses
from typing import Any

from spatialladder.errors import ConfigError


def _build(cls: type, source: str, owned: dict[str, Any], trainer: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(trainer) - known)
    if unknown:
        raise ConfigError(
            f"{source}: trainer.{unknown[0]}: not a field of trl.{cls.__name__} "
            f"(see the trl docs for {cls.__name__}; check the spelling)"
        )
    try:
        return cls(**owned, **trainer)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: trainer: trl.{cls.__name__} rejected the settings: {exc}") from None


def to_sft_args(cfg: Any, source: str = "<config>") -> Any:
    """Build ``trl.SFTConfig`` from an SFT stage config."""
    from trl import SFTConfig

    owned = {
        "output_dir": cfg.output_dir,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "assistant_only_loss": cfg.loss_on == "assistant",
    }
    return _build(SFTConfig, source, owned, dict(cfg.trainer))


def to_grpo_args(cfg: Any, source: str = "<config>") -> Any:
    """Build ``trl.GRPOConfig`` from the stage-3 config; reward weights come from ``rewards:``."""
    from trl import GRPOConfig

    owned = {
        "output_dir": cfg.output_dir,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "reward_weights": [r.weight for r in cfg.rewards],
    }
    return _build(GRPOConfig, source, owned, dict(cfg.trainer))
