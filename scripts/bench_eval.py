"""Benchmark `spatialladder eval` throughput: questions/second of the tiny Qwen2.5-VL on a synthetic VSI-Bench set.

Usage: OMP_NUM_THREADS=1 python scripts/bench_eval.py [--questions 96] [--frames 8] [--batch-sizes 1 4 8]

Writes a synthetic VSI-Bench folder (parquet + mp4s) and the tiny random model once, then, for each batch size, a
fresh subprocess loads the model and runs one warm-up batch (not timed), then predicts every question with
``predict_shard`` (timed: frame decoding, prompt building, processor, greedy ``generate``, appending predictions).
Peak RSS is the subprocess's.
Prints one JSON line per batch size and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
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


def run_one(data: Path, model: Path, out: Path, batch_size: int, frames: int, max_new_tokens: int) -> dict:
    import torch

    from spatialladder.config.base import ModelSettings
    from spatialladder.config.eval import EvalConfig
    from spatialladder.eval import get_benchmark
    from spatialladder.eval.runner import HFGenerator, predict_shard

    torch.set_num_threads(1)
    cfg = EvalConfig(
        kind="eval",
        bench="vsibench",
        data_dir=str(data),
        output_dir=str(out),
        model=ModelSettings(name_or_path=str(model), dtype="float32", min_pixels=28 * 28, max_pixels=28 * 28 * 16),
        prompt="direct",
        frames=frames,
        batch_size=batch_size,
        generation={"max_new_tokens": max_new_tokens},
    )
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    generate = HFGenerator(cfg)
    from spatialladder.eval.runner import build_message

    generate([build_message(s, spec, cfg.prompt, frames) for s in samples[:batch_size]])  # warm-up, not timed
    t0 = time.perf_counter()
    n_generated, _ = predict_shard(cfg, spec, samples, generate=generate)
    seconds = time.perf_counter() - t0
    return {
        "batch_size": batch_size,
        "questions": n_generated,
        "seconds": round(seconds, 2),
        "questions_per_s": round(n_generated / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--_run", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args._run is not None:
        data, model, out, batch = args._run
        print(json.dumps(run_one(Path(data), Path(model), Path(out), int(batch), args.frames, args.max_new_tokens)))
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
            "--_run",
            str(data),
            str(model),
            str(workdir / f"out_b{batch}"),
            str(batch),
        ]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        rows.append(json.loads(line))
        print(line, flush=True)
    base = rows[0]["questions_per_s"]
    print("\n| batch size | questions/s | speed-up vs first | peak RSS (MiB) |\n|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['batch_size']} | {row['questions_per_s']:.2f} | {row['questions_per_s'] / base:.2f}x "
            f"| {row['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
