"""Benchmark SFT training throughput: our stage-2 ``run_sft`` against a plain ``trl.SFTTrainer`` on the same rows.

Usage: OMP_NUM_THREADS=1 python scripts/bench_train.py [--epochs 20] [--repeats 3] [--batch-size 2] [--frames 4]

Writes the tiny random Qwen2.5-VL and the tiny stage-2 records (4 single-image, 4 eight-view, 4 video rows) once,
then, in this one process, alternates ``repeats`` times:

- ours: ``run_sft`` on the stage-2 config (rows, collator, trainer, then saving model, log, curve and card);
- plain: ``trl.SFTTrainer`` with trl's own VLM collator, the same ``trl.SFTConfig`` and the same lazily built rows.

Timed: the trainer's own ``train_runtime`` (the training loop: data loading, collation, forward, backward,
optimizer). ``run_sft``'s end-to-end wall time (with model loading and saving) is reported beside it. Each variant
sees every record exactly ``epochs`` times, so its token counts are ``epochs`` × the per-record counts of its own
collator: total = non-padding tokens, supervised = tokens with a label. Peak RSS is this process's (it only grows).
Prints one JSON line per run and a Markdown summary (medians).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage2_config(model: Path, records: Path, out: Path, steps: int, batch_size: int, frames: int) -> Any:
    from spatialladder.config.load import validate_mapping
    from spatialladder.config.sft import SFTStageConfig

    raw = {
        "kind": "sft",
        "stage": "spatial",
        "output_dir": str(out),
        "seed": 0,
        "model": {"name_or_path": str(model), "dtype": "float32", "min_pixels": 28 * 28, "max_pixels": 28 * 28 * 16},
        "data": {"files": [str(records)], "video_frames": frames},
        "trainer": {
            "bf16": False,
            "use_cpu": True,
            "activation_checkpointing": False,
            "report_to": "none",
            "save_strategy": "no",
            "logging_steps": 10,
            "max_steps": steps,
            "per_device_train_batch_size": batch_size,
            "learning_rate": 1e-4,
            "disable_tqdm": True,
            "dataloader_num_workers": 0,
        },
    }
    return validate_mapping(raw, SFTStageConfig)


def token_counts(collator: Any, rows: Any) -> tuple[int, int]:
    """(total, supervised) tokens over one pass of the rows, each row collated alone (so no padding)."""
    total = supervised = 0
    for i in range(len(rows)):
        batch = collator([rows.row(i)])
        total += int(batch["attention_mask"].sum())
        supervised += int((batch["labels"] != -100).sum())
    return total, supervised


def run_ours(cfg: Any) -> dict[str, Any]:
    from spatialladder.train.artifacts import LOG_NAME
    from spatialladder.train.sft import run_sft

    start = time.perf_counter()
    result = run_sft(cfg, resume=False)
    wall = time.perf_counter() - start
    log = [json.loads(x) for x in (Path(cfg.output_dir) / LOG_NAME).read_text().splitlines()]
    runtime = next(e["train_runtime"] for e in reversed(log) if "train_runtime" in e)
    return {"variant": "ours", "steps": result.global_step, "train_runtime_s": runtime, "wall_s": wall}


def run_plain(cfg: Any, out: Path) -> tuple[dict[str, Any], Any]:
    """trl alone: its default VLM collator, the foundation loader for the model, the same rows and SFTConfig."""
    from trl import SFTTrainer

    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.sft import sft_rows
    from spatialladder.train.sft_rows import load_samples
    from spatialladder.train.trl_args import to_sft_args

    cfg = cfg.model_copy(update={"output_dir": str(out)})
    loaded = load_model_and_processor(cfg.model, for_training=True)
    rows = sft_rows(cfg, load_samples(cfg)[0], loaded.processor)
    trainer = SFTTrainer(
        model=loaded.model, args=to_sft_args(cfg), train_dataset=rows.as_dataset(), processing_class=loaded.processor
    )
    output = trainer.train()
    stats = {"variant": "plain", "steps": trainer.state.global_step, "train_runtime_s": output.metrics["train_runtime"]}
    return stats, trainer.data_collator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--frames", type=int, default=4)
    ns = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    from spatialladder.models.load import load_model_and_processor
    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl
    from spatialladder.testing.tiny_records import write_tiny_records
    from spatialladder.train.sft import sft_collator, sft_rows
    from spatialladder.train.sft_rows import load_samples

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model = build_tiny_qwen2_5_vl(work / "model")
    records = write_tiny_records(work / "data")["spatial"]
    probe = stage2_config(model, records, work / "probe", 1, ns.batch_size, ns.frames)
    samples = load_samples(probe)[0]
    steps = ns.epochs * math.ceil(len(samples) / ns.batch_size)
    if len(samples) % ns.batch_size:
        sys.exit(f"--batch-size {ns.batch_size} must divide the {len(samples)} records (whole epochs only)")

    runs: list[dict[str, Any]] = []
    plain_collator = None
    for r in range(ns.repeats):
        cfg = stage2_config(model, records, work / f"ours-{r}", steps, ns.batch_size, ns.frames)
        runs.append({**run_ours(cfg), "repeat": r, "peak_rss_mib": peak_rss_mib()})
        print(json.dumps(runs[-1]), flush=True)
        stats, plain_collator = run_plain(cfg, work / f"plain-{r}")
        runs.append({**stats, "repeat": r, "peak_rss_mib": peak_rss_mib()})
        print(json.dumps(runs[-1]), flush=True)

    processor = load_model_and_processor(probe.model).processor
    rows = sft_rows(probe, samples, processor)
    per_epoch = {
        "ours": token_counts(sft_collator(probe, processor, None), rows),
        "plain": token_counts(plain_collator, rows),
    }
    summary = {}
    for variant in ("ours", "plain"):
        mine = [x for x in runs if x["variant"] == variant]
        assert all(x["steps"] == steps for x in mine), mine
        runtime = statistics.median(x["train_runtime_s"] for x in mine)
        total, supervised = (ns.epochs * n for n in per_epoch[variant])
        summary[variant] = {
            "train_runtime_s": runtime,
            "total_tokens": total,
            "supervised_tokens": supervised,
            "total_tok_s": total / runtime,
            "supervised_tok_s": supervised / runtime,
        }
    ours_wall = statistics.median(x["wall_s"] for x in runs if x["variant"] == "ours")
    ratio = summary["ours"]["total_tok_s"] / summary["plain"]["total_tok_s"]
    step_ratio = summary["plain"]["train_runtime_s"] / summary["ours"]["train_runtime_s"]
    print(json.dumps({"summary": summary, "ratio_total_tok_s": ratio, "ratio_steps_s": step_ratio}))
    print(
        f"\n{len(samples)} stage-2 records (4 single-image, 4 eight-view, 4 video x {ns.frames} frames), "
        f"batch {ns.batch_size}, {steps} steps ({ns.epochs} epochs), median of {ns.repeats}\n"
    )
    print("| variant | train loop s | total tokens | supervised tokens | total tok/s | supervised tok/s |")
    print("|---|---|---|---|---|---|")
    for variant, label in (("ours", "ours (`run_sft`)"), ("plain", "plain `trl.SFTTrainer`")):
        s = summary[variant]
        print(
            f"| {label} | {s['train_runtime_s']:.2f} | {s['total_tokens']} | {s['supervised_tokens']} | "
            f"{s['total_tok_s']:.0f} | {s['supervised_tok_s']:.0f} |"
        )
    print(
        f"\nratio ours/plain: {ratio:.2f} in total tokens/s, {step_ratio:.2f} in steps/s; "
        f"run_sft end to end (load + train + save): {ours_wall:.2f} s; peak RSS {peak_rss_mib():.0f} MiB"
    )


if __name__ == "__main__":
    main()
