"""Stages 1, 2 and the cold start: supervised fine-tuning of Qwen2.5-VL with trl's SFTTrainer.

Top-down: config → data → model → trainer → train → save. trl runs the loop; this module only decides what goes in
(rows, collator, model) and what comes out (model + processor + resolved config + log + loss curve + model card).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder.config.load import save_resolved
from spatialladder.train.artifacts import SFT_CURVES, series, write_run_artifacts
from spatialladder.train.checkpoints import load_for_training, master_weights, resume_checkpoint
from spatialladder.train.memory import check_run_memory, release_trainer
from spatialladder.train.sharding import save_final_model

logger = logging.getLogger(__name__)


@dataclass
class SFTResult:
    output_dir: Path
    global_step: int
    train_loss: float | None
    num_samples: int
    resumed_from: str | None
    skipped: dict[str, int]


def run_sft(cfg: Any, resume: bool | None = None, source: str = "<config>") -> SFTResult:
    """Train one SFT stage as ``cfg`` says and write its final folder; ``resume`` follows the one resume policy of
    every stage (:func:`spatialladder.train.checkpoints.resume_checkpoint`).

    ``source`` (the config file) names the file in error messages.
    """
    from spatialladder.train.sft_rows import load_samples
    from spatialladder.train.trl_args import (
        check_one_gpu_per_process,
        check_padding_free_runtime,
        check_report_to_installed,
        to_sft_args,
    )

    args = to_sft_args(cfg, source)
    check_report_to_installed(args, source)
    check_one_gpu_per_process(args, source)
    check_run_memory(cfg, args, source)
    checkpoint = resume_checkpoint(cfg, resume)
    samples, skipped = load_samples(cfg)
    loaded = load_for_training(cfg.model, checkpoint)
    if cfg.padding_free:  # the family is certain only now (an earlier rung's output may not exist at validate time)
        check_padding_free_runtime(source, loaded.family)
    processor = loaded.processor
    rows = sft_rows(cfg, samples, processor, loaded.family)
    collator = sft_collator(cfg, processor, args.max_length, loaded.model.config, loaded.family)
    trainer = build_sft_trainer(cfg, args, loaded.model, processor, rows, collator, loaded.peft_config)
    master_weights(trainer, cfg.model, checkpoint)
    if trainer.is_world_process_zero():
        save_resolved(cfg, cfg.output_dir)
    _log_trainable(trainer.model)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    save_final_model(trainer, cfg.output_dir)
    if trainer.is_world_process_zero():
        processor.save_pretrained(cfg.output_dir)
        write_sft_artifacts(cfg, trainer, len(samples), loaded.source)
    result = SFTResult(
        output_dir=Path(cfg.output_dir),
        global_step=trainer.state.global_step,
        train_loss=output.training_loss,
        num_samples=len(samples),
        resumed_from=checkpoint,
        skipped=dict(skipped),
    )
    release_trainer(trainer)
    return result


def build_sft_trainer(
    cfg: Any, args: Any, model: Any, processor: Any, rows: Any, collator: Any, peft_config: Any = None
) -> Any:
    """trl's SFTTrainer with the loss averaged as ``cfg.loss_average`` says, and with row lengths for
    ``trainer.train_sampling_strategy: group_by_length`` (seeded per epoch, ``train/grouping.py``).

    ``model_accepts_loss_kwargs`` (a documented ``Trainer`` attribute) decides whether the loss is normalised by the
    token count of the whole accumulated batch. Set explicitly, so the official averaging does not hang on a
    per-model class attribute (transformers 5.23 happens to mark Qwen2.5-VL ``accepts_loss_kwargs = False``).
    ``micro_batch``: each micro-batch's own mean divided by the accumulation steps, as official (4.49's Qwen2.5-VL
    forward took no loss kwargs).
    """
    from spatialladder.train.grouping import GROUP_BY_LENGTH, GroupedSFTTrainer
    from spatialladder.train.lengths import row_lengths

    lengths = row_lengths(rows, args.max_length) if args.train_sampling_strategy == GROUP_BY_LENGTH else None
    trainer = GroupedSFTTrainer(
        model=model,
        args=args,
        train_dataset=rows.as_dataset(lengths, args.length_column_name),
        processing_class=processor,
        data_collator=collator,
        peft_config=peft_config,
    )
    trainer.model_accepts_loss_kwargs = cfg.loss_average == "tokens"
    return trainer


def sft_rows(cfg: Any, samples: list[Any], processor: Any, family: Any = None) -> Any:
    """The stage's ``SFTRows`` (trl VLM rows built on access), as ``run_sft`` trains on them; ``family`` (the loaded
    model's, ``LoadedModel.family``) sets the stage-1 box coordinates and shapes the assistant turn where the template
    thinks (Qwen3.5); ``SFTRows``' default (Qwen2.5-VL) when None."""
    from spatialladder import prompts
    from spatialladder.train.sft_rows import SFTRows

    return SFTRows(
        samples,
        processor,
        system_text=prompts.sft_system_text(cfg.prompt_fidelity),
        bbox_target=cfg.bbox_target,
        image_resize=cfg.data.image_resize,
        **({} if family is None else {"family": family}),
    )


def sft_collator(cfg: Any, processor: Any, max_length: int | None, model_config: Any = None, family: Any = None) -> Any:
    """The stage's collator (label mask per ``loss_on``, videos timed as the model's family tells time, at
    ``data.video_fps`` or their capture times; rows packed when ``padding_free``, which needs the model's config for
    its mRoPE positions), as ``run_sft`` uses it; ``family`` (else the one of ``model_config``, else Qwen2.5-VL's)
    also places the supervised tokens after a think block the generation prompt supplies (Qwen3.5)."""
    from spatialladder.models.families import family_for
    from spatialladder.train.collator import VisionSFTCollator, training_chat_template

    return VisionSFTCollator(
        processor,
        loss_on=cfg.loss_on,
        chat_template=training_chat_template(processor, family) if cfg.loss_on == "assistant" else None,
        video_fps=cfg.data.video_fps,
        video_time=(family or family_for(model_config or {"model_type": "qwen2_5_vl"})).video_time,
        max_length=max_length,
        padding_free=cfg.padding_free,
        model_config=model_config,
    )


def _log_trainable(model: Any) -> None:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100.0 * trainable / max(total, 1))


def write_sft_artifacts(cfg: Any, trainer: Any, num_samples: int, init_from: str) -> None:
    """Trainer log, loss curve and model card beside the final weights (``train/artifacts.py``)."""
    losses = series(trainer.state.log_history, "loss")
    write_run_artifacts(
        trainer,
        cfg,
        title=f"{cfg.stage} SFT",
        tags=["spatialladder", "sft", cfg.stage],
        curves=SFT_CURVES,
        facts=[
            f"stage: {cfg.stage} SFT (`spatialladder train --stage {cfg.stage}`)",
            f"initialised from: `{init_from}`",
            f"data: {', '.join(f'`{f}`' for f in cfg.data.files)} ({num_samples} samples)",
            f"last logged loss: {losses[-1][1] if losses else None}",
            f"loss on: {cfg.loss_on} ({cfg.loss_average} average); prompt fidelity: {cfg.prompt_fidelity}; "
            f"bbox target: {cfg.bbox_target}",
        ],
    )
