"""The demo's steps in order, each run once and recorded so a rerun reuses it; the two that run the library's
workflows on what ``build`` made: the ladder (``train --stage all``) and every evaluation."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable

from spatialladder.errors import ConfigError
from spatialladder.vocab import RECORD_FILES, RECORD_KIND_OF_STAGE, SFT_STAGES, STAGE_DIRS
from spatialladder_demo.build import build_benchmarks, build_data, build_model, write_scenes
from spatialladder_demo.plan import EVAL_RUNS, STEPS, DemoPlan, DemoResult
from spatialladder_demo.report import write_report

logger = logging.getLogger(__name__)


def run_demo(plan: DemoPlan) -> DemoResult:
    """Run (or resume) every demo step in order and return where the report is."""
    if not plan.configs_dir.is_dir():
        raise ConfigError(f"demo configs folder {plan.configs_dir} not found (run from the repository root)")
    if plan.train_scenes < 2 or plan.heldout_scenes < 1:
        raise ConfigError("demo: --scenes must be ≥ 2 (training scans) and held-out scans ≥ 1")
    result = DemoResult(report=plan.path("report.md"))
    actions: dict[str, Callable[[DemoPlan], None]] = {
        "scenes": write_scenes,
        "data": build_data,
        "benchmarks": build_benchmarks,
        "model": build_model,
        "ladder": train_ladder,
        "eval": evaluate_all,
        "report": write_report,
    }
    state_dir = plan.path(".demo_state")
    state_dir.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        marker = state_dir / f"{step}.json"
        fingerprint = plan.fingerprint(step)
        if marker.is_file() and json.loads(marker.read_text())["fingerprint"] == fingerprint:
            logger.info("demo step %s: finished before, reused", step)
            result.steps[step] = "reused"
            continue
        logger.info("demo step %s: running", step)
        actions[step](plan)
        marker.write_text(json.dumps({"step": step, "fingerprint": fingerprint}))
        result.steps[step] = "ran"
    return result


def summary(result: DemoResult) -> str:
    ran = Counter(result.steps.values())
    return f"report: {result.report} (steps ran: {ran.get('ran', 0)}, reused: {ran.get('reused', 0)})"


def _stage_overrides(plan: DemoPlan) -> list[str]:
    data = plan.path("data")
    out = []
    for name, stage in STAGE_DIRS.items():
        file = data / RECORD_FILES[RECORD_KIND_OF_STAGE[stage]]
        out += [
            f"{stage}.output_dir={plan.model_dir(name)}",
            f"{stage}.data.files=[{json.dumps(str(file))}]",
            f"{stage}.seed={plan.seed}",
            *(f"{stage}.{key}={value}" for key, value in plan.pixel_overrides().items()),
        ]
    if plan.smoke:
        out += [f"{s}.trainer.max_steps=3" for s in SFT_STAGES]
        out += ["grpo.trainer.max_steps=2"]
    return out


def train_ladder(plan: DemoPlan) -> None:
    """``spatialladder train --stage all`` with the demo ladder, starting from the tiny base model."""
    from spatialladder.config.ladder import LadderConfig
    from spatialladder.config.load import read_yaml, validate_mapping
    from spatialladder.train.ladder import run_ladder

    path = plan.configs_dir / "ladder.yaml"
    raw = {**read_yaml(path), "base_model": str(plan.model_dir("base"))}
    ladder = validate_mapping(raw, LadderConfig, source=str(path))
    for outcome in run_ladder(ladder, path, _stage_overrides(plan)):
        logger.info("ladder %s: %s", outcome.stage, outcome.action)


def evaluate_all(plan: DemoPlan) -> None:
    """``spatialladder eval`` for every (model, bench, prompt) in ``EVAL_RUNS``."""
    from spatialladder.config.eval import build_eval_config
    from spatialladder.eval.runner import run_eval

    for model, bench, prompt in EVAL_RUNS:
        # thinking needs room for <think>…</think><answer>…</answer>; the smoke run only checks the plumbing
        tokens = 8 if plan.smoke else (256 if prompt == "thinking" else 12)
        cfg = build_eval_config(
            str(plan.configs_dir / "eval.yaml"),
            [
                f"prompt={prompt}",
                f"seed={plan.seed}",
                f"generation.max_new_tokens={tokens}",
                *(f"{key}={value}" for key, value in plan.eval_overrides().items()),
            ],
            bench=bench,
            model=str(plan.model_dir(model)),
            data=str(plan.path("benchmarks", bench)),
            out=str(plan.eval_dir(model, prompt, bench)),
        )
        run_eval(cfg)
