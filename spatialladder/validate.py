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


def deep_validate(
    cfg: Any,
    source: str = "<config>",
    *,
    device_bytes: float | None = None,
    launch: Any = None,
    shape: Any = None,
) -> list[str]:
    """Build the objects a run would build from ``cfg`` (trl configs, registry lookups); return what was checked.

    Training configs are also checked against GPU memory (``spatialladder/train/memory.py``) when a GPU size is
    known: ``device_bytes``, else the visible GPU; ``launch`` (default: this process's) and ``shape`` (default: the
    model's ``config.json``, when at hand) as the trainers would use them."""
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
        from spatialladder.train.memory import check_training_memory

        memory = check_training_memory(cfg.model_dump(), source, device_bytes=device_bytes, launch=launch, shape=shape)
        if memory:
            checked.append(memory)
    if cfg.kind == "ladder":
        checked += _validate_ladder(cfg, source, device_bytes=device_bytes, launch=launch)
    return checked


def _validate_ladder(cfg: Any, source: str, **memory: Any) -> list[str]:
    """Each rung's config, found relative to the ladder file, must validate deeply and be for its rung; the memory
    check uses the base model's shape for every rung (each starts from the previous rung's weights)."""
    from pathlib import Path

    from spatialladder.config.load import load_config
    from spatialladder.models.shape import model_shape
    from spatialladder.train.ladder import check_stage

    base = Path(source).parent
    checked = []
    shape = model_shape(cfg.base_model) if cfg.base_model else None
    for stage, rel in cfg.stage_paths().items():
        path = base / rel
        stage_cfg = load_config(path)
        check_stage(stage_cfg, stage, str(path))
        shape = shape or model_shape(stage_cfg.model.name_or_path)
        found = deep_validate(stage_cfg, str(path), shape=shape, **memory)
        checked.append(f"{stage}: {path} [{'; '.join(found)}]")
    return checked
