"""Checkpoints shared by the SFT and GRPO stages: which one to resume, and where the model weights come from then."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The ``checkpoint-N`` folder with the largest N, or None."""
    found = [
        (int(m.group(1)), p)
        for p in Path(output_dir).glob("checkpoint-*")
        if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir()
    ]
    return max(found)[1] if found else None


def load_for_training(settings: Any, checkpoint: str | Path | None) -> Any:
    """Model + processor for a training run (``LoadedModel``); on a full fine-tuning resume, the checkpoint's weights.

    Why: transformers 5 saves Qwen2.5-VL under its legacy key names (``model.layers.*``, ``visual.*``), and
    ``Trainer`` resumes a plain (non-DeepSpeed, non-FSDP) model with ``load_state_dict(strict=False)``, which then
    matches no key and silently keeps the starting weights. ``from_pretrained`` knows the key mapping, so the
    weights are loaded from the checkpoint here; the Trainer still restores optimizer, scheduler, RNG and step
    (and, with DeepSpeed/FSDP, reloads the same weights its own way). LoRA adapters are restored by the Trainer.

    The model's ``name_or_path`` and the returned ``source`` stay the stage's *initial* model: trl builds the GRPO
    reference model from ``config.name_or_path``, and it must be the model the stage started from, not the
    checkpoint (an uninterrupted run's reference never moves).
    """
    from spatialladder.models.load import load_model_and_processor, resolve_source

    if checkpoint is None or settings.lora is not None:
        return load_model_and_processor(settings, for_training=True)
    logger.info("loading model weights from %s (the Trainer's key-name-blind reload is a no-op here)", checkpoint)
    loaded = load_model_and_processor(settings.model_copy(update={"name_or_path": str(checkpoint)}), for_training=True)
    initial = resolve_source(settings.name_or_path)
    loaded.model.config.name_or_path = initial
    return dataclasses.replace(loaded, source=initial)
