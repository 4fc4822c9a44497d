"""A finished stage's memory, released before anything else loads (``--stage all`` runs every rung in one process).

What keeps a rung's model and optimizer alive after its ``run_*`` returned (trl 1.16, accelerate 1.15):

- Reference cycles, which reference counting never frees, only a full garbage collection. trl's fused LM head binds
  ``model.forward`` to the model itself (``trl/trainer/utils.py`` ``add_fused_lm_head``: ``model.forward =
  types.MethodType(_fused_forward, model)``, called by ``SFTTrainer`` and ``GRPOTrainer``, for the reference model
  too); under mixed precision accelerate does the same for autocast (``accelerate/accelerator.py``
  ``Accelerator.prepare_model``: ``model._original_forward``, ``model.forward = MethodType(..., model)``). And an
  exception caught anywhere below a stage function keeps its traceback's frames, and through ``f_back`` the stage
  function's own frame with the trainer and its optimizer state (seen with matplotlib's first import for the curves).
- Under DeepSpeed, module-level maps of every module and parameter of the model (``deepspeed/utils/debug.py``
  ``module_names`` / ``param_names``, filled by ``DeepSpeedEngine.__init__``), which only ``DeepSpeedEngine.destroy``
  empties; no collection frees them.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def release_trainer(trainer: Any) -> None:
    """At the end of a stage: accelerate's ``Accelerator.free_memory``, documented for "between two trainings with
    different models/optimizers" (destroys the DeepSpeed engine, drops the accelerator's models, optimizers,
    schedulers and dataloaders). The Trainer calls it only at the start of its own loop, on its own accelerator
    (transformers ``Trainer._inner_training_loop``), after the next rung's model is already loaded."""
    trainer.accelerator.free_memory()


def release_memory() -> None:
    """Once a stage function has returned (its frame, and the trainer it held, gone): collect the cycles above and
    hand the device's cached blocks back (accelerate ``utils/memory.py`` ``clear_device_cache``: ``gc.collect()``,
    then ``torch.cuda.empty_cache()`` or the accelerator's own)."""
    import torch
    from accelerate.utils.memory import clear_device_cache

    clear_device_cache(garbage_collection=True)
    if torch.cuda.is_available():
        logger.info("rung released: %.2f GiB still allocated on CUDA", torch.cuda.memory_allocated() / 2**30)
