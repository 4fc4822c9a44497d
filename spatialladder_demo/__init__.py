"""``spatialladder demo``: the whole ladder end to end on synthetic ScanNet scenes and a tiny random Qwen2.5-VL.

An application on top of the library, not part of it: it runs every rung a real user runs through the library's
public functions (build-data, ``train --stage all``, ``eval``), only smaller: synthetic scans written in the real
ScanNet formats by ``spatialladder.testing``, a locally built tiny model, CPU settings from ``configs/demo/``. The
library never imports it; ``spatialladder demo`` does, lazily.

Each step records that it finished (with a fingerprint of its inputs) under ``<out>/.demo_state/``, so an
interrupted demo resumes where it stopped; inside a step, build-data shards, the ladder's stage markers and trainer
checkpoints, and eval's predictions files resume the work in flight.

A random 0.4 M-parameter model can at best learn answer priors; the report says so and nothing is tuned to
manufacture gains.

Modules by job: ``plan`` (what runs: sizes, seed, folders, every evaluation), ``steps`` (the steps in order,
resumable; the ladder and the evaluations), ``build`` (scans, datasets, benchmarks, base model), ``report``
(``report.md`` and the training curves).
"""

from __future__ import annotations

from spatialladder_demo.plan import BENCHES, EVAL_RUNS, MODELS, STEPS, DemoPlan, DemoResult
from spatialladder_demo.steps import run_demo, summary

__all__ = ["BENCHES", "EVAL_RUNS", "MODELS", "STEPS", "DemoPlan", "DemoResult", "run_demo", "summary"]
