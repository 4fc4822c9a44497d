"""Stage 3: GRPO with the format + accuracy rewards over single-image, multi-view and video prompts.

config → rows → model → rewards → trainer → train → save. trl owns the loop; ``VideoGRPOTrainer`` only adds the
video tensors trl leaves out of the log-prob forwards (see ``spatialladder/train/video_grpo.py``).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialladder.config.grpo import GRPOStageConfig
from spatialladder.distributed import barrier, is_main_process
from spatialladder.errors import ConfigError
from spatialladder.prompts import grpo_text_before_video
from spatialladder.vocab import DATA_TYPES

logger = logging.getLogger(__name__)

REFERENCE_DIR = "reference_model"
"""Inside the output folder while stage 3 trains: the merged starting weights when the stage starts from a LoRA
adapter folder, for trl to build the KL reference model from (see :func:`pin_reference`)."""


@dataclass
class GRPOResult:
    output_dir: Path
    global_step: int
    rows: dict[str, int]
    skipped: dict[str, int]
    resumed_from: str | None
    log_history: list[dict[str, Any]] = field(default_factory=list)


def check_rollout(rollout: str) -> None:
    """vLLM colocate rollouts need the ``vllm`` package and a CUDA GPU; say so before anything is loaded."""
    if rollout != "vllm":
        return
    import torch

    problems = []
    if importlib.util.find_spec("vllm") is None:
        problems.append("the vllm package is not installed (pip install 'spatialladder[vllm]')")
    if not torch.cuda.is_available():
        problems.append("no CUDA GPU is visible")
    if problems:
        raise ConfigError(f"rollout: vllm needs vLLM on a CUDA GPU, but {' and '.join(problems)}; use rollout: hf")


def reward_functions(cfg: GRPOStageConfig) -> list[Callable[..., list[float]]]:
    """trl reward callables named after the config's rewards; weights go to trl as ``reward_weights``."""
    from spatialladder.rewards.trl_adapter import as_trl_reward

    return [as_trl_reward(spec.name) for spec in cfg.rewards]


def build_trainer(
    cfg: GRPOStageConfig,
    args: Any,
    loaded: Any,
    dataset: Any,
    reward_funcs: Sequence[Callable[..., list[float]]] | None = None,
) -> Any:
    """The trainer for ``cfg``; ``reward_funcs`` replaces the configured rewards one for one (weights stay)."""
    from spatialladder.train.trl_args import set_family_chat_template_kwargs
    from spatialladder.train.video_grpo import VideoGRPOTrainer

    if reward_funcs is not None and len(reward_funcs) != len(cfg.rewards):
        raise ConfigError(
            f"{len(reward_funcs)} reward functions for the {len(cfg.rewards)} weighted rewards: in the config"
        )

    # trl pads prompts on the left for generation, then runs the processor again for an image-only batch's forward
    # inputs (grpo_trainer.py ``_generate_and_score_completions``), padded on the tokenizer's side: Qwen's default,
    # right, shifts ``mm_token_type_ids`` off the left-padded ids whenever prompts differ in length, and the rope
    # index of the log-prob pass fails. Left padding keeps both aligned (and is what generation needs anyway).
    loaded.processor.tokenizer.padding_side = "left"
    set_family_chat_template_kwargs(args, loaded.family)  # Qwen3.5: the no-think prompt tail, as SFT and eval
    return VideoGRPOTrainer(
        model=loaded.model,
        reward_funcs=list(reward_funcs) if reward_funcs is not None else reward_functions(cfg),
        args=args,
        train_dataset=dataset,
        processing_class=loaded.processor,
        peft_config=loaded.peft_config,
        text_before_video=grpo_text_before_video(cfg.prompt_fidelity),
        video_fps=cfg.data.video_fps,
        video_in_loss=cfg.video_in_loss,
        image_resize=cfg.data.image_resize,
        dynamic_sampling=cfg.dynamic_sampling.enabled,
        max_draws=cfg.dynamic_sampling.max_draws,
    )


def pin_reference(cfg: GRPOStageConfig, loaded: Any, checkpoint: str | None, out_dir: Path) -> Path | None:
    """Make trl's KL reference model the weights this stage starts from, when those exist only in memory.

    trl builds the reference model by loading ``model.config._name_or_path`` again (on every process, in any
    DeepSpeed/FSDP layout). After a LoRA rung that path is the adapter folder, whose adapter the loader merged:
    trl cannot load such a folder, and its base model is not where the stage starts. So the merged starting
    model is saved once to ``<output_dir>/reference_model`` and the path points there; the folder is removed
    when the stage finishes. Not needed with ``beta: 0`` (no reference) or a LoRA stage 3 (trl's reference is
    the policy with its adapter disabled, i.e. the merged start).
    """
    from spatialladder.models.load import load_model_and_processor

    if cfg.beta == 0.0 or cfg.model.lora is not None or not (Path(loaded.source) / "adapter_config.json").is_file():
        return None
    ref_dir = out_dir / REFERENCE_DIR
    if is_main_process() and (checkpoint is None or not (ref_dir / "config.json").is_file()):
        # a fresh run rewrites it (the adapter may have changed); a resumed run keeps the one it started with
        start = loaded.model if checkpoint is None else load_model_and_processor(cfg.model).model
        tmp = out_dir / f"{REFERENCE_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        start.save_pretrained(tmp)
        shutil.rmtree(ref_dir, ignore_errors=True)
        tmp.rename(ref_dir)
        logger.info("KL reference: the merged start from %s, saved to %s", loaded.source, ref_dir)
    barrier()
    loaded.model.config._name_or_path = str(ref_dir)
    return ref_dir


def group_summary(cfg: GRPOStageConfig, log: Sequence[dict[str, Any]]) -> list[str]:
    """Model-card lines on uninformative groups: the mean logged zero-variance share (all groups and per modality)
    and, under dynamic sampling, what it drew and how often it hit its cap."""
    from spatialladder.train.artifacts import series
    from spatialladder.train.grpo_groups import HIT_CAP_KEY, PROMPTS_DRAWN_KEY, ZERO_VARIANCE_KEY

    def mean(key: str) -> float | None:
        points = series(log, key)
        return sum(v for _, v in points) / len(points) if points else None

    overall = mean(ZERO_VARIANCE_KEY)
    if overall is None:
        return []
    shares = {k: mean(f"{ZERO_VARIANCE_KEY}/{k}") for k in DATA_TYPES}
    per_kind = ", ".join(f"{k} {v:.1%}" for k, v in shares.items() if v is not None)
    lines = [f"groups with zero reward variance (mean over logged steps): {overall:.1%} ({per_kind})"]
    if cfg.dynamic_sampling.enabled:
        drawn = sum(v for _, v in series(log, PROMPTS_DRAWN_KEY))
        capped = series(log, HIT_CAP_KEY)
        lines.append(
            f"dynamic sampling (DAPO, at most {cfg.dynamic_sampling.max_draws} further draws per batch): "
            f"{drawn:g} further prompts drawn over the logged steps; share of batches that hit the cap: "
            f"{sum(v for _, v in capped) / len(capped):.1%}"
            if capped
            else "dynamic sampling: on, nothing logged"
        )
    else:
        lines.append("dynamic sampling: off (every group trained on, as the paper)")
    return lines


def write_grpo_artifacts(cfg: GRPOStageConfig, trainer: Any, counts: dict[str, int], init_from: str) -> None:
    """Trainer log, reward/KL/zero-variance curves and model card beside the final weights (``train/artifacts.py``)."""
    from spatialladder.train.artifacts import grpo_curves, series, write_run_artifacts

    log = trainer.state.log_history
    rewards = series(log, "reward")
    write_run_artifacts(
        trainer,
        cfg,
        title="GRPO",
        tags=["spatialladder", "grpo", "stage3"],
        curves=grpo_curves(log),
        facts=[
            "stage: GRPO (`spatialladder train --stage 3`)",
            f"initialised from: `{init_from}`",
            f"data: {', '.join(f'`{f}`' for f in cfg.data.files)} (rows: {counts})",
            f"rewards: {', '.join(f'{r.name} × {r.weight}' for r in cfg.rewards)}; last logged mean reward: "
            f"{rewards[-1][1] if rewards else None}",
            f"beta (KL): {cfg.beta}; prompt fidelity: {cfg.prompt_fidelity}; video in loss: {cfg.video_in_loss}",
            *group_summary(cfg, log),
        ],
    )


def run_grpo(
    cfg: GRPOStageConfig,
    *,
    resume: bool | None = None,
    source: str = "<config>",
    reward_funcs: Sequence[Callable[..., list[float]]] | None = None,
) -> GRPOResult:
    """Train stage 3 as ``cfg`` says and save model, processor, curves and resolved config to ``cfg.output_dir``.

    ``resume`` follows the one resume policy of every stage (:func:`spatialladder.train.checkpoints.resume_checkpoint`):
    by default a folder holding checkpoints of this very config is continued (full trainer state: optimizer,
    scheduler, RNG, step), one of another config is refused.
    """
    from spatialladder.config.load import save_resolved
    from spatialladder.train.checkpoints import load_for_training, master_weights, resume_checkpoint
    from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
    from spatialladder.train.memory import check_run_memory, release_trainer
    from spatialladder.train.sharding import save_final_model
    from spatialladder.train.trl_args import check_one_gpu_per_process, check_report_to_installed, to_grpo_args

    args = to_grpo_args(cfg, source)
    check_report_to_installed(args, source)
    check_one_gpu_per_process(args, source)
    check_rollout(cfg.rollout)
    check_run_memory(cfg, args, source)
    out_dir = Path(cfg.output_dir)
    data = load_grpo_rows(
        cfg.data.files,
        cfg.data.image_root,
        fidelity=cfg.prompt_fidelity,
        video_frames=cfg.data.video_frames,
        frame_dependent=cfg.data.frame_dependent,
        max_samples=cfg.data.max_samples,
        shuffle_seed=cfg.data.shuffle_seed,
        video_fps=cfg.data.video_fps,
    )
    counts = {t: data.count(t) for t in DATA_TYPES}
    logger.info("GRPO rows: %s (skipped %s)", counts, dict(data.skipped))
    checkpoint = resume_checkpoint(cfg, resume)
    if is_main_process():  # every process of a multi-process run gets here; one writes
        save_resolved(cfg, out_dir)
    loaded = load_for_training(cfg.model, checkpoint)
    reference = pin_reference(cfg, loaded, checkpoint, out_dir)
    trainer = build_trainer(cfg, args, loaded, rows_to_dataset(data.rows), reward_funcs)
    master_weights(trainer, cfg.model, checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)
    save_final_model(trainer, str(out_dir))
    if trainer.is_world_process_zero():
        if reference is not None:
            shutil.rmtree(reference)
        loaded.processor.save_pretrained(str(out_dir))
        write_grpo_artifacts(cfg, trainer, counts, loaded.source)
    result = GRPOResult(
        output_dir=out_dir,
        global_step=trainer.state.global_step,
        rows=counts,
        skipped=dict(data.skipped),
        resumed_from=checkpoint,
        log_history=list(trainer.state.log_history),
    )
    release_trainer(trainer)
    return result
