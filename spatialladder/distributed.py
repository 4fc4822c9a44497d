"""Which process this is in a multi-process launch, and one barrier: the only reader of RANK / WORLD_SIZE /
LOCAL_RANK.

Built on accelerate's ``PartialState``, the process-group singleton the trl / transformers trainers also use, so a
barrier here and a trainer share one process group. Asking for the rank never *creates* that group: until a
multi-process PartialState exists (a trainer's, or the first ``barrier()``'s), the answers come from the variables
the launcher set (torchrun, ``accelerate launch`` and deepspeed all set them), which is what the group would report.
So evaluation and the ladder's bookkeeping need no process group until they first wait, a trainer that comes first
makes it with its own settings (``trainer.ddp_timeout``, ``ddp_backend``), and a single-process run never makes one.

Nothing here imports torch or accelerate at module level (importing ``spatialladder`` stays cheap).
"""

from __future__ import annotations

import os
import sys
from typing import Any

PROCESS_GROUP_TIMEOUT_S = 1800
"""Timeout of a process group made by ``barrier()``: trl's default ``ddp_timeout``, so a trainer that reuses the
group waits as long as it would have with its own."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: the launcher's RANK / WORLD_SIZE / LOCAL_RANK must be integers") from None


def _group_state() -> Any | None:
    """accelerate's PartialState when this process already made one spanning several processes, else None.

    Reads the singleton's shared dict (what ``PartialState.initialized`` reads) instead of calling
    ``PartialState()``, which would create the state, and the process group with it, as a side effect.
    """
    module = sys.modules.get("accelerate.state")
    if module is None or not module.PartialState._shared_state:
        return None
    state = module.PartialState()
    return state if state.num_processes > 1 else None


def rank() -> int:
    """This process's global rank (0 when run alone)."""
    state = _group_state()
    return state.process_index if state is not None else _env_int("RANK", 0)


def world_size() -> int:
    """How many processes the launch has (1 when run alone)."""
    state = _group_state()
    return state.num_processes if state is not None else _env_int("WORLD_SIZE", 1)


def local_rank() -> int:
    """This process's rank on its own machine, i.e. which GPU it drives (0 when run alone)."""
    state = _group_state()
    return state.local_process_index if state is not None else _env_int("LOCAL_RANK", 0)


def is_main_process() -> bool:
    """Whether this process writes the files every process shares (before a trainer exists; a trainer's own
    ``is_world_process_zero`` agrees)."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process of the launch gets here; a no-op for one process (nothing imported).

    The first call of a multi-process launch makes the process group if no trainer made it yet: gloo on a machine
    without CUDA, NCCL with it, ``PROCESS_GROUP_TIMEOUT_S``; trainers created afterwards reuse it.
    """
    if world_size() <= 1:
        return
    from datetime import timedelta

    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available(), timeout=timedelta(seconds=PROCESS_GROUP_TIMEOUT_S))
    state.wait_for_everyone()
