"""Checkpoints shared by every stage: which one to resume (one policy for SFT, GRPO and the ladder), and where the
model weights come from then.

The resume policy (:func:`resume_checkpoint`), for ``resume``:

- ``None`` (default, no flag): resume from the newest ``checkpoint-*`` when the folder's ``config.resolved.yaml``
  has this run's config hash; refuse with a one-line error when it has another one (or none), rather than mix two
  runs in one folder; start fresh when there is no checkpoint.
- ``True`` (``--resume``): continue from the newest checkpoint whatever config wrote it; it must exist.
- ``False`` (``--no-resume``): start over; the folder's old ``checkpoint-*`` folders are removed first (logged), so
  neither a later automatic resume nor the trainer's checkpoint rotation can pick up the discarded run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from spatialladder.config.load import RESOLVED_NAME, read_yaml, to_yaml, validate_mapping
from spatialladder.distributed import barrier, is_main_process
from spatialladder.errors import ConfigError, SpatialLadderError

logger = logging.getLogger(__name__)


def checkpoints(output_dir: str | Path) -> list[Path]:
    """The ``checkpoint-N`` folders in ``output_dir``, by N."""
    found = [
        (int(m.group(1)), p)
        for p in Path(output_dir).glob("checkpoint-*")
        if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir()
    ]
    return [p for _, p in sorted(found)]


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The ``checkpoint-N`` folder with the largest N, or None."""
    found = checkpoints(output_dir)
    return found[-1] if found else None


def config_sha256(cfg: Any) -> str:
    """Fingerprint of the resolved config: two runs with the same hash trained the same way."""
    return hashlib.sha256(to_yaml(cfg).encode("utf-8")).hexdigest()


def saved_config_sha256(saved: Path, cfg_cls: type) -> str | None:
    """:func:`config_sha256` of the config saved at ``saved``; None when it is not a valid ``cfg_cls`` config
    (another schema, or a damaged file), which is not this run's either."""
    try:
        return config_sha256(validate_mapping(read_yaml(saved), cfg_cls, source=str(saved)))
    except SpatialLadderError:
        return None


def resume_checkpoint(cfg: Any, resume: bool | None) -> str | None:
    """The checkpoint a stage continues from under the resume policy (module docstring), or None to start fresh.

    Called by every process of a launch before anything is written; the decision reads only what earlier runs left.
    """
    out = Path(cfg.output_dir)
    ckpt = latest_checkpoint(out)
    if resume is False:
        start_over(out)
        return None
    if ckpt is None:
        if resume:
            raise ConfigError(f"--resume: no checkpoint-* folder in output_dir {out}")
        return None
    if resume is None:
        check_written_by(cfg, out, ckpt)
    logger.info("resuming from %s (model, optimizer, scheduler and RNG state)", ckpt)
    return str(ckpt)


def check_written_by(cfg: Any, out: Path, ckpt: Path) -> None:
    """A ConfigError unless ``out``'s saved config has the hash of ``cfg`` (the checkpoints are this run's)."""
    saved = out / RESOLVED_NAME
    what_to_do = "pass --resume to continue it anyway, --no-resume to start over, or choose a new output_dir"
    if not saved.is_file():
        raise ConfigError(f"output_dir {out} holds {ckpt.name} but no {RESOLVED_NAME} naming its config; {what_to_do}")
    written, ours = saved_config_sha256(saved, type(cfg)), config_sha256(cfg)
    if written != ours:
        found = f"sha256 {written[:12]}" if written else "not a valid config of this kind"
        raise ConfigError(
            f"output_dir {out} holds {ckpt.name} from a different config ({saved}: {found}; this run's sha256 "
            f"{ours[:12]}); {what_to_do}"
        )


def start_over(out: Path) -> None:
    """Remove the ``checkpoint-*`` folders of an earlier run (main process), then let every process go on."""
    stale = checkpoints(out) if is_main_process() else []
    if stale:
        logger.warning("starting over in %s: removing %d checkpoints of the earlier run", out, len(stale))
        for path in stale:
            shutil.rmtree(path)
    barrier()


def load_for_training(settings: Any, checkpoint: str | Path | None) -> Any:
    """Model + processor for a training run (``LoadedModel``); on a full fine-tuning resume, the checkpoint's weights.

    Why: transformers 5 saves Qwen2.5-VL under its legacy key names (``model.layers.*``, ``visual.*``), and
    ``Trainer`` resumes a plain (non-DeepSpeed, non-FSDP) model with ``load_state_dict(strict=False)``, which then
    matches no key and silently keeps the starting weights. ``from_pretrained`` knows the key mapping, so the
    weights are loaded from the checkpoint here; the Trainer still restores optimizer, scheduler, RNG and step
    (and, with DeepSpeed/FSDP, reloads the same weights its own way). LoRA adapters are restored by the Trainer.
    A checkpoint without full weights (FSDP's ``SHARDED_STATE_DICT`` writes only ``pytorch_model_fsdp_0/``, its
    distributed shards) starts from the initial weights, which the Trainer then replaces with those shards.

    The model's ``name_or_path`` and the returned ``source`` stay the stage's *initial* model: trl builds the GRPO
    reference model from ``config.name_or_path``, and it must be the model the stage started from, not the
    checkpoint (an uninterrupted run's reference never moves).

    The checkpoint is loaded in the dtype a fresh run loads its start in (:func:`start_dtype`), not in its own:
    trl builds that reference in the policy's dtype of the moment the trainer is made (trl 1.16
    ``grpo_trainer.py`` ``GRPOTrainer.__init__``: ``model_init_kwargs.setdefault("dtype", self.model.dtype)``), and
    a checkpoint holding fp32 master weights made it fp32, twice a fresh run's (+7 GiB for the 3B). The fp32 values
    of the trainable weights are copied back in once the trainer exists (:func:`master_weights`).

    Under an FSDP launch the process is first made ready for it (``train/sharding.py``: FSDP on CPU, the output
    head unsharded for trl's fused head).
    """
    from spatialladder.train.sharding import enable_fsdp_on_cpu, gather_output_head_in_forward

    enable_fsdp_on_cpu()
    loaded = _load_weights(settings, checkpoint)
    gather_output_head_in_forward(loaded.model)
    return loaded


def _load_weights(settings: Any, checkpoint: str | Path | None) -> Any:
    from spatialladder.models.load import load_model_and_processor, resolve_source

    if checkpoint is None or settings.lora is not None:
        return load_model_and_processor(settings, for_training=True)
    if not has_full_weights(Path(checkpoint)):
        if not is_fsdp_checkpoint(Path(checkpoint)):
            raise ConfigError(
                f"{checkpoint}: no model weights to resume from (model.safetensors, or FSDP's pytorch_model_fsdp*)"
            )
        logger.info("%s holds FSDP shards only: the Trainer loads them into the initial model", checkpoint)
        return load_model_and_processor(settings, for_training=True)
    logger.info("loading model weights from %s (the Trainer's key-name-blind reload is a no-op here)", checkpoint)
    update = {"name_or_path": str(checkpoint), "dtype": start_dtype(settings)}
    loaded = load_model_and_processor(settings.model_copy(update=update), for_training=True)
    initial = resolve_source(settings.name_or_path)
    loaded.model.config.name_or_path = initial
    return dataclasses.replace(loaded, source=initial)


def start_dtype(settings: Any) -> str:
    """The dtype a fresh run loads its starting weights in: ``model.dtype``, with ``auto`` read as
    ``from_pretrained(dtype="auto")`` reads it first, from the starting model's config (transformers
    ``modeling_utils._get_dtype``); ``auto`` still when that config names none of the configurable dtypes."""
    if settings.dtype != "auto":
        return settings.dtype
    import json

    from transformers import AutoConfig

    from spatialladder.models.load import resolve_source

    start = Path(resolve_source(settings.name_or_path))
    adapter = start / "adapter_config.json"  # a LoRA rung's folder: loaded onto its base, in the base's dtype
    base = resolve_source(json.loads(adapter.read_text())["base_model_name_or_path"]) if adapter.is_file() else start
    dtype = str(AutoConfig.from_pretrained(base).dtype).removeprefix("torch.")
    return dtype if dtype in ("float32", "bfloat16", "float16") else "auto"


def master_weights(trainer: Any, settings: Any, checkpoint: str | Path | None) -> list[str]:
    """fp32 master weights for the trainable parameters (``train/sharding.py`` :func:`fp32_master_weights`, which
    this calls; returns their names); on a resume, holding the checkpoint's fp32 values, unrounded.

    :func:`load_for_training` loaded the checkpoint in the configured dtype, so the trainer was built as in a fresh
    run; the upcast parameters now get the checkpoint's values back, read as float32 rather than ``auto`` (a
    checkpoint's config.json names one dtype, its first parameter's: bf16 under a frozen vision tower, which
    rounded every master). Frozen parameters stay as loaded (they were saved in that dtype); DeepSpeed and FSDP,
    which upcast nothing here, restore their own masters; LoRA checkpoints hold adapters only, which the Trainer
    restores.
    """
    import torch

    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.sharding import fp32_master_weights

    upcast = fp32_master_weights(trainer)
    if checkpoint is None or not upcast or not has_full_weights(Path(checkpoint)):
        return upcast
    update = {"name_or_path": str(checkpoint), "dtype": "float32"}
    saved = dict(load_model_and_processor(settings.model_copy(update=update)).model.named_parameters())
    names = set(upcast)
    with torch.no_grad():
        for name, param in trainer.model.named_parameters():
            if name in names:
                param.copy_(saved[name])
    logger.info("%d fp32 master weights restored from %s", len(names), checkpoint)
    return upcast


def is_fsdp_checkpoint(folder: Path) -> bool:
    """Whether the Trainer reloads ``folder``'s model through FSDP (transformers' own test in
    ``Trainer._load_from_checkpoint``: a subfolder named after accelerate's ``FSDP_MODEL_NAME``, whose shards it
    holds under ``SHARDED_STATE_DICT``, or its ``.bin``, the whole state dict under ``FULL_STATE_DICT``)."""
    from accelerate.utils.constants import FSDP_MODEL_NAME

    return (folder / f"{FSDP_MODEL_NAME}.bin").is_file() or any(
        p.is_dir() and FSDP_MODEL_NAME in p.name for p in folder.iterdir()
    )


def has_full_weights(folder: Path) -> bool:
    """Whether ``folder`` holds a whole model ``from_pretrained`` can load (one file or an index of shards)."""
    from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME

    names = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)
    return any((folder / name).is_file() for name in names)
