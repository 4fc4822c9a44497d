"""Stages 1, 2 and the cold start: supervised fine-tuning of Qwen2.5-VL with trl's SFTTrainer.

Top-down: config → data → model → trainer → train → save. trl runs the loop; this module only decides what goes in
(rows, collator, model) and what comes out (model + processor + resolved config + log + loss curve + model card).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder.config.load import RESOLVED_NAME, read_yaml, save_resolved, to_yaml
from spatialladder.errors import ConfigError
from spatialladder.train.checkpoints import latest_checkpoint, load_for_training

logger = logging.getLogger(__name__)

LOG_NAME = "train_log.jsonl"
CURVE_NAME = "loss_curve.png"
CARD_NAME = "README.md"


@dataclass
class SFTResult:
    output_dir: Path
    global_step: int
    train_loss: float | None
    num_samples: int
    resumed_from: str | None
    skipped: dict[str, int]


def config_sha256(cfg: Any) -> str:
    """Fingerprint of the resolved config: two runs with the same hash trained the same way."""
    return hashlib.sha256(to_yaml(cfg).encode("utf-8")).hexdigest()


def choose_resume(cfg: Any, resume: bool | None) -> str | None:
    """Which checkpoint to continue from.

    ``True``: the newest one (it must exist). ``False``: none, start fresh. ``None`` (default): the newest one
    when the output folder was written by this very config, otherwise an error instead of silently mixing runs.
    """
    ckpt = latest_checkpoint(cfg.output_dir)
    if resume is True and ckpt is None:
        raise ConfigError(f"--resume: no checkpoint-* folder in output_dir {cfg.output_dir}")
    if resume is False or ckpt is None:
        return None
    if resume is None:
        saved = Path(cfg.output_dir) / RESOLVED_NAME
        if saved.is_file() and read_yaml(saved) != cfg.model_dump(mode="json"):
            raise ConfigError(
                f"output_dir {cfg.output_dir} holds {ckpt.name} from a different config ({saved}); "
                "pass --resume to continue it anyway, or choose a new output_dir"
            )
    logger.info("resuming from %s (model, optimizer, scheduler and RNG state)", ckpt)
    return str(ckpt)


def run_sft(cfg: Any, resume: bool | None = None, source: str = "<config>") -> SFTResult:
    """Train one SFT stage as ``cfg`` says and write its final folder; see :func:`choose_resume` for ``resume``.

    ``source`` (the config file) names the file in error messages.
    """
    from spatialladder.train.data import load_samples
    from spatialladder.train.trl_args import check_report_to_installed, to_sft_args

    args = to_sft_args(cfg, source)
    check_report_to_installed(args, source)
    checkpoint = choose_resume(cfg, resume)
    samples, skipped = load_samples(cfg)
    loaded = load_for_training(cfg.model, checkpoint)
    processor = loaded.processor
    rows = sft_rows(cfg, samples, processor)
    collator = sft_collator(cfg, processor, args.max_length)
    trainer = build_sft_trainer(cfg, args, loaded.model, processor, rows, collator, loaded.peft_config)
    if trainer.is_world_process_zero():
        save_resolved(cfg, cfg.output_dir)
    _log_trainable(trainer.model)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(cfg.output_dir)
    if trainer.is_world_process_zero():
        processor.save_pretrained(cfg.output_dir)
        write_run_record(cfg, trainer.state.log_history, len(samples), loaded.source)
    return SFTResult(
        output_dir=Path(cfg.output_dir),
        global_step=trainer.state.global_step,
        train_loss=output.training_loss,
        num_samples=len(samples),
        resumed_from=checkpoint,
        skipped=dict(skipped),
    )


def build_sft_trainer(
    cfg: Any, args: Any, model: Any, processor: Any, rows: Any, collator: Any, peft_config: Any = None
) -> Any:
    """trl's SFTTrainer with the loss averaged as ``cfg.loss_average`` says.

    ``model_accepts_loss_kwargs`` (a documented ``Trainer`` attribute) decides whether the loss is normalised by the
    token count of the whole accumulated batch. Set explicitly, so the official averaging does not hang on a
    per-model class attribute (transformers 5.23 happens to mark Qwen2.5-VL ``accepts_loss_kwargs = False``).
    ``micro_batch``: each micro-batch's own mean divided by the accumulation steps, as official (4.49's Qwen2.5-VL
    forward took no loss kwargs).
    """
    from trl import SFTTrainer

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=rows.as_dataset(),
        processing_class=processor,
        data_collator=collator,
        peft_config=peft_config,
    )
    trainer.model_accepts_loss_kwargs = cfg.loss_average == "tokens"
    return trainer


def sft_rows(cfg: Any, samples: list[Any], processor: Any) -> Any:
    """The stage's ``SFTRows`` (trl VLM rows built on access), as ``run_sft`` trains on them."""
    from spatialladder import prompts
    from spatialladder.train.data import SFTRows

    return SFTRows(
        samples,
        processor,
        system_text=prompts.sft_system_text(cfg.prompt_fidelity),
        bbox_target=cfg.bbox_target,
        image_resize=cfg.data.image_resize,
    )


def sft_collator(cfg: Any, processor: Any, max_length: int | None) -> Any:
    """The stage's collator (label mask per ``loss_on``, videos at ``data.video_fps``), as ``run_sft`` uses it."""
    from spatialladder.train.data import VisionSFTCollator, training_chat_template

    return VisionSFTCollator(
        processor,
        loss_on=cfg.loss_on,
        chat_template=training_chat_template(processor) if cfg.loss_on == "assistant" else None,
        video_fps=cfg.data.video_fps,
        max_length=max_length,
    )


def _log_trainable(model: Any) -> None:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100.0 * trainable / max(total, 1))


def write_run_record(cfg: Any, log_history: list[dict[str, Any]], num_samples: int, init_from: str) -> None:
    """Trainer log (JSONL), loss-curve PNG and a model card beside the final weights."""
    out = Path(cfg.output_dir)
    with (out / LOG_NAME).open("w", encoding="utf-8") as fh:
        for entry in log_history:
            fh.write(json.dumps(entry) + "\n")
    points = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    if points:
        plot_loss(points, out / CURVE_NAME, title=f"{cfg.stage} SFT")
    last = points[-1][1] if points else None
    card = [
        f"# SpatialLadder {cfg.stage} SFT",
        "",
        f"- initialised from: `{init_from}`",
        f"- data: {', '.join(f'`{f}`' for f in cfg.data.files)} ({num_samples} samples)",
        f"- steps: {log_history[-1].get('step', 0) if log_history else 0}; last logged loss: {last}",
        f"- loss on: {cfg.loss_on} ({cfg.loss_average} average); prompt fidelity: {cfg.prompt_fidelity}; "
        f"bbox target: {cfg.bbox_target}",
        f"- config sha256: `{config_sha256(cfg)}` (full config in `{RESOLVED_NAME}`)",
        "",
        f"Trained with `spatialladder train --stage {cfg.stage}`; loss curve in `{CURVE_NAME}`, log in `{LOG_NAME}`.",
    ]
    (out / CARD_NAME).write_text("\n".join(card) + "\n", encoding="utf-8")


def plot_loss(points: list[tuple[int, float]], path: Path, title: str) -> None:
    """A PNG of loss against step (matplotlib's object API: no pyplot, no global backend switch)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.plot([s for s, _ in points], [v for _, v in points], marker="." if len(points) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("train loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
