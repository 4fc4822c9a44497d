"""GPU memory of a training run, per GPU, before anything is loaded: the one home of the arithmetic in
docs/benchmarks.md ("Memory estimate"), used by the trainers and ``config validate`` to refuse a run that cannot fit
the card, and by ``scripts/gpu_acceptance.py`` to predict each path's peak.

The estimate is a sum of named items per *phase* of a step, and the peak is the largest phase:

- ``train`` (loss pass, backward, optimizer step): the weights as the trainer holds them, their gradients, AdamW's
  two moments, trl's fused-head fp32 gradient transient, activations (when known), GRPO's KL reference model, and a
  colocated vLLM pool unless vLLM sleeps during training (``trainer.vllm_enable_sleep_mode``);
- ``generate`` (GRPO rollouts): the same without gradients (transformers' Trainer frees them after each optimizer
  step, ``model.zero_grad()`` sets them to None) and without activations, plus the awake vLLM pool, or, for an
  ``hf`` rollout from fp32 master weights, the bf16 copies autocast caches for the generate call
  (``train/video_grpo.py``);
- ``vLLM start``: trl builds the colocated engine in the trainer's ``__init__``, before the master-weight upcast and
  before any optimizer state, and vLLM refuses to start unless its share of the device is free.

Without activations the peak is a lower bound, so a run it puts over the device's memory cannot fit: that is what
:func:`check_training_memory` refuses, with the numbers.

And a finished stage's memory, released before anything else loads (``--stage all`` runs every rung in one
process: :func:`release_trainer`, :func:`release_memory`). What keeps a rung's model and optimizer alive after its
``run_*`` returned (trl 1.16, accelerate 1.15):

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

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spatialladder.errors import ConfigError
from spatialladder.models.shape import ModelShape, model_shape

logger = logging.getLogger(__name__)

GIB = 2**30
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
HEAD_TILE_ROWS, HEAD_TILE_COLS, HEAD_TILE_BYTES = 4096, 32768, 6
"""trl's fused LM head works in tiles of at most 4,096 positions × 32,768 vocabulary entries (bf16 logits + fp32
work, ≈ 6 B each): the [L, V] logits are never whole (docs/benchmarks.md, "Real-shaped CPU tier")."""
TRL_VLLM_MEMORY_SHARE = 0.3
"""trl's default ``vllm_gpu_memory_utilization`` (colocated rollouts, ``trl/trainer/grpo_config.py``)."""
LORA_TARGETS = 7
"""Linear layers per decoder layer that the default LoRA targets (q, k, v, o, gate, up, down)."""

LaunchKind = Literal["single", "ddp", "zero2", "zero3", "fsdp"]
SHARDED: tuple[LaunchKind, ...] = ("zero3", "fsdp")


@dataclass(frozen=True)
class Launch:
    """How a run is spread over GPUs: what the states per GPU depend on."""

    kind: LaunchKind = "single"
    processes: int = 1

    def __str__(self) -> str:
        return self.kind if self.kind == "single" else f"{self.kind} × {self.processes} GPUs"

    @classmethod
    def from_env(cls) -> Launch:
        """This process's launch, from what ``accelerate launch`` exported (``accelerate/utils/launch.py``:
        ``ACCELERATE_USE_DEEPSPEED`` with the ZeRO stage or the DeepSpeed JSON, ``ACCELERATE_USE_FSDP``)."""
        from spatialladder.distributed import world_size

        processes = world_size()
        if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
            stage = os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE")
            config_file = os.environ.get("ACCELERATE_DEEPSPEED_CONFIG_FILE")
            if config_file and Path(config_file).is_file():
                stage = str(json.loads(Path(config_file).read_text())["zero_optimization"]["stage"])
            return cls("zero3" if stage == "3" else "zero2", processes)
        if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
            return cls("fsdp", processes)
        return cls("ddp" if processes > 1 else "single", processes)

    @classmethod
    def from_accelerate_config(cls, path: str | Path, processes: int | None = None) -> Launch:
        """The launch an accelerate config file describes (``configs/accelerate/*.yaml``); ``processes`` overrides
        its ``num_processes`` as ``--num_processes`` does."""
        import yaml

        path = Path(path)
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the accelerate config: {exc}") from None
        n = int(processes or config.get("num_processes") or 1)
        kind = str(config.get("distributed_type", "NO")).upper()
        if kind == "DEEPSPEED":
            ds = config.get("deepspeed_config") or {}
            stage = ds.get("zero_stage")
            if ds.get("deepspeed_config_file"):
                json_path = Path(ds["deepspeed_config_file"])
                json_path = json_path if json_path.is_file() else path.parent / json_path.name
                stage = json.loads(json_path.read_text())["zero_optimization"]["stage"]
            return cls("zero3" if int(stage or 0) == 3 else "zero2", n)
        if kind == "FSDP":
            return cls("fsdp", n)
        return cls("ddp" if n > 1 else "single", n)


@dataclass(frozen=True)
class Activations:
    """The largest loss pass: text positions and vision patches through the model with autograd."""

    tokens: int = 0
    patches: int = 0


@dataclass(frozen=True)
class TrainingSettings:
    """What in a stage config changes the memory: read from the resolved config (``cfg.model_dump()``)."""

    kind: str  # sft | grpo
    loaded_bytes: int  # per parameter, as loaded (model.dtype; auto: the checkpoint's)
    mixed_precision: bool  # trainer.bf16 / fp16: compute in 16 bits under autocast
    freeze_vision: bool = False
    lora_r: int | None = None
    beta: float = 0.0
    rollout: str = "hf"
    vllm_share: float = TRL_VLLM_MEMORY_SHARE
    vllm_sleep: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any], shape: ModelShape) -> TrainingSettings:
        model = config.get("model", {})
        trainer = config.get("trainer", {})
        dtype = model.get("dtype", "auto")
        lora = model.get("lora")
        use_cpu = bool(trainer.get("use_cpu"))
        mixed = not use_cpu and bool(trainer.get("fp16") or trainer.get("bf16", True))  # trl defaults bf16 on
        return cls(
            kind=str(config.get("kind", "sft")),
            loaded_bytes=DTYPE_BYTES.get(shape.dtype if dtype == "auto" else dtype, 2),
            mixed_precision=mixed,
            freeze_vision=bool(model.get("freeze_vision_tower", False)),
            lora_r=int(lora["r"]) if lora else None,
            beta=float(config.get("beta", 0.0) or 0.0),
            rollout=str(config.get("rollout", "hf")),
            vllm_share=float(trainer.get("vllm_gpu_memory_utilization", TRL_VLLM_MEMORY_SHARE)),
            vllm_sleep=bool(trainer.get("vllm_enable_sleep_mode", False)),
        )


@dataclass
class MemoryEstimate:
    """Items (label, bytes per GPU) of each phase; the peak is the largest phase's sum."""

    phases: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    complete: bool = False  # activations included (else the peak is a lower bound)

    def total(self, phase: str) -> float:
        return sum(b for _, b in self.phases[phase])

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=self.total)

    @property
    def peak(self) -> float:
        return self.total(self.peak_phase)

    @property
    def items(self) -> list[tuple[str, float]]:
        """The peak phase's items, labelled with the phase when there are several."""
        phase = self.peak_phase
        items = self.phases[phase]
        return items if len(self.phases) == 1 else [(f"[{phase}] {label}", b) for label, b in items]

    def describe(self) -> str:
        """One line: every phase's total and its largest items."""
        parts = []
        for phase, items in self.phases.items():
            top = sorted(items, key=lambda i: -i[1])[:4]
            shown = " + ".join(f"{label} {b / GIB:.1f}" for label, b in top if b > 0)
            parts.append(f"{phase} {self.total(phase) / GIB:.1f} GiB ({shown})")
        return "; ".join(parts)


def lora_params(shape: ModelShape, r: int) -> int:
    """Parameters of rank-``r`` adapters on the seven projections of every decoder layer (the default targets)."""
    q, kv = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    h, i = shape.hidden, shape.intermediate
    per_layer = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + i) + (i + h)
    return r * per_layer * shape.layers


def vision_params(shape: ModelShape) -> int:
    return shape.v_depth * shape.vision_block_params + shape.patch_embed_params + shape.merger_params


def estimate_training(
    shape: ModelShape,
    settings: TrainingSettings,
    launch: Launch,
    device_bytes: float,
    activations: Activations | None = None,
    held: Mapping[str, Any] | None = None,
) -> MemoryEstimate:
    """The per-GPU memory of a training run, phase by phase (see the module docstring).

    States without DeepSpeed: the weights as the trainer holds them when training starts (``held``, recorded by the
    GPU acceptance child, or derived: trainable 16-bit weights upcast to fp32 master weights in a mixed-precision
    single-process or DDP launch, ``train/sharding.py``), a gradient and AdamW's two moments per trainable parameter
    in the same dtype. DeepSpeed bf16: bf16 weights and gradients, fp32 master weights and moments (16 B/param),
    ZeRO-2 sharding the last three, ZeRO-3 all four, plus the gathered vocabulary matrix and two layers. FSDP2
    (accelerate upcasts trainable parameters to fp32): 16 B/param sharded, the same gathered working set.
    """
    n = shape.total_params
    wb = settings.loaded_bytes
    world = max(launch.processes, 1)
    if settings.lora_r:
        trainable = lora_params(shape, settings.lora_r)
        frozen = n
    else:
        trainable = n - (vision_params(shape) if settings.freeze_vision else 0)
        frozen = n - trainable
    master = settings.mixed_precision and wb == 2 and launch.kind in ("single", "ddp")
    tb = 4 if master else wb
    states: list[tuple[str, float]] = []
    moments: list[tuple[str, float]] = []
    grads: list[tuple[str, float]] = []
    if launch.kind in SHARDED:
        gathered = 2 * (shape.embedding_params + 2 * shape.text_layer_params)
        states.append((f"fp32 master weights of {trainable:,} trainable parameters / GPUs", 4 * trainable / world))
        if frozen:
            states.append((f"{frozen:,} frozen parameters as loaded / GPUs", wb * frozen / world))
        if launch.kind == "zero3":
            states.append(("bf16 working weights / GPUs", 2 * trainable / world))
        states.append(("gathered parameters (vocabulary matrix + 2 layers, bf16)", gathered))
        grads.append(("gradients / GPUs", (2 if launch.kind == "zero3" else 4) * trainable / world))
        moments.append(("AdamW m, v (fp32) / GPUs", 8 * trainable / world))
    elif launch.kind == "zero2":
        states.append(("bf16 weights (2 B/param)", 2 * n))
        states.append(("fp32 master weights of the trainable ones / GPUs", 4 * trainable / world))
        grads.append(("bf16 gradients / GPUs", 2 * trainable / world))
        moments.append(("AdamW m, v (fp32) / GPUs", 8 * trainable / world))
    elif held:
        dtypes = ", ".join(f"{k} {v:,}" for k, v in sorted(held["dtypes"].items()))
        states.append((f"weights as trained ({dtypes} parameters)", held["bytes"]))
        grads.append(("gradients of the trainable ones", held["trainable_bytes"]))
        moments.append(("AdamW m, v of the trainable ones (2 × their bytes)", 2 * held["trainable_bytes"]))
    else:
        how = "fp32 master weights" if master else f"{tb} B/param as loaded"
        states.append((f"{trainable:,} trainable parameters ({how})", tb * trainable))
        if frozen:
            states.append((f"{frozen:,} frozen parameters as loaded", wb * frozen))
        grads.append(("gradients of the trainable ones", tb * trainable))
        moments.append(("AdamW m, v of the trainable ones", 2 * tb * trainable))

    train = [*states, *grads, *moments]
    if not settings.lora_r:
        train.append(("fused LM head: fp32 gradient of the vocabulary matrix", 4 * shape.embedding_params))
    if activations is not None:
        if held:
            fp32 = held["dtypes"].get("float32", 0) * 2 > sum(held["dtypes"].values())
            ab = 4 if fp32 and launch.kind in ("single", "ddp") else 2
        else:
            ab = 4 if tb == 4 and launch.kind in ("single", "ddp") else 2  # fp32 weights keep an fp32 residual stream
        per_token = (shape.layers * shape.hidden + text_values_per_token(shape)) * ab
        per_patch = (shape.v_depth * shape.v_hidden + vision_values_per_patch(shape)) * ab
        tokens, patches = activations.tokens, activations.patches
        train.append((f"text activations: {tokens} positions × (layer checkpoints + one layer)", tokens * per_token))
        train.append((f"vision activations: {patches} patches × (block checkpoints + one block)", patches * per_patch))
        train.append(("fused LM head tiles", min(tokens, HEAD_TILE_ROWS) * HEAD_TILE_COLS * HEAD_TILE_BYTES))
    phases = {"train": train}
    if settings.kind == "grpo":
        shared: list[tuple[str, float]] = []
        if settings.beta > 0 and not settings.lora_r:
            per = world if launch.kind in SHARDED else 1
            shared.append(("KL reference model (as loaded)" + (" / GPUs" if per > 1 else ""), wb * n / per))
        pool = settings.vllm_share * device_bytes
        pool_label = f"colocated vLLM pool: {settings.vllm_share} × device memory"
        phases["train"] = train + shared + ([(pool_label, pool)] if settings.rollout == "vllm" else [])
        if settings.rollout == "vllm" and settings.vllm_sleep:
            phases["train"] = train + shared + [("colocated vLLM engine asleep (level 2: weights and cache freed)", 0)]
        generate = [*states, *moments, *shared]
        if settings.rollout == "vllm":
            generate.append((pool_label, pool))
            loaded = (
                [("weights as loaded / GPUs", wb * n / world)]
                if launch.kind in SHARDED
                else [("weights as loaded", 2 * n if launch.kind == "zero2" else wb * n)]
            )
            phases["vLLM start"] = [*loaded, *shared, (pool_label, pool)]
        elif master:
            generate.append(("bf16 autocast copies of the trainable weights (one generate call)", 2 * trainable))
        phases["generate"] = generate
    return MemoryEstimate(phases, complete=activations is not None)


def text_values_per_token(shape: ModelShape) -> int:
    """Values one decoder layer keeps per token for its backward (norm outputs, q, k, v, attention output, o,
    gate, up, their product): ≈ 45.8 k for the 3B."""
    return 4 * shape.hidden + 2 * shape.d_attn + 2 * shape.kv_heads * shape.head_dim + 3 * shape.intermediate


def vision_values_per_patch(shape: ModelShape) -> int:
    """The same for one vision block (two norms, qkv, attention output, proj, gate, up, product): ≈ 19.2 k."""
    return 7 * shape.v_hidden + 3 * shape.v_intermediate


def visible_device_bytes() -> int | None:
    """Total memory of this process's GPU (``LOCAL_RANK``'s under a launcher), None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    from spatialladder.distributed import local_rank

    index = local_rank() % torch.cuda.device_count()
    return int(torch.cuda.get_device_properties(index).total_memory)


def check_run_memory(cfg: Any, args: Any, source: str = "<config>") -> None:
    """The trainers' check before loading: ``cfg``'s stage on this process's GPU and launch, with the mixed precision
    trl resolved (``args``: its ``bf16`` default is on)."""
    config = cfg.model_dump()
    config["trainer"] = {**config["trainer"], "bf16": bool(args.bf16), "fp16": bool(args.fp16)}
    checked = check_training_memory(config, source)
    if checked:
        logger.info("%s: %s", source, checked)


def check_training_memory(
    config: Mapping[str, Any],
    source: str = "<config>",
    *,
    device_bytes: float | None = None,
    launch: Launch | None = None,
    shape: ModelShape | None = None,
) -> str | None:
    """Refuse, before anything is loaded, a stage config whose states alone exceed the GPU: one line with the
    phases and their largest items. Returns what was checked (None when it could not be: no GPU size known, or no
    ``config.json`` of the model at hand). ``device_bytes`` defaults to the visible GPU, ``launch`` to this
    process's, ``shape`` to the model's ``config.json``."""
    if device_bytes is None:
        device_bytes = visible_device_bytes()
    if device_bytes is None:
        return None
    name = config.get("model", {}).get("name_or_path", "")
    shape = shape or model_shape(name)
    if shape is None:
        logger.info(
            "memory check skipped: no dense Qwen-family config.json for %s here (a local folder or the Hub cache)",
            name,
        )
        return None
    launch = launch or Launch.from_env()
    estimate = estimate_training(shape, TrainingSettings.from_config(config, shape), launch, device_bytes)
    gib = device_bytes / GIB
    if estimate.peak > device_bytes:
        hint = (
            "trainer.vllm_enable_sleep_mode=true, a smaller trainer.vllm_gpu_memory_utilization, "
            if config.get("rollout") == "vllm"
            else ""
        )
        raise ConfigError(
            f"{source}: does not fit a {gib:.1f} GiB GPU ({launch}): before any activation, {estimate.describe()}; "
            f"use {hint}more GPUs under configs/accelerate/zero3.yaml, LoRA (model.lora) or a larger card"
        )
    spare = (device_bytes - estimate.total("train")) / GIB  # what the loss pass's activations can use
    line = f"memory: {estimate.peak / GIB:.1f} GiB of {gib:.1f} before activations ({launch}, {estimate.peak_phase})"
    if spare < 0.1 * gib:
        logger.warning("%s: only %.1f GiB of the GPU left for activations (%s)", source, spare, estimate.describe())
    return line


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
