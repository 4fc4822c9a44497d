"""Sharded training (FSDP2) with the trl trainers: three gaps between accelerate, trl and transformers closed here.

1. **FSDP on CPU** (:func:`enable_fsdp_on_cpu`). accelerate 1.15 turns an FSDP launch into FSDP only on accelerators:
   ``AcceleratorState.__init__`` moves a ``MULTI_GPU`` (/NPU/XPU/...) process group to ``FSDP`` and leaves a
   ``MULTI_CPU`` one as it is, so ``accelerate launch`` with an FSDP config on a machine without CUDA trains plain DDP
   and says nothing. PyTorch's FSDP2 (``fully_shard``) runs on CPU over gloo, so the same rule is applied to the CPU
   group; the sharded path (wrapping, sharded optimizer state, full-state-dict saves, FSDP checkpoints, resume) then
   runs on a laptop before it meets a GPU node.
2. **The output head's gradient** (:func:`gather_output_head_in_forward`): trl's fused LM head reads a sharded
   ``lm_head.weight`` that FSDP never reduces (see there).
3. **The final folder** (:func:`save_final_model`): always whole weights, also under ``SHARDED_STATE_DICT``.
4. **fp32 master weights without a sharding engine** (:func:`fp32_master_weights`): what DeepSpeed and FSDP do for
   bf16 training, done for a single-process or DDP launch too.

1–3 change nothing without an FSDP launch; on CUDA only 2 and 3 apply. 4 applies to single-process and DDP launches
in mixed precision.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from spatialladder.distributed import world_size
from spatialladder.errors import ConfigError

logger = logging.getLogger(__name__)

_MARK = "_spatialladder_sharding"


def fsdp_requested() -> bool:
    """Whether the launcher asked for FSDP (``accelerate launch`` with ``distributed_type: FSDP`` sets this)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def enable_fsdp_on_cpu() -> bool:
    """In an FSDP launch on a machine without CUDA, let accelerate's state become FSDP over the CPU (gloo) group,
    exactly as accelerate does for a GPU group (the plugin kept, mixed precision set on it). Idempotent; returns
    whether the rule is installed.

    A launch whose trainer did not ask for the CPU (``trainer.use_cpu``) is not distributed by accelerate without
    CUDA (it finds no backend and runs each process as a single one), so every process would train alone on all the
    data into the same folder: refused.
    """
    if not fsdp_requested():
        return False
    import torch

    if torch.cuda.is_available():
        return False
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    def init(self: Any, *args: Any, fsdp_plugin: Any = None, **kwargs: Any) -> None:
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is None:
            return
        processes = world_size()
        if self.distributed_type == DistributedType.NO and processes > 1:
            raise ConfigError(
                f"an FSDP launch of {processes} processes without CUDA needs trainer.use_cpu: true (otherwise "
                "accelerate runs each process alone on all the data)"
            )
        if self.distributed_type != DistributedType.MULTI_CPU:
            return
        if self._mixed_precision != "no":
            fsdp_plugin.set_mixed_precision(self._mixed_precision)
        self.fsdp_plugin = fsdp_plugin
        self.distributed_type = DistributedType.FSDP
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP
        logger.info("FSDP%d on CPU over %s (%d processes)", fsdp_plugin.fsdp_version, self.backend, self.num_processes)

    setattr(init, _MARK, True)
    AcceleratorState.__init__ = init
    return True


def gather_output_head_in_forward(model: Any) -> None:
    """Unshard an FSDP2-sharded output head at the start of every forward, so that trl's fused LM head reads the
    whole weight and its gradient is reduced across processes like every other.

    trl 1.16's fused LM head (``trl/trainer/utils.py``, used by SFT and GRPO) multiplies by ``lm_head.weight``
    without calling ``lm_head``. accelerate shards an untied head in a group of its own whose unshard hook is the
    head's forward (``accelerate/utils/fsdp_utils.py`` ``fsdp2_prepare_model``; its final-norm lookup finds none on
    Qwen2.5-VL, whose norm sits in ``model.language_model``), so there the weight is still a sharded DTensor. trl
    then calls ``full_tensor()``, whose backward keeps each process's own slice of its own gradient and reduces
    nothing: every process updates its shard of the head from its micro-batch alone (on the tiny model, 2
    processes: the head's gradient norm 7 % off a one-process run). Unsharded here, the head's gradient lands on the
    unsharded parameter and FSDP's end-of-backward callback reduce-scatters it (``torch/distributed/fsdp/
    _fully_shard/_fsdp_state.py``, ``_root_post_backward_final_callback``). A tied head (Qwen2.5-VL-3B) shares the
    embedding's group, which the embedding lookup unshards already; then this is a no-op, as it is without FSDP.
    """

    def unshard_head(module: Any, args: Any) -> None:
        from torch.distributed.fsdp import FSDPModule

        head = module.get_output_embeddings()
        if isinstance(head, FSDPModule) and head is not module:
            head.unshard()

    if not getattr(model, _MARK, False):
        model.register_forward_pre_hook(unshard_head)
        setattr(model, _MARK, True)


def save_final_model(trainer: Any, output_dir: str) -> None:
    """``trainer.save_model``, except that the final folder always holds whole weights ``from_pretrained`` loads.

    Under FSDP with ``SHARDED_STATE_DICT`` (checkpoints as per-process shards, the scalable choice) transformers'
    ``save_model`` writes no weights at all, so the plugin is switched to ``FULL_STATE_DICT`` for this one save,
    the switch accelerate documents for it (``FullyShardedDataParallelPlugin.set_state_dict_type``: "user trains
    with sharded, but final save is with full"). Every process calls this: the gather is collective.
    """
    plugin = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    if plugin is None or "FULL_STATE_DICT" in str(plugin.state_dict_type):
        trainer.save_model(output_dir)
        return
    sharded = plugin.state_dict_type
    plugin.set_state_dict_type("FULL_STATE_DICT")
    try:
        trainer.save_model(output_dir)
    finally:
        plugin.set_state_dict_type(sharded)


def fp32_master_weights(trainer: Any) -> list[str]:
    """Trainable low-precision parameters upcast to fp32 in a mixed-precision launch without DeepSpeed or FSDP;
    returns their names.

    The shipped configs load the model in bf16 (``model.dtype``) with ``trainer.bf16``, as the official run did under
    DeepSpeed ZeRO-3, whose bf16 mode keeps fp32 master weights for the optimizer; accelerate's FSDP2 upcasts
    trainable parameters to fp32 likewise (``accelerate/utils/fsdp_utils.py`` ``fsdp2_prepare_model``: "Upcast to fp32
    master weights; MixedPrecisionPolicy.param_dtype handles compute cast"). A single-process or DDP launch would
    instead step AdamW on the bf16 weights themselves, where an update smaller than half a bf16 spacing is lost: at
    lr 1e-5 only entries with |w| < 2^-8 move (15.5 % of an N(0, 0.02²) matrix). So the same upcast is done here; the
    compute stays in bf16 through the trainer's autocast. Frozen parameters (a frozen vision tower, LoRA's base) stay
    as loaded. Checkpoints and the final folder then hold fp32 weights, as under FSDP.
    """
    import torch
    from accelerate.utils import DistributedType

    accelerator = trainer.accelerator
    if accelerator.mixed_precision == "no" or accelerator.distributed_type in (
        DistributedType.DEEPSPEED,
        DistributedType.FSDP,
    ):
        return []
    upcast = []
    for name, param in trainer.model.named_parameters():
        if param.requires_grad and param.dtype in (torch.bfloat16, torch.float16):
            param.data = param.data.to(torch.float32)
            upcast.append(name)
    if upcast:
        logger.info(
            "%d trainable parameters upcast to fp32 master weights (%s launch, %s compute), as DeepSpeed and FSDP keep",
            len(upcast),
            accelerator.distributed_type.value,
            accelerator.mixed_precision,
        )
    return upcast
