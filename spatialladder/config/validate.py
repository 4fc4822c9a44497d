"""Deep validation: everything a run would reject, checked before any data or GPU work."""

from __future__ import annotations

from typing import Any


def deep_validate(cfg: Any, source: str = "<config>") -> list[str]:
    """Build the objects a run would build from ``cfg`` (trl configs, registry lookups); return what was checked."""
    checked = [f"schema ({cfg.kind})"]
    if cfg.kind == "sft":
        from spatialladder.train.trl_args import to_sft_args

        to_sft_args(cfg, source)
        checked.append("trl.SFTConfig")
    elif cfg.kind == "grpo":
        from spatialladder.train.trl_args import to_grpo_args

        to_grpo_args(cfg, source)
        checked.append("trl.GRPOConfig")
    return checked
