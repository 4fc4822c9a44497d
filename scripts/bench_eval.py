"""Benchmark `spatialladder eval` throughput: questions/second of the tiny Qwen2.5-VL on a synthetic VSI-Bench set.

Usage: OMP_NUM_THREADS=1 python scripts/bench_eval.py [--questions 96] [--frames 8] [--batch-sizes 1 4 8] [--repeats 3]

Writes a synthetic VSI-Bench folder (parquet + mp4s) and the tiny random model once, then, for each batch size, a
fresh subprocess loads the model and runs one warm-up batch (not timed), then predicts every question with
``predict_shard`` ``--repeats`` times into fresh output folders (timed: frame decoding, prompt building, processor,
greedy ``generate``, appending predictions). Reported: the median over repeats of questions per wall-clock second
and per second of this process's CPU time (the latter moves less when other jobs share the cores; with one torch
thread the two agree on an idle machine). Peak RSS is the subprocess's; load is the 1-minute load average.
Prints one JSON line per batch size and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_inputs(workdir: Path, questions: int) -> tuple[Path, Path]:
    from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_vsibench
    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl

    opts = ["A. bed", "B. tv", "C. sofa", "D. lamp"]
    items = []
    for i in range(questions):
        frames = solid_frames(24, size=(112, 112), seed=i % 4)
        scene = f"scene{i % 4:04d}_00"
        if i % 2:
            items.append(
                BenchItem("object_rel_distance", f"Which is closest to object {i}?", "A", scene, frames, options=opts)
            )
        else:
            items.append(BenchItem("object_counting", f"How many chair(s) are in room {i}?", "2", scene, frames))
    return write_vsibench(items, workdir / "vsi"), build_tiny_qwen2_5_vl(workdir / "model")


def run_one(
    data: Path, model: Path, out: Path, batch_size: int, frames: int, max_new_tokens: int, repeats: int
) -> dict:
    import torch

    from spatialladder.config.base import ModelSettings
    from spatialladder.config.eval import EvalConfig
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.generation import HFGenerator
    from spatialladder.eval.predict import predict_shard

    torch.set_num_threads(1)
    cfg = EvalConfig(
        kind="eval",
        bench="vsibench",
        data_dir=str(data),
        output_dir=str(out),
        model=ModelSettings(name_or_path=str(model), dtype="float32", min_pixels=28 * 28, max_pixels=28 * 28 * 16),
        prompt="direct",
        input_protocol="direct",  # the docs/benchmarks.md figures: frames straight to the processor
        frames=frames,
        batch_size=batch_size,
        generation={"max_new_tokens": max_new_tokens},
    )
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    generate = HFGenerator(cfg)
    from spatialladder.eval.messages import build_message

    generate([build_message(s, spec, cfg.prompt, frames) for s in samples[:batch_size]])  # warm-up, not timed
    wall, cpu, load = [], [], [os.getloadavg()[0]]
    for rep in range(repeats):
        run_cfg = cfg.model_copy(update={"output_dir": str(out / f"rep{rep}")})
        t0, c0 = time.perf_counter(), time.process_time()
        n_generated, _ = predict_shard(run_cfg, spec, samples, generate=generate)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if n_generated != len(samples):
            raise RuntimeError(f"repeat {rep} generated {n_generated} of {len(samples)} questions")
    load.append(os.getloadavg()[0])
    return {
        "batch_size": batch_size,
        "questions": len(samples),
        "wall_s": [round(s, 2) for s in wall],
        "questions_per_s": round(len(samples) / statistics.median(wall), 2),
        "questions_per_cpu_s": round(len(samples) / statistics.median(cpu), 2),
        "load_1min": [round(x, 2) for x in load],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--_run", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args._run is not None:
        data, model, out, batch = args._run
        row = run_one(Path(data), Path(model), Path(out), int(batch), args.frames, args.max_new_tokens, args.repeats)
        print(json.dumps(row))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_eval_"))
    data, model = make_inputs(workdir, args.questions)
    rows = []
    for batch in args.batch_sizes:
        cmd = [
            sys.executable,
            __file__,
            "--frames",
            str(args.frames),
            "--max-new-tokens",
            str(args.max_new_tokens),
            "--repeats",
            str(args.repeats),
            "--_run",
            str(data),
            str(model),
            str(workdir / f"out_b{batch}"),
            str(batch),
        ]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        rows.append(json.loads(line))
        print(line, flush=True)
    base, base_cpu = rows[0]["questions_per_s"], rows[0]["questions_per_cpu_s"]
    print(
        "\n| batch size | questions/s (wall) | speed-up | questions/CPU-s | speed-up | load (start → end) "
        "| peak RSS (MiB) |"
        "\n|---:|---:|---:|---:|---:|---|---:|"
    )
    for row in rows:
        print(
            f"| {row['batch_size']} | {row['questions_per_s']:.2f} | {row['questions_per_s'] / base:.2f}x "
            f"| {row['questions_per_cpu_s']:.2f} | {row['questions_per_cpu_s'] / base_cpu:.2f}x "
            f"| {row['load_1min'][0]:.1f} → {row['load_1min'][1]:.1f} | {row['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
