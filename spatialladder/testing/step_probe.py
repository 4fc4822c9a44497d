"""Run one stage or eval through its real entry point in a fresh process and record what it cost and what it saw.

``python -m spatialladder.testing.step_probe sft|grpo|eval CONFIG OUT_JSON [--threads N] [dotted.key=value ...]``
loads ``CONFIG`` with the overrides exactly as the CLI does, calls ``run_sft`` / ``run_grpo`` / ``run_eval`` and
writes a JSON with the wall seconds, the trainer's own step time, the process's peak RSS, and every forward of a
Qwen2.5-VL vision tower (its ``grid_thw`` and whether autograd was on). A fresh process per step makes the peak RSS
that step's alone; the vision record is how the slow tier checks that frames of the real size reached the model and
that GRPO ran the vision tower in its loss pass.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

VISION_TOWER_CLASSES = frozenset(
    {
        "Qwen2_5_VisionTransformerPretrainedModel",
        "Qwen3VLVisionModel",
        "Qwen3VLMoeVisionModel",
        "Qwen3_5VisionModel",
        "Qwen3_5MoeVisionModel",
    }
)
"""The vision towers of every family (transformers 5.24: qwen2_5_vl, qwen3_vl(_moe), qwen3_5(_moe))."""


def record_vision_forwards() -> list[dict[str, Any]]:
    """A global forward hook: one entry per vision-tower forward (policy, reference and eval models alike)."""
    import torch

    calls: list[dict[str, Any]] = []

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        if type(module).__name__ not in VISION_TOWER_CLASSES:
            return
        grid = kwargs.get("grid_thw", args[1] if len(args) > 1 else None)
        calls.append(
            {
                "model": id(module),
                "grad": torch.is_grad_enabled(),
                "grid_thw": grid.tolist() if grid is not None else None,
            }
        )

    torch.nn.modules.module.register_module_forward_hook(hook, with_kwargs=True)
    return calls


def peak_rss_bytes() -> int:
    """This process's peak resident set (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _train_runtime(log_history: list[dict[str, Any]]) -> float | None:
    return next((row["train_runtime"] for row in reversed(log_history) if "train_runtime" in row), None)


def run(kind: str, config: str, overrides: list[str]) -> dict[str, Any]:
    from spatialladder.config.load import load_config

    cfg = load_config(config, overrides)
    calls = record_vision_forwards()
    start = time.perf_counter()
    facts: dict[str, Any] = {}
    if kind == "sft":
        from spatialladder.train.sft import run_sft

        result = run_sft(cfg, source=config)
        facts = {"global_step": result.global_step, "train_loss": result.train_loss}
    elif kind == "grpo":
        from spatialladder.train.grpo import run_grpo

        result = run_grpo(cfg, source=config)
        facts = {"global_step": result.global_step, "rows": result.rows, "log_history": result.log_history}
    elif kind == "eval":
        from spatialladder.eval.runner import run_eval

        result = run_eval(cfg)
        facts = {"results": result.results}
    else:
        raise SystemExit(f"kind {kind!r}: expected sft, grpo or eval")
    wall_s = time.perf_counter() - start
    log = facts.pop("log_history", None)
    if kind == "sft":  # run_sft returns no log; it keeps the trainer's log beside the weights
        from spatialladder.train.artifacts import LOG_NAME

        lines = (Path(cfg.output_dir) / LOG_NAME).read_text(encoding="utf-8").splitlines()
        log = [json.loads(line) for line in lines if line.strip()]
    facts["log_history"] = log
    return {
        "kind": kind,
        "wall_s": wall_s,
        "train_runtime_s": _train_runtime(log) if log else None,
        "peak_rss_bytes": peak_rss_bytes(),
        "vision_calls": calls,
        **facts,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["sft", "grpo", "eval"])
    parser.add_argument("config")
    parser.add_argument("out_json")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("overrides", nargs="*", help="dotted.key=value, as --set takes them")
    args = parser.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = run(args.kind, args.config, args.overrides)
    Path(args.out_json).write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
