"""Deep validation (``config validate``): everything a run would reject, checked before any data or GPU work.

An application-layer module: it builds what the workflows would build from a config (trl's config classes, the
question generators' parameter models, every rung of a ladder), which the config layer itself may not import.
"""

from __future__ import annotations

from typing import Any

GPU_ONLY_TRAINER_KEYS = ("bf16", "fp16", "tf32")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cpu_checkable(cfg: Any) -> tuple[Any, list[str]]:
    """On a machine without CUDA, drop trl's device-only switches so a GPU config's *names and values* still get
    checked here; trl itself re-checks the device when the run starts on the GPU node."""
    if _cuda_available() or cfg.trainer.get("use_cpu"):
        return cfg, []
    gpu_keys = [k for k in GPU_ONLY_TRAINER_KEYS if cfg.trainer.get(k, k == "bf16")]  # trl defaults bf16 to True
    trainer = {k: v for k, v in cfg.trainer.items() if k not in gpu_keys}
    trainer.update(use_cpu=True, bf16=False)
    return cfg.model_copy(update={"trainer": trainer}), gpu_keys


def deep_validate(cfg: Any, source: str = "<config>") -> list[str]:
    """Build the objects a run would build from ``cfg`` (trl configs, registry lookups); return what was checked."""
    checked = [f"schema ({cfg.kind})"]
    if cfg.kind == "data":
        from spatialladder.data.params import resolve_generator_params

        resolve_generator_params(cfg, source)
        checked.append("generator params")
    if cfg.kind in ("sft", "grpo"):
        from spatialladder.train.trl_args import to_grpo_args, to_sft_args

        build = to_sft_args if cfg.kind == "sft" else to_grpo_args
        checkable, skipped = cpu_checkable(cfg)
        build(checkable, source)
        name = "trl.SFTConfig" if cfg.kind == "sft" else "trl.GRPOConfig"
        checked.append(name + (f" (device check of {', '.join(skipped)} skipped: no CUDA here)" if skipped else ""))
    if cfg.kind == "ladder":
        checked += _validate_ladder(cfg, source)
    return checked


def _validate_ladder(cfg: Any, source: str) -> list[str]:
    """Each rung's config, found relative to the ladder file, must validate deeply and be for its rung."""
    from pathlib import Path

    from spatialladder.config.load import load_config
    from spatialladder.train.ladder import check_stage

    base = Path(source).parent
    checked = []
    for stage, rel in cfg.stage_paths().items():
        path = base / rel
        stage_cfg = load_config(path)
        check_stage(stage_cfg, stage, str(path))
        checked.append(f"{stage}: {path} [{'; '.join(deep_validate(stage_cfg, str(path)))}]")
    return checked
