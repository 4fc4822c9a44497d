"""GPU acceptance run: every GPU path of spatialladder on full-size Qwen2.5-VL-3B and Qwen3-VL-2B shapes, in ~10 min.

Usage (from the repository root, on a node with one or more CUDA GPUs; no downloads):

    python scripts/gpu_acceptance.py [--out outputs/gpu_acceptance] [--model DIR] [--only NAME ...]
                                     [--budget-scale 1.0] [--peak-tflops X] [--keep-outputs]

First a random Qwen2.5-VL with the published 3B shape at full depth (36 text layers, 32 vision blocks, 3.75 B
parameters, bf16 on disk: ``make-tiny-model --like qwen2.5-vl-3b``), a random Qwen3-VL with the published 2B shape
at full depth (28 text layers, 24 vision blocks, 2.13 B parameters: ``--like qwen3-vl-2b``, built also with
``--model``) and full-size inputs (ScanNet's 1296×968 frames) are written; ``--model DIR`` reuses a 3B folder. Then
each path of ``PATHS`` runs through the shipped config (``configs/train/stage2_spatial.yaml``, ``stage3_grpo.yaml``,
``configs/eval/vsibench.yaml``; for the Qwen3-VL path ``configs/train/qwen3vl_2b/stage3_grpo.yaml``: pixel budgets,
dtype, activation checkpointing and batch shapes as shipped, only steps and logging cut) in its own process, under
its own time budget, so one failure does not stop the rest: SFT with sdpa, flash-attention-2 and padding-free;
ZeRO-2 and ZeRO-3 under ``accelerate launch`` on every visible GPU; GRPO with ``rollout: hf`` on a video row, with
dynamic sampling, with ``rollout: vllm`` on image rows and on a video row; GRPO on the Qwen3-VL-2B with ``rollout:
hf`` on the video row (its timestamped frame groups, its positions and DeepStack in the loss pass; issue 19);
VSI-Bench eval with ``backend: hf`` (``share_video_prefix`` on and off, whose greedy steps must agree up to bf16's
precision: ``predictions_check``) and ``backend: vllm``, in one process and, with two GPUs or more, under
``accelerate launch`` on two (an engine per rank, each on its own GPU). A path whose package (flash-attn, deepspeed,
vllm) is missing, or that needs more GPUs than are visible, is reported as skipped with the reason.

For each path: pass/fail (a failure's last log lines), tokens/s, model FLOPs utilisation against the GPU's bf16
dense peak, and peak GPU memory against the estimate of ``docs/benchmarks.md`` (computed here by the same
arithmetic, on the shape of the path's own model: ``PathSpec.model``). The formulas are in ``docs/benchmarks.md``
("GPU acceptance run"). Written to ``--out``: ``report.json`` and ``report.md`` (the table), ``runs/<path>/child.log``
and the child records. Exit code 0 when every path that ran passed and every check held, 1 otherwise, 2 without CUDA
(one line) or with bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spatialladder.models.shape import ModelShape
from spatialladder.train.memory import (
    DTYPE_BYTES,
    Activations,
    Launch,
    TrainingSettings,
    estimate_training,
)

REPO = Path(__file__).resolve().parents[1]
CHILD = REPO / "scripts" / "gpu_acceptance_child.py"
GIB = 2**30
TOTAL_BUDGET_S = 9 * 60
"""The budgets below add up to at most this; the rest of the 10 minutes is for start-up and the report."""
LIKE = "qwen2.5-vl-3b"
QWEN3_VL_MODEL = "model_qwen3_vl"
MODELS = {"model": LIKE, QWEN3_VL_MODEL: "qwen3-vl-2b"}
"""setup.json entry → the published shape built there at full depth (``make-tiny-model --like``): the 3B that every
path but one runs on (``--model`` replaces it), and the Qwen3-VL-2B of ``grpo-qwen3-vl-video``, built in every setup
(2.13 B parameters: a second to initialise on the GPU, 4.3 GB to write). A path names its entry in ``PathSpec.model``;
its FLOPs, MFU and memory estimate use that model's shape."""

logger = logging.getLogger("gpu_acceptance")

# ----------------------------------------------------------------------------------------------------- the paths

SFT_STEPS = 4
GRPO_STEPS = 3
DYNAMIC_SAMPLING_STEPS = 2
GRPO_COMPLETION_TOKENS = 64
EVAL_NEW_TOKENS = 32
STAGE2 = "configs/train/stage2_spatial.yaml"
STAGE3 = "configs/train/stage3_grpo.yaml"
STAGE3_QWEN3_VL = "configs/train/qwen3vl_2b/stage3_grpo.yaml"
VSIBENCH = "configs/eval/vsibench.yaml"

TRAIN_COMMON = (
    "model.name_or_path={model}",
    "data.image_root={images}",
    "output_dir={run_dir}",
    "trainer.warmup_steps=0",
    "trainer.save_strategy=no",
    "trainer.report_to=none",
    "trainer.logging_steps=1",
    "trainer.disable_tqdm=true",
)
"""What every training path changes in the shipped config besides steps: its model, inputs, output, and no
warm-up (the steps run at the shipped learning rate), no mid-run checkpoints, reporting or progress bars."""
SFT_COMMON = (
    *TRAIN_COMMON,
    "data.files=[{spatial}]",
    f"trainer.max_steps={SFT_STEPS}",
    "trainer.gradient_accumulation_steps=1",
)
GRPO_COMMON = (*TRAIN_COMMON, f"sampling.max_completion_length={GRPO_COMPLETION_TOKENS}")
EVAL_COMMON = (
    "model.name_or_path={model}",
    "data_dir={vsibench}",
    "output_dir={run_dir}",
    f"generation.max_new_tokens={EVAL_NEW_TOKENS}",
)


@dataclass(frozen=True)
class PathSpec:
    """One path: which entry point, shipped config and overrides, what it needs, and its time budget."""

    name: str
    kind: str  # sft | grpo | eval
    config: str
    overrides: tuple[str, ...]
    budget_s: int
    what: str
    issue: str = "13"
    needs: tuple[str, ...] = ()  # importable packages
    launcher: str | None = None  # accelerate config: the path runs in one process per visible GPU
    gpus: int | None = None  # with a launcher: one process on each of the first ``gpus`` GPUs; skipped with fewer
    steps: int | None = None  # optimizer steps expected (training)
    model: str = "model"  # the setup.json entry (``MODELS``) that fills ``{model}``: the 3B, or the Qwen3-VL-2B


PATHS: tuple[PathSpec, ...] = (
    PathSpec(
        "sft-sdpa",
        "sft",
        STAGE2,
        (*SFT_COMMON, "model.attn_implementation=sdpa"),
        40,
        "stage-2 SFT, bf16, sdpa: 1 image / 8 views / 32-frame video at 100,352 px, batch 1",
        steps=SFT_STEPS,
    ),
    PathSpec(
        "sft-flash-attention-2",
        "sft",
        STAGE2,
        (*SFT_COMMON, "model.attn_implementation=flash_attention_2"),
        35,
        "the same with flash-attention-2",
        needs=("flash_attn",),
        steps=SFT_STEPS,
    ),
    PathSpec(
        "sft-padding-free",
        "sft",
        STAGE2,
        (
            *SFT_COMMON,
            "model.attn_implementation=flash_attention_2",
            "padding_free=true",
            "trainer.per_device_train_batch_size=3",
        ),
        40,
        "the three rows packed into one sequence per step (flash-attention varlen)",
        issue="14",
        needs=("flash_attn",),
        steps=SFT_STEPS,
    ),
    PathSpec(
        "sft-zero2",
        "sft",
        STAGE2,
        SFT_COMMON,
        40,
        "stage-2 SFT under DeepSpeed ZeRO-2 (configs/accelerate/zero2.yaml), one process per GPU",
        needs=("deepspeed",),
        launcher="configs/accelerate/zero2.yaml",
        steps=SFT_STEPS,
    ),
    PathSpec(
        "sft-zero3",
        "sft",
        STAGE2,
        SFT_COMMON,
        40,
        "stage-2 SFT under DeepSpeed ZeRO-3 with the official zero3.json, one process per GPU",
        needs=("deepspeed",),
        launcher="configs/accelerate/zero3.yaml",
        steps=SFT_STEPS,
    ),
    PathSpec(
        "grpo-hf-video",
        "grpo",
        STAGE3,
        (*GRPO_COMMON, "data.files=[{video}]", "rollout=hf", f"trainer.max_steps={GRPO_STEPS}"),
        40,
        f"GRPO, rollout hf: a 32-frame video row × 4 completions of {GRPO_COMPLETION_TOKENS} tokens, β 0.01",
        steps=GRPO_STEPS,
    ),
    PathSpec(
        "grpo-qwen3-vl-video",
        "grpo",
        STAGE3_QWEN3_VL,
        (*GRPO_COMMON, "data.files=[{video}]", "rollout=hf", f"trainer.max_steps={GRPO_STEPS}"),
        35,
        f"GRPO on the Qwen3-VL-2B, rollout hf: the 32-frame video row at 131,072 px (16 timestamped frame groups) × "
        f"4 completions of {GRPO_COMPLETION_TOKENS} tokens, β 0.01",
        issue="19",
        steps=GRPO_STEPS,
        model=QWEN3_VL_MODEL,
    ),
    PathSpec(
        "grpo-dynamic-sampling",
        "grpo",
        STAGE3,
        (
            *GRPO_COMMON,
            "data.files=[{images_only}]",
            "rollout=hf",
            "dynamic_sampling.enabled=true",
            "dynamic_sampling.max_draws=2",
            f"trainer.max_steps={DYNAMIC_SAMPLING_STEPS}",
        ),
        30,
        "GRPO with dynamic sampling (random weights: every group is zero-variance, so every draw is spent)",
        issue="14",
        steps=DYNAMIC_SAMPLING_STEPS,
    ),
    PathSpec(
        "grpo-vllm-images",
        "grpo",
        STAGE3,
        (*GRPO_COMMON, "data.files=[{images_only}]", "rollout=vllm", f"trainer.max_steps={GRPO_STEPS}"),
        35,
        "GRPO, rollout vllm (colocated): single-image and 8-view rows",
        needs=("vllm",),
        steps=GRPO_STEPS,
    ),
    PathSpec(
        "grpo-vllm-video",
        "grpo",
        STAGE3,
        (*GRPO_COMMON, "data.files=[{video}]", "rollout=vllm", f"trainer.max_steps={GRPO_STEPS}"),
        40,
        "GRPO, rollout vllm: the 32-frame video row",
        issue="14",
        needs=("vllm",),
        steps=GRPO_STEPS,
    ),
    PathSpec(
        "eval-hf-shared",
        "eval",
        VSIBENCH,
        (*EVAL_COMMON, "backend=hf", "share_video_prefix=true"),
        25,
        f"VSI-Bench, backend hf, one encoding per video: 2 videos × 3 questions, 32 frames at 401,408 px, "
        f"{EVAL_NEW_TOKENS} new tokens",
    ),
    PathSpec(
        "eval-hf-unshared",
        "eval",
        VSIBENCH,
        (*EVAL_COMMON, "backend=hf", "share_video_prefix=false"),
        30,
        "the same, every question encoding its video (greedy steps compared with eval-hf-shared's)",
        issue="14",
    ),
    PathSpec(
        "eval-vllm",
        "eval",
        VSIBENCH,
        (*EVAL_COMMON, "backend=vllm"),
        35,
        "the same questions through backend vllm (prefix caching on)",
        needs=("vllm",),
    ),
    PathSpec(
        "eval-vllm-2gpu",
        "eval",
        VSIBENCH,
        (*EVAL_COMMON, "backend=vllm"),
        30,  # after eval-vllm: the weights are in the page cache, rank 0's engine finds its compile cache
        "the same under accelerate launch on 2 GPUs: a vLLM engine per rank on its own GPU, one video each",
        issue="18",
        needs=("vllm",),
        launcher="configs/accelerate/ddp.yaml",
        gpus=2,
    ),
)
SETUP_BUDGET_S = 45
"""Writing the full-size inputs, the full-depth random 3B (``--model`` skips it) and Qwen3-VL-2B."""
SHARED_PAIR = ("eval-hf-shared", "eval-hf-unshared")
OPTIONAL_PACKAGES = ("flash_attn", "deepspeed", "vllm")
INSTALL_HINT = {
    "flash_attn": "pip install -e '.[flash-attn]'",
    "deepspeed": "pip install -e '.[deepspeed]'",
    "vllm": "pip install -e '.[vllm]'",
}

# ------------------------------------------------------------------------------------------- model arithmetic


TRAIN_FACTOR = 3
"""Forward + backward = 3 forwards (the backward computes gradients of inputs and of weights); recomputation under
activation checkpointing is not counted (model FLOPs, not hardware FLOPs)."""


def text_row_flops(shape: ModelShape, new: int, cached: int) -> float:
    """Forward FLOPs of ``new`` tokens after ``cached`` ones in one row: 2 per parameter per token, plus causal
    attention, 4·d_attn per (query, key) pair per softmax-attention layer (QKᵀ and AV) over ``new·cached +
    new·(new+1)/2`` pairs. Qwen3.5's Gated DeltaNet layers (``linear_layers``) have no pairwise term: their state
    update is linear in the tokens and left out, like the vision tower's under vLLM."""
    pairs = new * cached + new * (new + 1) / 2
    return 2.0 * shape.n_text * new + 4.0 * (shape.layers - shape.linear_layers) * shape.d_attn * pairs


def vision_item_flops(shape: ModelShape, t: int, h: int, w: int) -> float:
    """Forward FLOPs of one image or video of grid ``t×h×w`` patches: 2 per parameter per patch, plus attention
    (4·width per pair): full-attention blocks over each temporal slice's h·w patches, the others within windows of
    at most ``window_patches``² merged units (edge windows smaller, counted exactly). Qwen3-VL / Qwen3.5 towers have
    no windows: every block is full attention."""
    patches = t * h * w
    side = shape.window_patches
    rows, cols = h // shape.merge, w // shape.merge
    window_pairs = 0
    for i in range(math.ceil(rows / side) if side else 0):
        for j in range(math.ceil(cols / side)):
            size = min(side, rows - i * side) * min(side, cols - j * side) * shape.merge**2
            window_pairs += size * size
    n_full = len(shape.full_blocks)
    pairs = t * (n_full * (h * w) ** 2 + (shape.v_depth - n_full) * window_pairs)
    return 2.0 * shape.n_vision_patch * patches + 4.0 * shape.v_hidden * pairs


def lm_record_flops(shape: ModelShape, record: dict[str, Any]) -> float:
    factor = TRAIN_FACTOR if record["grad"] else 1
    return factor * sum(text_row_flops(shape, new, cached) for new, cached in record["rows"])


def vision_record_flops(shape: ModelShape, record: dict[str, Any]) -> float:
    factor = TRAIN_FACTOR if record["grad"] else 1
    return factor * sum(vision_item_flops(shape, *grid) for grid in record["grids"])


def vllm_request_flops(shape: ModelShape, request: dict[str, Any]) -> float:
    """One vLLM request: the prompt's uncached part (prefill after the prefix-cache hits), each completion decoded
    after the whole prompt, and the vision encoder on the placeholders it had to encode (each merged token is
    ``merge²`` patches; vLLM does not return the grids, so window/full attention in the tower is left out)."""
    prompt, cached = request["prompt"], request["cached"]
    flops = text_row_flops(shape, prompt - cached, cached)
    flops += sum(text_row_flops(shape, g, prompt) for g in request["completions"])
    return flops + 2.0 * shape.n_vision_patch * shape.merge**2 * request["vision_tokens"]


# --------------------------------------------------------------------------------------------------- GPU peaks

BF16_DENSE_PEAK_TFLOPS: tuple[tuple[tuple[str, ...], float, str], ...] = (
    (("gh200",), 989.0, "NVIDIA GH200 datasheet: FP16/BF16 1,979 TFLOPS with sparsity"),
    (("h200", "nvl"), 835.5, "NVIDIA H200 product page: H200 NVL BF16 1,671 TFLOPS with sparsity"),
    (("h200",), 989.5, "NVIDIA H200 product page: H200 SXM BF16 1,979 TFLOPS with sparsity"),
    (("h100", "nvl"), 835.5, "NVIDIA H100 product page: H100 NVL BF16 1,671 TFLOPS with sparsity"),
    (("h100", "pcie"), 756.5, "NVIDIA H100 datasheet: H100 PCIe BF16 1,513 TFLOPS with sparsity"),
    (("h100",), 989.5, "NVIDIA H100 product page: H100 SXM BF16 1,979 TFLOPS with sparsity"),
    (("b200",), 2250.0, "NVIDIA HGX B200: FP16/BF16 36 PFLOPS for 8 GPUs with sparsity"),
    (("a100",), 312.0, "NVIDIA A100 datasheet: BF16 312 TFLOPS (624 with sparsity)"),
    (("l40s",), 362.05, "NVIDIA L40S datasheet: BF16 362.05 TFLOPS (733 with sparsity)"),
    (("l4",), 121.0, "NVIDIA L4 datasheet: BF16 242 TFLOPS with sparsity"),
    (("a10",), 125.0, "NVIDIA A10 datasheet: BF16 125 TFLOPS (250 with sparsity)"),
)
"""bf16 dense (no 2:4 sparsity) tensor-core peaks per GPU, matched on whole words of ``torch.cuda.get_device_name``
("NVIDIA H100 80GB HBM3" is the SXM part; "NVIDIA A10G" matches nothing: its peak is not published). The same
figures as torchtitan's ``torchtitan/tools/utils.py`` ``get_peak_flops`` where both list a GPU."""


def bf16_peak_tflops(device_name: str) -> tuple[float | None, str]:
    """(peak TFLOP/s, source) for a device name; (None, why) when the GPU is not in the table."""
    words = set(device_name.lower().replace("-", " ").replace("_", " ").split())
    for pattern, tflops, source in BF16_DENSE_PEAK_TFLOPS:
        if all(p in words for p in pattern):
            return tflops, source
    return None, f"{device_name!r} is not in the bf16 peak table (pass --peak-tflops)"


def mfu(flops: float, seconds: float, gpus: int, peak_tflops: float | None) -> float | None:
    """Model FLOPs utilisation: model FLOPs / (seconds × GPUs × bf16 dense peak)."""
    if not peak_tflops or seconds <= 0 or gpus <= 0:
        return None
    return flops / (seconds * gpus * peak_tflops * 1e12)


# ------------------------------------------------------------------------------------------- memory estimate

VLLM_MEMORY_SHARE = 0.9
"""vLLM's default ``gpu_memory_utilization`` (the eval backend passes none)."""


def path_launch(spec: PathSpec, world: int) -> Launch:
    """The launch a path runs under: its accelerate config's, or one process."""
    if spec.launcher:
        return Launch("zero3" if "zero3" in spec.launcher else "zero2", world)
    return Launch("single" if world == 1 else "ddp", world)


def estimate_peak(
    spec: PathSpec,
    shape: ModelShape,
    config: dict[str, Any],
    world: int,
    records: dict[str, list[dict[str, Any]]],
    device_total: int,
    params: dict[str, Any] | None = None,
) -> tuple[float, list[tuple[str, float]]]:
    """Predicted peak of ``torch.cuda.max_memory_allocated`` per GPU (tensors only: no CUDA context, no allocator
    cache), item by item: training paths by the package's estimate (``spatialladder/train/memory.py``, the one the
    trainers check before loading) with the activation sizes of the largest loss pass the child recorded and the
    weights as it recorded them when training started (``params``). For ``eval-vllm`` it predicts the device-wide
    use (vLLM's engine runs in its own process)."""
    n = shape.total_params
    wb = DTYPE_BYTES.get(shape.dtype if config["model"]["dtype"] == "auto" else config["model"]["dtype"], 2)
    items: list[tuple[str, float]] = []
    if spec.kind == "eval":
        if config.get("backend") == "vllm":
            return VLLM_MEMORY_SHARE * device_total, [("vLLM pool: gpu_memory_utilization × device memory", 0.0)]
        items.append(("weights", n * wb))
        kv_per_token = 2 * shape.layers * shape.kv_heads * shape.head_dim * wb
        prefill = max(
            (
                kv_per_token * sum(new + cached for new, cached in r["rows"])
                + r["shape"][0] * r["shape"][1] * 2 * shape.intermediate * wb
                for r in records["lm"]
            ),
            default=0,
        )
        tower = max((sum(t * h * w for t, h, w in r["grids"]) for r in records["vision"]), default=0)
        tower_bytes = tower * (4 * shape.v_hidden + 2 * shape.v_intermediate) * wb
        items.append(
            ("largest of: KV cache + MLP of one prefill batch / one vision forward", max(prefill, tower_bytes))
        )
        return sum(b for _, b in items), items
    grad_lm = [r for r in records["lm"] if r["grad"]]
    tokens = max((r["shape"][0] * r["shape"][1] for r in grad_lm), default=0)
    patches = max((sum(t * h * w for t, h, w in r["grids"]) for r in records["vision"] if r["grad"]), default=0)
    settings = TrainingSettings.from_config({**config, "kind": spec.kind}, shape)
    estimate = estimate_training(
        shape, settings, path_launch(spec, world), device_total, Activations(tokens, patches), held=params
    )
    return estimate.peak, estimate.items


NOMINAL_ACTIVATIONS: dict[str, Activations] = {
    **dict.fromkeys(("sft-sdpa", "sft-flash-attention-2", "sft-zero2", "sft-zero3"), Activations(1_980, 7_488)),
    "sft-padding-free": Activations(3_255, 468 + 8 * 468 + 7_488),
    **dict.fromkeys(("grpo-hf-video", "grpo-vllm-video"), Activations(4 * 2_044, 4 * 7_488)),
    **dict.fromkeys(("grpo-dynamic-sampling", "grpo-vllm-images"), Activations(4 * 1_150, 4 * 3_744)),
    "grpo-qwen3-vl-video": Activations(4 * 2_210, 4 * 7_488),
}
"""The largest loss pass of each training path as planned (positions, vision patches): at 100,352 px a 1296×968
frame is 18×26 patches, a 32-frame video row 16×18×26 = 7,488 patches and ≈ 1,980 positions, an 8-view row 3,744
patches and ≈ 1,150 positions; a GRPO step passes its 4 completions (64 tokens each) together; padding-free packs
the image, 8-view and video rows (3,255 positions). What ``--predict`` and docs/benchmarks.md's table use.

``grpo-qwen3-vl-video`` (Qwen3-VL-2B, its shape): at 131,072 px a 1296×968 frame is 288×416 px, 18×26 patches of
16 px (9×13 = 117 merged tokens), so the 32-frame row is again 16×18×26 = 7,488 patches. Its positions, as
``Qwen3VLProcessor.replace_video_token`` makes them (transformers 5.24 ``processing_qwen3_vl.py`` 75-103): per
temporal patch a ``<t seconds>`` stamp, ``<|vision_start|>``, 117 ``<|video_pad|>`` and ``<|vision_end|>``, all
inside the template's own ``<|vision_start|>…<|vision_end|>``. The row carries its capture times (frames 0, 10, …,
310 of the ScanNet clock, 24 fps: ``spatialladder/testing/full_size.py``), so patch k (frames 20k, 20k + 10) is
stamped (20k + 5) / 24 s, printed ``.1f``: ``<0.2 seconds>`` … ``<12.7 seconds>``. Qwen's pre-tokenizer
(``PRETOKENIZE_REGEX``, ``tokenization_qwen2.py``) splits digits one by one, so a stamp is ``<``, its digits, ``.``,
one decimal, `` seconds``, ``>``: 6 tokens below 10 s (k ≤ 11), 7 from 10 s, 100 in all. The video: 2 + 16 × (117 +
2) + 100 = 2,006 positions; the stage-3 user text and the turns (Qwen3-VL's template adds no system turn) ≈ 140 (131
pre-tokens of the text + 8); with the 64-token completion ≈ 2,210 per completion."""
CARDS = {"80 GB card": 79.2 * 2**30, "141 GB card": 139.8 * 2**30}
"""``torch.cuda.get_device_properties(0).total_memory`` of an H100 80GB HBM3 and an H200 (141 GB)."""


def resolved_config(spec: PathSpec) -> dict[str, Any]:
    """The path's shipped config with its overrides, as the child resolves it (placeholders filled with stand-ins)."""
    from spatialladder.config.load import load_config

    stand_ins = {k: f"<{k}>" for k in ("model", "images", "run_dir", "spatial", "video", "images_only", "vsibench")}
    return load_config(REPO / spec.config, [render(o, stand_ins) for o in spec.overrides]).model_dump()


def published_shapes() -> dict[str, ModelShape]:
    """The shape of each ``MODELS`` entry from its published ``config.json`` (no GPU, no weights)."""
    from spatialladder.testing.qwen_published import published_config

    return {key: ModelShape.from_config(published_config(like)) for key, like in MODELS.items()}


def predicted_peaks(
    shapes: dict[str, ModelShape], cards: dict[str, float] = CARDS, world: int = 1
) -> dict[str, dict[str, float]]:
    """Each training path's predicted peak per GPU on each card with its own model's shape (``shapes``: setup.json
    entry → shape), one process (ZeRO paths: ``world`` processes)."""
    table = {}
    for spec in PATHS:
        if spec.name not in NOMINAL_ACTIVATIONS or spec.model not in shapes:
            continue
        shape = shapes[spec.model]
        settings = TrainingSettings.from_config(resolved_config(spec), shape)
        launch = path_launch(spec, world if spec.launcher else 1)
        table[spec.name] = {
            card: estimate_training(shape, settings, launch, size, NOMINAL_ACTIVATIONS[spec.name]).peak
            for card, size in cards.items()
        }
    return table


def predicted_markdown(shapes: dict[str, ModelShape]) -> str:
    """The docs' predicted-peaks table (GiB)."""
    lines = ["| path | " + " | ".join(CARDS) + " |", "|---|" + "---:|" * len(CARDS)]
    for name, peaks in predicted_peaks(shapes).items():
        lines.append(f"| `{name}` | " + " | ".join(f"{peaks[c] / 2**30:.1f}" for c in CARDS) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- plan and launch


@dataclass
class GpuEnv:
    cuda: bool
    count: int = 0
    name: str = ""
    total_memory: int = 0
    installed: dict[str, bool] = field(default_factory=dict)
    torch_cuda: str | None = None


@dataclass
class Planned:
    spec: PathSpec
    run: bool
    reason: str
    command: list[str]
    env: dict[str, str]
    run_dir: Path
    budget_s: float
    processes: int


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}`` from ``values`` with each path JSON-quoted, which YAML reads back as the same string."""
    return template.format(**{k: json.dumps(v) for k, v in values.items()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan_paths(
    env: GpuEnv, inputs: dict[str, str], out: Path, only: list[str] | None = None, budget_scale: float = 1.0
) -> list[Planned]:
    """What runs, how, with which budget; a path whose package or model (``inputs[spec.model]``) is missing or that
    is not asked for is skipped, with why. ``{model}`` in a path's overrides is its own model's folder.

    Single-process paths see only the first visible GPU (with more, transformers' Trainer would wrap the model in
    DataParallel, which the trainers refuse: ``trl_args.check_one_gpu_per_process``); ZeRO paths start one process
    per visible GPU through ``accelerate launch`` (one GPU: one process, which still runs the DeepSpeed engine); a
    path with ``gpus`` starts one process on each of the first ``gpus`` visible GPUs, and is skipped with fewer.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpu_ids = [g.strip() for g in visible.split(",")] if visible else [str(i) for i in range(max(env.count, 1))]
    first_gpu = gpu_ids[0]
    planned = []
    for spec in PATHS:
        run_dir = out / "runs" / spec.name
        values = {**inputs, "model": inputs.get(spec.model, ""), "run_dir": str(run_dir)}
        overrides = [render(o, values) for o in spec.overrides]
        child = [str(CHILD), "run", spec.kind, spec.config, str(run_dir / "probe"), *overrides]
        missing = [p for p in spec.needs if not env.installed.get(p)]
        processes = (spec.gpus or max(env.count, 1)) if spec.launcher else 1
        base_env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        base_env["TOKENIZERS_PARALLELISM"] = "false"
        if spec.launcher:
            launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", spec.launcher]
            command = [*launch, "--num_processes", str(processes), "--main_process_port", str(free_port()), *child]
            if spec.gpus:
                base_env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids[: spec.gpus])
        else:
            command = [sys.executable, *child]
            base_env["CUDA_VISIBLE_DEVICES"] = first_gpu
        if only is not None and spec.name not in only:
            run, reason = False, "skipped: not in --only"
        elif spec.model not in inputs:
            run, reason = False, f"skipped: no {spec.model} in setup.json"
        elif missing:
            run = False
            reason = f"skipped: {', '.join(missing)} not installed ({'; '.join(INSTALL_HINT[m] for m in missing)})"
        elif spec.gpus and env.count < spec.gpus:
            run, reason = False, f"skipped: needs {spec.gpus} GPUs, {env.count} visible"
        else:
            run, reason = True, f"{processes} process{'es' if processes > 1 else ''}"
        planned.append(Planned(spec, run, reason, command, base_env, run_dir, spec.budget_s * budget_scale, processes))
    return planned


@dataclass
class Finished:
    returncode: int | None
    wall_s: float
    timed_out: bool


def run_child(command: list[str], env: dict[str, str], log: Path, budget_s: float) -> Finished:
    """Run ``command`` in its own session, output to ``log``; past the budget its whole process group (the
    launcher, its workers, a vLLM engine) gets SIGTERM, then SIGKILL after 15 s. Anything of the group still
    alive after a normal exit (an orphaned engine process) is killed too, so the next path finds the GPU free."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        timed_out = False
        try:
            proc.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)
    return Finished(proc.returncode, time.perf_counter() - start, timed_out)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def log_tail(log: Path, lines: int = 25) -> str:
    if not log.is_file():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# ----------------------------------------------------------------------------------------------- results


@dataclass
class PathResult:
    name: str
    issue: str
    what: str
    status: str  # pass | fail | timeout | skipped
    budget_s: float
    reason: str = ""
    error: str | None = None
    log_tail: str | None = None
    wall_s: float | None = None
    processes: int = 1
    timed_s: float | None = None
    timed: str = ""
    tokens: int | None = None
    tokens_per_s: float | None = None
    questions_per_s: float | None = None
    flops: float | None = None
    mfu: float | None = None
    peak_bytes: float | None = None
    peak_measured_as: str = ""
    estimate_bytes: float | None = None
    estimate_items: list[tuple[str, float]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_over_estimate(self) -> float | None:
        if self.peak_bytes is None or not self.estimate_bytes:
            return None
        return self.peak_bytes / self.estimate_bytes


def read_ranks(run_dir: Path) -> list[dict[str, Any]]:
    """The child records of every process, by rank."""
    ranks = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(run_dir.glob("probe.rank*.json"))]
    return sorted(ranks, key=lambda r: r["rank"])


def steady_steps(step_ends: list[list[float]]) -> tuple[set[int], float] | None:
    """Steps after the first (compilation, allocator and kernel warm-up) and the seconds they took, from
    ``on_train_begin`` / ``on_step_end`` times; the one step when only one ran; None when none ended."""
    ends = {int(s): t for s, t in step_ends}
    done = sorted(s for s in ends if s > 0)
    if not done:
        return None
    first = 2 if len(done) > 1 else 1
    if first - 1 not in ends:
        return None
    return set(range(first, done[-1] + 1)), ends[done[-1]] - ends[first - 1]


def expectations(spec: PathSpec, ranks: list[dict[str, Any]], expected_questions: int | None) -> list[str]:
    """What a pass needs beyond exit code 0, each a reason it failed: the steps ran, and the path did what it is
    there to show (packed rows, a video with autograd in the loss pass: through the vision tower and, for Qwen3-VL,
    into the text model's vision positions; vLLM generating, every question answered)."""
    problems = []
    main = ranks[0]
    facts = main.get("facts", {})
    config = main.get("config", {})
    if spec.steps is not None and facts.get("global_step") != spec.steps:
        problems.append(f"ran {facts.get('global_step')} optimizer steps, expected {spec.steps}")
    if config.get("padding_free") and not any(r["shape"][0] == 1 and len(r["rows"]) > 1 for r in main["lm"]):
        problems.append("padding_free: no forward saw packed rows")
    video_rows = spec.kind == "grpo" and (facts.get("rows") or {}).get("video")
    if video_rows and not any(r["grad"] and any(g[0] > 1 for g in r["grids"]) for r in main["vision"]):
        problems.append("no vision forward with autograd on a video grid: the video missed the loss pass")
    deepstack = any("visual" in r for r in main["lm"])  # Qwen3-VL: the text model records its vision positions
    if video_rows and deepstack and not any(r["grad"] and r.get("visual") for r in main["lm"]):
        problems.append("no text-model forward with autograd received vision features: the video missed the loss pass")
    uses_vllm = config.get("rollout") == "vllm" or config.get("backend") == "vllm"
    if uses_vllm and not any(call["requests"] for call in main["vllm"]):
        problems.append("vllm was configured but LLM.generate returned nothing")
    if spec.kind == "eval" and uses_vllm and len(ranks) > 1:
        # each rank's engine on its own GPU: every rank generated (its own videos), and vLLM's pool (0.9 of the
        # device) shows on the GPU of each rank's LOCAL_RANK, which that rank's memory sampler watches
        idle = [r["rank"] for r in ranks if not any(call["requests"] for call in r["vllm"])]
        if idle:
            problems.append(f"rank(s) {idle}: their vLLM engine generated nothing")
        empty = [
            r["rank"] for r in ranks if r.get("cuda") and r["cuda"]["device_used_peak"] < r["cuda"]["device_total"] / 2
        ]
        if empty:
            problems.append(f"rank(s) {empty}: less than half of their own GPU used; was their engine elsewhere?")
    if spec.kind == "eval" and expected_questions is not None:
        answered = (facts.get("results") or {}).get("n")
        if answered != expected_questions:
            problems.append(f"scored {answered} questions, expected {expected_questions}")
    dynamic = (config.get("dynamic_sampling") or {}).get("enabled")
    log = facts.get("log_history") or []
    if dynamic and not any("dynamic_sampling/prompts_drawn" in row for row in log):
        problems.append("dynamic_sampling enabled but no dynamic_sampling/prompts_drawn in the log")
    return problems


def summarise(
    planned: Planned,
    finished: Finished | None,
    ranks: list[dict[str, Any]],
    shape: ModelShape | None,
    peak_tflops: float | None,
    device_total: int,
    expected_questions: int | None = None,
) -> PathResult:
    """One path's row: status, timed span, tokens/s, model FLOPs and MFU, peak memory against the estimate."""
    spec = planned.spec
    result = PathResult(spec.name, spec.issue, spec.what, "skipped", planned.budget_s, reason=planned.reason)
    if not planned.run or finished is None:
        return result
    result.wall_s, result.processes = finished.wall_s, planned.processes
    log = planned.run_dir / "child.log"
    errors = [r["error"] for r in ranks if r.get("error")]
    if finished.timed_out:
        result.status = "timeout"
        result.error = f"stopped after its budget of {planned.budget_s:.0f} s"
    elif not ranks:
        result.status = "fail"
        result.error = f"exit code {finished.returncode} and no child record (see the log tail)"
    elif finished.returncode != 0 or errors:
        result.status = "fail"
        result.error = errors[0] if errors else f"exit code {finished.returncode}"
    else:
        problems = expectations(spec, ranks, expected_questions)
        result.status = "fail" if problems else "pass"
        result.error = "; ".join(problems) or None
    if result.status != "pass":
        result.log_tail = log_tail(log)
    if ranks:
        measure(result, spec, ranks, shape, peak_tflops, device_total)
    return result


def measure(
    result: PathResult,
    spec: PathSpec,
    ranks: list[dict[str, Any]],
    shape: ModelShape | None,
    peak_tflops: float | None,
    device_total: int,
) -> None:
    """Fill the measured columns from the child records (also for a failed path, as far as it got)."""
    main = ranks[0]
    result.facts = {k: v for k, v in main.get("facts", {}).items() if k != "log_history"}
    cuda = [r["cuda"] for r in ranks if r.get("cuda")]
    vllm_eval = spec.kind == "eval" and main.get("config", {}).get("backend") == "vllm"
    if cuda:
        key = "device_used_peak" if vllm_eval else "max_memory_allocated"
        result.peak_bytes = max(c[key] for c in cuda)
        result.peak_measured_as = "device used, sampled" if vllm_eval else "torch.cuda.max_memory_allocated"
        device_total = device_total or max(c["device_total"] for c in cuda)
    if shape is None:
        return
    selected = []  # (rank records, steps kept or None for all, seconds)
    if spec.kind == "eval":  # every rank from its first model forward (or vLLM call) to its last
        for rank in ranks:
            start, end = rank.get("work_window") or [None, None]
            if start is not None and end is not None:
                selected.append((rank, None, end - start))
        if selected:
            result.timed = "first model forward to last"
    else:
        for rank in ranks:
            steady = steady_steps(rank.get("step_ends", []))
            if steady is not None:
                selected.append((rank, steady[0], steady[1]))
        if selected:
            kept = sorted(selected[0][1])
            result.timed = f"steps {kept[0]}-{kept[-1]} of {spec.steps}" if len(kept) > 1 else f"step {kept[0]}"
    if not selected:
        return
    flops = 0.0
    tokens = 0
    for rank, steps, _ in selected:

        def keep(record: dict[str, Any], steps: set[int] | None = steps) -> bool:
            return steps is None or record["step"] in steps

        flops += sum(lm_record_flops(shape, r) for r in rank["lm"] if keep(r))
        flops += sum(vision_record_flops(shape, r) for r in rank["vision"] if keep(r))
        flops += sum(vllm_request_flops(shape, q) for c in rank["vllm"] if keep(c) for q in c["requests"])
        if spec.kind == "eval":
            tokens += sum(new for r in rank["lm"] for new, _ in r["rows"])
            tokens += sum(
                q["prompt"] - q["cached"] + sum(q["completions"]) for c in rank["vllm"] for q in c["requests"]
            )
        else:
            tokens += sum(new for r in rank["lm"] if r["grad"] and keep(r) for new, _ in r["rows"])
    seconds = max(s for _, _, s in selected)
    result.timed_s, result.flops, result.tokens = seconds, flops, tokens
    if seconds > 0:
        result.tokens_per_s = tokens / seconds
        result.mfu = mfu(flops, seconds, len(selected), peak_tflops)
        answered = (result.facts.get("results") or {}).get("n")
        if spec.kind == "eval" and answered:
            result.questions_per_s = answered / seconds
    if "config" in main:
        records = {"lm": main["lm"], "vision": main["vision"]}
        result.estimate_bytes, result.estimate_items = estimate_peak(
            spec, shape, main["config"], len(ranks), records, device_total, main.get("facts", {}).get("params")
        )


def read_predictions(run_dir: Path) -> dict[str, str]:
    """``id -> prediction`` of an eval run folder (none when it wrote nothing)."""
    from spatialladder.eval import sharding

    return {i: r["prediction"] for i, r in sharding.read_predictions(run_dir / sharding.PREDICTIONS).items()}


def read_generation(run_dir: Path) -> dict[str, Any] | None:
    """The generation steps an HF eval run's child recorded (``generation``: dtype, top_k, per question its steps),
    merged over ranks; None when no rank recorded any."""
    merged: dict[str, Any] | None = None
    for rank in read_ranks(run_dir):
        recorded = rank.get("generation")
        if not recorded:
            continue
        if merged is None:
            merged = {k: recorded.get(k) for k in ("dtype", "layers", "top_k")} | {"questions": {}}
        merged["questions"].update(recorded.get("questions") or {})
    return merged


SIGNIFICANT_BITS = {"bfloat16": 8, "float16": 11, "float32": 24}
"""Significand bits (the stored mantissa and the implicit leading one) of the dtypes an eval model computes in."""
FINEST_ROUNDOFF = 2.0**-16
"""The finest unit roundoff a comparison asks for. In fp32 the rounding of each op's output no longer dominates:
dot products of thousands of terms summed in other orders differ by many fp32 roundings (the tiny model's two
layers, fp32 on CPU: 4.7·2^-24·m between the paths), so equality is asked to 16 bits, 256 times finer than bf16."""


def score_tolerance(dtype: str, magnitude: float, layers: int) -> float:
    """How far apart two correct computations of one greedy step's scores may lie: ``2·u·(1 + √L)·m``, with u =
    2^-p the unit roundoff of the model's p-bit significand (bf16: p = 8, u = 2^-8 ≈ 0.0039), L the text layers and m
    the step's largest score magnitude. For the 3B (L = 36) in bf16: 14·u·m ≈ 0.055·m, 0.22 at m = 4.

    Why: every op of a bf16 model rounds its output to 8 significant bits, relative error up to u. The two eval paths
    compute the same function in other orders (a prefix prefilled alone and continued from its cache, or the whole
    prompt in a padded batch: other kernels, shapes and reduction orders), so each layer's output differs between
    them by roundings of relative size ~u, which add up along the residual stream like a random walk: ~u·√L relative
    in the final hidden state, carried into the scores at their scale m; on top, each path rounds the logit itself
    (half a spacing, ≤ u·m). The 2 counts both paths. Measured on CPU (bf16, the 3B's widths, random weights, six
    VSI-Bench-like questions × 16 steps): at most 1.9·u·m apart with 1 layer (formula: 4·u·m) and 6.0·u·m with 36
    (formula: 14·u·m), while another question's or video's first-step scores differ by ≈ 20·u·m or more; the random 3B's
    leading scores are ≈ 4 (0.02-std weights on a normalised 2,048-wide state: logits ≈ N(0, 0.9²)) and its top-2
    gaps ≈ 0.1 typically, so ties within the tolerance are common. u is at least :data:`FINEST_ROUNDOFF`.

    With every score within ``tol``, two paths can choose different tokens only at a step where one of their top-2
    gaps is at most ``tol``: if path A prefers x to y by g_A and path B y to x by g_B, then g_A + g_B ≤ 2·tol, and
    each path's top-2 gap is at most its own g."""
    u = max(2.0 ** -SIGNIFICANT_BITS.get(dtype, SIGNIFICANT_BITS["bfloat16"]), FINEST_ROUNDOFF)
    return 2.0 * u * (1.0 + math.sqrt(layers)) * magnitude


def score_difference(top_a: list[list[float]], top_b: list[list[float]]) -> tuple[float, float]:
    """(largest |Δ| of one step's scores, largest score magnitude) over what the two top-k lists ``[[index, score],
    ...]`` let compare: an index both hold by its difference; an index one holds by at least how far it stands above
    the other's k-th score (the other's score there is at most that)."""
    a = {int(i): v for i, v in top_a}
    b = {int(i): v for i, v in top_b}
    worst = 0.0
    for index in a.keys() | b.keys():
        if index in a and index in b:
            worst = max(worst, abs(a[index] - b[index]))
        elif index in a:
            worst = max(worst, a[index] - min(b.values()))
        else:
            worst = max(worst, b[index] - min(a.values()))
    return worst, max(abs(v) for v in (*a.values(), *b.values()))


def top2_gap(top: list[list[float]]) -> float:
    scores = sorted((v for _, v in top), reverse=True)
    return scores[0] - scores[1] if len(scores) > 1 else math.inf


def compare_generation(a: list[list[Any]], b: list[list[Any]], dtype: str, layers: int) -> dict[str, Any]:
    """One question's greedy steps on two paths (``[token, top-k]`` each): the first step's score difference
    against :func:`score_tolerance`, then the tokens step by step while they agree. Where they first differ, either
    path's top-2 gap must be within the tolerance (a near tie, which may flip; the continuations after it may
    differ), else it is a flip at a clear gap. ``near_ties`` counts the compared steps that were near ties."""
    out: dict[str, Any] = {"first_diff": None, "first_tol": None, "diverged_at": None, "tie": False, "near_ties": 0}
    if a and b:
        diff, magnitude = score_difference(a[0][1], b[0][1])
        out["first_diff"], out["first_tol"] = diff, score_tolerance(dtype, magnitude, layers)
    for step in range(max(len(a), len(b))):
        if step >= len(a) or step >= len(b):  # one path ended (its end token) where the other went on: no tie
            out["diverged_at"] = step
            return out
        (token_a, top_a), (token_b, top_b) = a[step], b[step]
        _, magnitude = score_difference(top_a, top_b)
        near = min(top2_gap(top_a), top2_gap(top_b)) <= score_tolerance(dtype, magnitude, layers)
        out["near_ties"] += near
        if token_a != token_b:
            out["diverged_at"], out["tie"] = step, near
            return out
    return out


def coarser_dtype(*dtypes: str) -> str:
    return min(dtypes, key=lambda d: SIGNIFICANT_BITS.get(d, SIGNIFICANT_BITS["bfloat16"]))


def predictions_check(
    shared: dict[str, str],
    unshared: dict[str, str],
    shared_steps: dict[str, Any] | None = None,
    unshared_steps: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``share_video_prefix`` must not change a greedy prediction beyond what the model's precision allows (README,
    tests/eval/test_shared_prefix.py): equal where equality holds, else compared step by step
    (:func:`compare_generation`, from each path's recorded ``generation``): the first step's scores within
    :func:`score_tolerance` and the same tokens up to a near tie. Without recorded steps, predictions must be equal."""
    name = "eval-hf: share_video_prefix on and off give the same greedy predictions (up to near ties)"
    if not shared or not unshared:
        return {"name": name, "passed": None, "detail": "not compared: a side has no predictions"}
    ids = sorted(set(shared) | set(unshared))
    differ = [i for i in ids if shared.get(i) != unshared.get(i)]
    steps_a = (shared_steps or {}).get("questions") or {}
    steps_b = (unshared_steps or {}).get("questions") or {}
    if not steps_a and not steps_b:
        if differ:
            return {"name": name, "passed": False, "detail": f"{len(differ)} of {len(ids)} differ (ids {differ[:10]})"}
        return {"name": name, "passed": True, "detail": f"{len(ids)} of {len(ids)} identical"}
    recorded = [r for r in (shared_steps, unshared_steps) if r]
    dtype = coarser_dtype(*(r["dtype"] for r in recorded))
    layers = max(int(r.get("layers") or 1) for r in recorded)
    compared = {
        i: compare_generation(steps_a[i], steps_b[i], dtype, layers) for i in ids if i in steps_a and i in steps_b
    }
    unjudged = [i for i in differ if i not in compared]
    clear = [i for i, c in compared.items() if c["diverged_at"] is not None and not c["tie"]]
    tie_flips = [i for i, c in compared.items() if c["tie"]]
    inconsistent = [i for i in differ if i in compared and compared[i]["diverged_at"] is None]
    firsts = [(c["first_diff"], c["first_tol"], i) for i, c in compared.items() if c["first_diff"] is not None]
    beyond = [i for d, t, i in firsts if d > t]
    worst = max(firsts, key=lambda f: f[0] / f[1] if f[1] else (math.inf if f[0] else 0.0), default=None)
    parts = [f"{len(ids) - len(differ)} of {len(ids)} identical"]
    if tie_flips:
        parts.append(f"{len(tie_flips)} diverge at a near tie (ids {tie_flips[:10]})")
    parts.append(f"{sum(c['near_ties'] for c in compared.values())} near-tie steps in {len(compared)} questions")
    if worst is not None:
        parts.append(f"first-step scores: worst |Δ| {worst[0]:.3g}, tolerance {worst[1]:.3g} ({dtype}, L = {layers})")
    failures = []
    if clear:
        steps = [compared[i]["diverged_at"] for i in clear]
        failures.append(f"{len(clear)} diverge at a clear gap (ids {clear[:10]}, steps {steps[:10]})")
    if beyond:
        failures.append(f"first-step scores beyond tolerance in {len(beyond)} (ids {beyond[:10]})")
    if unjudged:
        failures.append(f"{len(unjudged)} differ with no recorded steps to judge them (ids {unjudged[:10]})")
    if inconsistent:
        failures.append(f"{len(inconsistent)} differ although their tokens agree (ids {inconsistent[:10]})")
    detail = "; ".join(parts + [f"FAIL: {f}" for f in failures])
    return {
        "name": name,
        "passed": not failures,
        "detail": detail,
        "dtype": dtype,
        "layers": layers,
        "questions": len(ids),
        "identical": len(ids) - len(differ),
        "tie_flips": tie_flips,
        "near_tie_steps": sum(c["near_ties"] for c in compared.values()),
        "clear_flips": clear,
        "first_step_beyond_tolerance": beyond,
        "first_step_worst": None if worst is None else {"id": worst[2], "diff": worst[0], "tolerance": worst[1]},
    }


# ------------------------------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str, scale: float = 1.0, suffix: str = "") -> str:
    return "–" if value is None else f"{value / scale:{spec}}{suffix}"


def markdown(report: dict[str, Any], results: list[PathResult]) -> str:
    gpu = report["gpu"]
    peak = (
        f"{gpu['bf16_peak_tflops']} TFLOP/s ({gpu['peak_source']})" if gpu["bf16_peak_tflops"] else gpu["peak_source"]
    )
    lines = [
        f"# GPU acceptance run, {report['started']}",
        "",
        f"- GPU: {gpu['count']} × {gpu['name']} ({gpu['total_memory'] / GIB:.0f} GiB); bf16 dense peak {peak}",
        *(
            f"- {'model' if key == 'model' else f'model `{key}`'}: `{m['path']}` ({m.get('family', 'qwen2.5-vl')}, "
            f"{m['parameters']:,} parameters, random, {m['layers']} text layers, {m['vision_blocks']} vision blocks)"
            for key, m in (report.get("models") or {"model": report["model"]}).items()
        ),
        f"- versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}",
        f"- setup: {report['setup']['status']} in {_fmt(report['setup'].get('wall_s'), '.0f')} s; whole run "
        f"{report['wall_s']:.0f} s (budgets {report['budget_s']:.0f} s)",
        "",
        "| path | issue | result | s (budget) | timed | tokens/s | MFU | peak GiB | est. GiB | peak/est. |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        result = r.status if r.status != "skipped" else r.reason
        tps = _fmt(r.tokens_per_s, ",.0f")
        if r.questions_per_s is not None:
            tps += f" ({r.questions_per_s:.2f} q/s)"
        lines.append(
            f"| {r.name} | {r.issue} | {result} | {_fmt(r.wall_s, '.0f')} ({r.budget_s:.0f}) | {r.timed or '–'} | "
            f"{tps} | {_fmt(r.mfu, '.1%')} | {_fmt(r.peak_bytes, '.1f', GIB)} | "
            f"{_fmt(r.estimate_bytes, '.1f', GIB)} | {_fmt(r.peak_over_estimate, '.2f')} |"
        )
    lines += ["", "Checks:", ""]
    for check in report["checks"]:
        mark = {True: "pass", False: "FAIL", None: "not run"}[check["passed"]]
        lines.append(f"- {mark}: {check['name']} ({check['detail']})")
    failures = [r for r in results if r.status in ("fail", "timeout")]
    if failures:
        lines += ["", "Failures:"]
        for r in failures:
            lines += ["", f"**{r.name}**: {r.error}", "", "```", r.log_tail or "(no log)", "```"]
    lines += [
        "",
        "tokens/s: training = real text tokens through the loss pass per second of the timed steps (all GPUs); "
        "eval = text positions computed (prefill + generated) per second. MFU = model FLOPs / (s × GPUs × peak); "
        "peak = torch.cuda.max_memory_allocated per GPU (eval-vllm: device-wide, sampled); formulas and estimate: "
        'docs/benchmarks.md, "GPU acceptance run".',
    ]
    return "\n".join(lines) + "\n"


def model_facts(path: str, shape: ModelShape) -> dict[str, Any]:
    """What the report says of a model the run built or was given."""
    return {
        "path": path,
        "family": shape.family,
        "parameters": shape.total_params,
        "layers": shape.layers,
        "vision_blocks": shape.v_depth,
    }


def build_report(
    env: GpuEnv,
    peak: tuple[float | None, str],
    model: dict[str, Any],
    setup: dict[str, Any],
    results: list[PathResult],
    checks: list[dict[str, Any]],
    started: str,
    wall_s: float,
    models: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``model``: the 3B's facts; ``models``: every model's, by setup.json entry (default: the 3B's alone)."""
    return {
        "started": started,
        "wall_s": wall_s,
        "budget_s": setup["budget_s"] + sum(r.budget_s for r in results if r.status != "skipped"),
        "gpu": {
            "name": env.name,
            "count": env.count,
            "total_memory": env.total_memory,
            "bf16_peak_tflops": peak[0],
            "peak_source": peak[1],
        },
        "versions": versions(env),
        "model": model,
        "models": models or {"model": model},
        "setup": setup,
        "paths": [{**asdict(r), "peak_over_estimate": r.peak_over_estimate} for r in results],
        "checks": checks,
    }


def versions(env: GpuEnv) -> dict[str, str]:
    out = {}
    for package in ("torch", "transformers", "trl", "accelerate", "deepspeed", "vllm", "flash_attn"):
        try:
            out[package] = importlib.metadata.version(package.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            continue
    if env.torch_cuda:
        out["CUDA (torch)"] = env.torch_cuda
    return out


def write_report(out: Path, report: dict[str, Any], results: list[PathResult]) -> str:
    text = markdown(report, results)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    (out / "report.md").write_text(text, encoding="utf-8")
    return text


# --------------------------------------------------------------------------------------------------- main


def probe_environment() -> GpuEnv:
    """CUDA visible? (``torch.cuda.is_available`` creates no context.) GPU names and memory come from a child
    process, so this process never holds memory on the GPUs the paths measure."""
    import torch

    if not torch.cuda.is_available():
        return GpuEnv(cuda=False)
    done = subprocess.run([sys.executable, str(CHILD), "info"], cwd=REPO, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"gpu_acceptance: reading the GPUs failed (exit {done.returncode}): {last}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    installed = {p: importlib.util.find_spec(p) is not None for p in OPTIONAL_PACKAGES}
    return GpuEnv(True, info["count"], info["names"][0], info["total_memory"][0], installed, info["torch_cuda"])


def free_disk(run_dir: Path) -> None:
    """A path's saved weights (7.5 GB in bf16, 15 GB in fp32) go once it is measured: the run must fit the disk."""
    for item in run_dir.iterdir():
        if item.is_dir() and (item.name.startswith("checkpoint-") or item.name == "reference_model"):
            shutil.rmtree(item, ignore_errors=True)
        elif item.suffix == ".safetensors" or item.name == "model.safetensors.index.json":
            item.unlink()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/gpu_acceptance", help="folder for the report, logs and inputs")
    parser.add_argument(
        "--model", default=None, help="an existing make-tiny-model --like folder for the 3B (skips building it)"
    )
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these paths")
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiply every time budget (slow nodes)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="bf16 dense peak, for GPUs not in the table")
    parser.add_argument("--keep-outputs", action="store_true", help="keep each path's saved weights")
    parser.add_argument(
        "--predict", action="store_true", help="print each training path's predicted peak on 80/141 GB cards and exit"
    )
    args = parser.parse_args(argv)
    names = [p.name for p in PATHS]
    unknown = [n for n in args.only or [] if n not in names]
    if unknown:
        parser.exit(2, f"gpu_acceptance: unknown path {unknown[0]!r}; expected one of {', '.join(names)}\n")
    if args.budget_scale <= 0:
        parser.exit(2, f"gpu_acceptance: --budget-scale {args.budget_scale}: expected a positive number\n")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.predict:  # no GPU needed: the arithmetic on the published shapes
        print(predicted_markdown(published_shapes()))
        return 0
    if args.model and not (Path(args.model) / "config.json").is_file():
        print(
            f"gpu_acceptance: --model {args.model}: no config.json there (a make-tiny-model --like folder)",
            file=sys.stderr,
        )
        return 2
    env = probe_environment()
    if not env.cuda:
        print(
            "gpu_acceptance: no CUDA GPU visible (torch.cuda.is_available() is False); run it on a GPU node",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    peak = (args.peak_tflops, "--peak-tflops") if args.peak_tflops else bf16_peak_tflops(env.name)
    logger.info("%d × %s, bf16 peak %s", env.count, env.name, peak)

    setup_cmd = [sys.executable, str(CHILD), "setup", str(out), "--like", LIKE]
    for key, like in MODELS.items():
        if key != "model":
            setup_cmd += ["--extra-model", f"{key}={like}"]
    if args.model:
        setup_cmd.append("--no-model")
    setup_budget = SETUP_BUDGET_S * args.budget_scale
    setup_file = out / "setup.json"
    setup_file.unlink(missing_ok=True)
    finished = run_child(setup_cmd, {"HF_HUB_OFFLINE": "1"}, out / "setup.log", setup_budget)
    setup_ok = finished.returncode == 0 and not finished.timed_out and setup_file.is_file()
    setup = {"status": "pass" if setup_ok else "fail", "wall_s": finished.wall_s, "budget_s": setup_budget}
    inputs = json.loads(setup_file.read_text(encoding="utf-8")) if setup_ok else {}
    if args.model:
        inputs["model"] = str(Path(args.model).resolve())
    if not setup_ok:
        setup["error"] = log_tail(out / "setup.log")
        logger.error("setup failed:\n%s", setup["error"])
    shapes: dict[str, ModelShape] = {}  # setup.json entry -> its model's shape, for each path's arithmetic
    models = {}
    for key in MODELS if setup_ok else ():
        if key in inputs:
            shapes[key] = ModelShape.from_config(json.loads((Path(inputs[key]) / "config.json").read_text()))
            models[key] = model_facts(inputs[key], shapes[key])
    model = models.get("model") or {"path": inputs.get("model", ""), "parameters": 0, "layers": 0, "vision_blocks": 0}
    logger.info("setup %s in %.0f s", setup["status"], finished.wall_s)

    planned = plan_paths(env, inputs, out, args.only, args.budget_scale) if setup_ok else []
    results = []
    for i, item in enumerate(planned, 1):
        done = None
        ranks: list[dict[str, Any]] = []
        if item.run:
            logger.info("[%d/%d] %s: %s (budget %.0f s)", i, len(planned), item.spec.name, item.reason, item.budget_s)
            shutil.rmtree(item.run_dir, ignore_errors=True)  # an eval folder would resume, old records would be read
            done = run_child(item.command, item.env, item.run_dir / "child.log", item.budget_s)
            ranks = read_ranks(item.run_dir)
            if not args.keep_outputs:
                free_disk(item.run_dir)
        questions = int(inputs["vsi_questions"]) if "vsi_questions" in inputs else None
        result = summarise(item, done, ranks, shapes.get(item.spec.model), peak[0], env.total_memory, questions)
        logger.info("[%d/%d] %s: %s %s", i, len(planned), item.spec.name, result.status, result.error or "")
        results.append(result)
    if not setup_ok:
        results = [PathResult(s.name, s.issue, s.what, "skipped", s.budget_s, "skipped: setup failed") for s in PATHS]
    pair = [out / "runs" / name for name in SHARED_PAIR]
    checks = [predictions_check(*(read_predictions(d) for d in pair), *(read_generation(d) for d in pair))]
    report = build_report(env, peak, model, setup, results, checks, started, time.perf_counter() - t0, models)
    print(write_report(out, report, results))
    logger.info("wrote %s and %s", out / "report.json", out / "report.md")
    ran = [r for r in results if r.status != "skipped"]
    ok = setup_ok and all(r.status == "pass" for r in ran) and all(c["passed"] is not False for c in checks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
