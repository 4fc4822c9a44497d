"""What every training stage leaves beside its final weights: the trainer log, curves as PNG and a model card.

One module for SFT and GRPO so both stages write the same kinds of files the same way:
``train_log.jsonl`` (``trainer.state.log_history``, one logged step per line), one PNG per logged series (SFT: the
loss in ``loss_curve.png``; GRPO: each reward's mean, the total reward, the KL and the zero-variance share in
``curve_<series>.png``), and ``README.md``: trl's own model card (``Trainer.create_model_card``) followed by the
run's facts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spatialladder.config.load import RESOLVED_NAME
from spatialladder.figures import new_figure, save_png
from spatialladder.train.checkpoints import config_sha256
from spatialladder.train.grpo_groups import ZERO_VARIANCE_KEY

LOG_NAME = "train_log.jsonl"
CARD_NAME = "README.md"
"""trl's ``create_model_card`` writes ``<args.output_dir>/README.md``."""
SFT_CURVES = {"loss": "loss_curve.png"}
GRPO_SERIES = ("reward", "kl", ZERO_VARIANCE_KEY)
"""GRPO series drawn besides every ``rewards/<name>/mean`` (a series never logged gets no file)."""


def reward_keys(log_history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The logged ``rewards/<name>/mean`` series of a GRPO run (one per reward function), sorted."""
    return sorted({k for e in log_history for k in e if k.startswith("rewards/") and k.endswith("/mean")})


def grpo_curves(log_history: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Logged series → PNG name for a GRPO run: each reward function's mean, then the total reward, the KL and the
    zero-variance share."""
    return {key: f"curve_{key.replace('/', '_')}.png" for key in [*reward_keys(log_history), *GRPO_SERIES]}


def write_log(log_history: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """The trainer log as JSONL, one logged step (loss, rewards, KL, lengths, …) per line."""
    with path.open("w", encoding="utf-8") as fh:
        for entry in log_history:
            fh.write(json.dumps(entry) + "\n")
    return path


def series(log_history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every logged entry that has ``key``."""
    return [(e["step"], e[key]) for e in log_history if key in e and "step" in e]


def plot_series(points: Sequence[tuple[int, float]], path: Path, *, title: str, ylabel: str) -> Path:
    """A PNG of one logged series against the optimizer step."""
    fig = new_figure(6, 3.5)
    ax = fig.subplots()
    ax.plot([s for s, _ in points], [v for _, v in points], marker="." if len(points) < 50 else None)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def save_curves(
    log_history: Sequence[Mapping[str, Any]], out_dir: Path, curves: Mapping[str, str], title: str
) -> list[Path]:
    """One PNG per series of ``curves`` (logged key → file name) that was logged at all."""
    written = []
    for key, name in curves.items():
        points = series(log_history, key)
        if points:
            written.append(plot_series(points, out_dir / name, title=f"{title}: {key}", ylabel=key))
    return written


def write_model_card(trainer: Any, out_dir: Path, tags: Sequence[str], facts: Sequence[str]) -> Path:
    """trl's model card for ``trainer`` (``create_model_card``: base model, trainer, framework versions, citations)
    with a ``SpatialLadder run`` section of ``facts`` (one bullet each) after it."""
    trainer.create_model_card(model_name=out_dir.name, tags=list(tags))
    path = Path(trainer.args.output_dir) / CARD_NAME
    run = ["", "## SpatialLadder run", "", *[f"- {fact}" for fact in facts], ""]
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(run))
    return path


def write_run_artifacts(
    trainer: Any, cfg: Any, *, title: str, tags: Sequence[str], curves: Mapping[str, str], facts: Sequence[str]
) -> None:
    """Log, curves and model card of a finished stage into ``cfg.output_dir`` (call on the main process only).

    Every card ends with the config hash and where the log and curves are; ``facts`` come before them.
    """
    out = Path(cfg.output_dir)
    log = trainer.state.log_history
    write_log(log, out / LOG_NAME)
    drawn = save_curves(log, out, curves, title)
    last = log[-1].get("step", 0) if log else 0
    common = [
        f"steps: {last}",
        f"config sha256: `{config_sha256(cfg)}` (full config in `{RESOLVED_NAME}`)",
        f"log: `{LOG_NAME}`; curves: {', '.join(f'`{p.name}`' for p in drawn) or 'none (nothing logged)'}",
    ]
    write_model_card(trainer, out, tags, [*facts, *common])
