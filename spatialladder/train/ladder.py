"""``spatialladder train``: one rung, or the whole ladder 1 → 2 → cs → 3 with skip-finished and resume.

Each finished stage leaves a marker (``stage_marker.json``) holding the sha256 of its resolved config and the
run id of the stage it started from. A rerun skips a stage whose marker matches; a changed config, or a rerun of
an earlier stage, reruns it and every stage after it; an interrupted stage resumes from its newest checkpoint.
Whether a stage resumes, starts over or refuses is decided by the one resume policy of every stage
(``train/checkpoints.py``): the ladder passes ``resume=True`` for its own interrupted run, ``False`` when the
marker says the config or upstream changed, and ``None`` (the config-hash check) for a folder without a marker.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder import vocab
from spatialladder.config.ladder import LadderConfig
from spatialladder.config.load import load_config, read_yaml, validate_mapping
from spatialladder.distributed import barrier, is_main_process
from spatialladder.errors import ConfigError, UnknownNameError

logger = logging.getLogger(__name__)

MARKER_NAME = "stage_marker.json"


def canonical_stage(name: str) -> str:
    """``1|2|cs|3`` or a stage name → the stage name."""
    stage = vocab.canonical_stage(name)
    if stage is None:
        raise UnknownNameError("stage", name, [*vocab.STAGE_ALIASES, *vocab.STAGES, vocab.ALL_STAGES])
    return stage


def check_stage(cfg: Any, stage: str, source: str) -> None:
    """The config file must be for the stage asked for (``--stage 1`` with a stage-2 file is a mistake)."""
    kind = "grpo" if stage == "grpo" else "sft"
    if cfg.kind != kind or (kind == "sft" and cfg.stage != stage):
        got = cfg.kind if cfg.kind != "sft" else f"sft/{cfg.stage}"
        raise ConfigError(f"{source}: a {got} config, but --stage asks for {stage}")


def run_stage(stage: str, cfg: Any, resume: bool | None = None, source: str = "<config>") -> Any:
    """Run one rung (``source``: its config file, named in errors); stage 3's module is imported only when run.

    ``resume``: ``spatialladder.train.checkpoints.resume_checkpoint``'s, the same for every stage. Returns with the
    rung's model, optimizer and trainer freed (``train/memory.py``): the next rung must not load beside them.
    """
    from spatialladder.train.memory import release_memory

    if stage == "grpo":
        from spatialladder.train.grpo import run_grpo

        result = run_grpo(cfg, resume=resume, source=source)
    else:
        from spatialladder.train.sft import run_sft

        result = run_sft(cfg, resume=resume, source=source)
    release_memory()
    return result


@dataclass
class StageOutcome:
    stage: str
    output_dir: str
    action: str  # "skipped" | "trained" | "resumed"


def read_marker(output_dir: str | Path) -> dict[str, Any] | None:
    path = Path(output_dir) / MARKER_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_marker(output_dir: str | Path, marker: dict[str, Any]) -> None:
    path = Path(output_dir) / MARKER_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    tmp.replace(path)


def split_overrides(overrides: Sequence[str], stages: Sequence[str]) -> dict[str, list[str]]:
    """``spatial.trainer.max_steps=5`` → ``{"spatial": ["trainer.max_steps=5"]}``; the prefix may be an alias."""
    out: dict[str, list[str]] = {s: [] for s in stages}
    for text in overrides:
        head, _, rest = text.partition(".")
        stage = vocab.canonical_stage(head)
        if stage not in out or not rest:
            raise ConfigError(
                f"--set {text!r}: with --stage all, prefix each override with a stage of the ladder "
                f"({', '.join(stages)}), e.g. spatial.trainer.learning_rate=2e-5"
            )
        out[stage].append(rest)
    return out


def run_ladder(ladder: LadderConfig, ladder_path: str | Path, overrides: Sequence[str] = ()) -> list[StageOutcome]:
    """Run the ladder's stages in order, each initialised from the previous stage's final folder."""
    from spatialladder.train.checkpoints import config_sha256, latest_checkpoint

    base = Path(ladder_path).parent
    paths = ladder.stage_paths()
    per_stage = split_overrides(overrides, list(paths))
    previous_dir, upstream = ladder.base_model, None
    outcomes = []
    for stage, rel in paths.items():
        path = base / rel
        extra = [] if previous_dir is None else [f"model.name_or_path={json.dumps(str(previous_dir))}"]
        cfg = load_config(path, [*per_stage[stage], *extra])
        check_stage(cfg, stage, str(path))
        fingerprint = {"stage": stage, "config_sha256": config_sha256(cfg), "upstream_run_id": upstream}
        # Every process decides from the same on-disk state: all read before the main process writes anything.
        marker = read_marker(cfg.output_dir)
        same = marker is not None and all(marker.get(k) == v for k, v in fingerprint.items())
        resume = same and latest_checkpoint(cfg.output_dir) is not None
        barrier()
        if same and marker.get("status") == "done":
            logger.info("%s: finished before with this config (%s); skipped", stage, cfg.output_dir)
            outcomes.append(StageOutcome(stage, cfg.output_dir, "skipped"))
        else:
            if is_main_process():
                if marker is not None and not same:
                    logger.warning("%s: config or upstream changed; rerunning from scratch", stage)
                write_marker(cfg.output_dir, {**fingerprint, "status": "running"})
            barrier()
            logger.info("%s: %s from %s", stage, "resuming" if resume else "training", cfg.model.name_or_path)
            # changed: start over (the policy removes the stale checkpoints); no marker at all: a folder from a
            # standalone run, resumed only if its config hash is this one's
            result = run_stage(
                stage, cfg, resume=True if resume else (None if marker is None else False), source=str(path)
            )
            if is_main_process():
                write_marker(cfg.output_dir, {**fingerprint, "status": "done", "run_id": uuid.uuid4().hex})
            barrier()
            marker = read_marker(cfg.output_dir)  # every process takes the main process's run id downstream
            outcomes.append(StageOutcome(stage, cfg.output_dir, "resumed" if result.resumed_from else "trained"))
        previous_dir, upstream = cfg.output_dir, marker["run_id"]
    return outcomes


def train_command(
    stage: str, config: str | Path, overrides: Sequence[str] = (), resume: bool | None = None
) -> list[str]:
    """The ``spatialladder train`` command: returns the lines to print (only on the main process).

    ``resume`` (``--resume`` / ``--no-resume``, None without either) forces one stage's resume policy; with
    ``--stage all`` each rung's marker decides, so forcing is refused rather than ignored.
    """
    if stage == vocab.ALL_STAGES:
        if resume is not None:
            flag = "--resume" if resume else "--no-resume"
            raise ConfigError(
                f"{flag} applies to one stage; with --stage all each rung resumes, reruns or is skipped by its "
                f"{MARKER_NAME} (run the rung alone with --stage NAME {flag} to force it)"
            )
        ladder = validate_mapping(read_yaml(config), LadderConfig, source=str(config))
        lines = [f"{o.stage}: {o.action} → {o.output_dir}" for o in run_ladder(ladder, config, overrides)]
    else:
        name = canonical_stage(stage)
        cfg = load_config(config, overrides)
        check_stage(cfg, name, str(config))
        result = run_stage(name, cfg, resume=resume, source=str(config))
        step = getattr(result, "global_step", None)
        lines = [f"{name}: done → {cfg.output_dir}" + ("" if step is None else f" (step {step})")]
    return lines if is_main_process() else []
