"""Benchmark `spatialladder eval` throughput: questions/second of the tiny Qwen2.5-VL on a synthetic VSI-Bench set.

Usage: OMP_NUM_THREADS=1 python scripts/bench_eval.py [--questions 96] [--frames 8] [--batch-sizes 1 4 8] [--repeats 3]
       OMP_NUM_THREADS=1 python scripts/bench_eval.py --questions-per-video 18 [--videos 4] [--frames 32]
           [--batch-sizes 8] [--input-protocol direct|official] [--repeats 3]
       OMP_NUM_THREADS=1 python scripts/bench_eval.py --questions-per-video 4 --videos 5 --world-size 2 [--frames 32]

Writes a synthetic VSI-Bench folder (parquet + mp4s) and the tiny random model once, then, for each batch size, a
fresh subprocess loads the model and runs one warm-up batch (not timed), then predicts every question with
``predict_shard`` ``--repeats`` times into fresh output folders (timed: frame decoding, prompt building, processor,
greedy ``generate``, appending predictions). Reported: the median over repeats of questions per wall-clock second
and per second of this process's CPU time (the latter moves less when other jobs share the cores; with one torch
thread the two agree on an idle machine). Peak RSS is the subprocess's; load is the 1-minute load average.
Prints one JSON line per batch size and a Markdown table.

``--questions-per-video N`` compares one encoding per video (``share_video_prefix: true``) with today's batched path
(``false``) on VSI-Bench's structure: ``--videos`` videos of 64 frames, N questions each (VSI-Bench: ~18 a video,
32 frames sampled), the questions of different videos interleaved in the file as VSI-Bench's are. One subprocess
loads the model once; after one untimed warm-up pass of each, the two paths run alternately ``--repeats`` times
(same questions, same generator, fresh output folders). Prints one JSON line holding ``speedup_vs_batched`` (median
questions per wall-clock second of the shared path / the batched path), the same ratio per second of this process's
CPU time (``speedup_vs_batched_cpu``, steadier when other jobs share the cores) and whether the two wrote identical
predictions.

``--questions-per-video N --world-size W`` measures what sharding a ``W``-process eval leaves each rank (one encoding
per video on): each rank's shard of the same interleaved questions is predicted by its own fresh subprocess (a
process of the launch), one rank after another (on 2 cores, running them at once would measure contention), one
untimed pass then ``--repeats`` timed ones. Prints one JSON line per rank (questions, distinct videos, vision
encodings: videos through the vision tower in the last pass, median wall and CPU seconds) and one summary line
(encodings over all ranks, the slowest rank's median seconds: the launch's wall time with the ranks in parallel).
Use an odd ``--videos`` with ``W`` = 2: with an even one the interleaved file puts question ``i`` on video ``i %
videos``, so a deal by index would happen to keep each video on one rank.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


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


QUESTION_KINDS = (
    ("object_counting", "How many chair(s) are in this room?", None),
    (
        "object_abs_distance",
        "Measuring from the closest point of each object, what is the direct distance between "
        "the sofa and the lamp (in meters)?",
        None,
    ),
    (
        "object_size_estimation",
        "What is the length of the longest dimension (length, width, or height) of the table, measured in centimeters?",
        None,
    ),
    (
        "room_size_estimation",
        "What is the size of this room (in square meters)? If multiple rooms are shown, "
        "estimate the size of the combined space.",
        None,
    ),
    (
        "object_rel_distance",
        "Which of these objects (bed, tv, sofa, lamp) is the closest to the door?",
        ["A. bed", "B. tv", "C. sofa", "D. lamp"],
    ),
    (
        "object_rel_direction_medium",
        "If I am standing by the door and facing the window, is the tv to my left, right, or back?",
        ["A. left", "B. right", "C. back"],
    ),
)


def make_video_inputs(workdir: Path, videos: int, per_video: int) -> tuple[Path, Path]:
    """``videos`` 64-frame videos with ``per_video`` questions each, interleaved (question q of every video, then
    q + 1), ``QUESTION_KINDS``' texts (close to VSI-Bench's, not verbatim) cycled; ids are the question's position
    in the file."""
    from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_vsibench
    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl

    clips = [solid_frames(64, size=(112, 112), seed=v) for v in range(videos)]
    items = []
    for q in range(per_video):
        kind, text, options = QUESTION_KINDS[q % len(QUESTION_KINDS)]
        for v in range(videos):
            answer = "A" if options else "2"
            items.append(BenchItem(kind, f"{text} ({q})", answer, f"scene{v:04d}_00", clips[v], options=options))
    return write_vsibench(items, workdir / "vsi_videos"), build_tiny_qwen2_5_vl(workdir / "model")


def bench_config(data: Path, model: Path, out: Path, batch_size: int, frames: int, max_new_tokens: int, **extra) -> Any:
    """The eval config both measurements use: tiny model in fp32, VSI-Bench, ``--prompt direct``, greedy."""
    from spatialladder.config.base import ModelSettings
    from spatialladder.config.eval import EvalConfig

    return EvalConfig(
        kind="eval",
        bench="vsibench",
        data_dir=str(data),
        output_dir=str(out),
        model=ModelSettings(name_or_path=str(model), dtype="float32", min_pixels=28 * 28, max_pixels=28 * 28 * 16),
        prompt="direct",
        frames=frames,
        batch_size=batch_size,
        generation={"max_new_tokens": max_new_tokens},
        **extra,
    )


def compare_paths(
    data: Path, model: Path, out: Path, batch_size: int, frames: int, max_new_tokens: int, repeats: int, protocol: str
) -> dict:
    """Shared-prefix path vs. today's batched path, alternated in one process on one loaded generator."""
    import torch

    from spatialladder.eval import get_benchmark
    from spatialladder.eval.generation import HFGenerator
    from spatialladder.eval.predict import predict_shard
    from spatialladder.eval.sharding import PREDICTIONS, read_predictions

    torch.set_num_threads(1)
    cfg = bench_config(data, model, out, batch_size, frames, max_new_tokens, input_protocol=protocol)
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    generate = HFGenerator(cfg)
    shutil.rmtree(out, ignore_errors=True)  # this bench's own folder: a rerun must predict again, not resume
    walls: dict[bool, list[float]] = {True: [], False: []}
    cpus: dict[bool, list[float]] = {True: [], False: []}
    predictions: dict[bool, dict] = {}
    load = [os.getloadavg()[0]]
    for rep in range(-1, repeats):  # rep -1: warm-up of both paths, not timed
        for share in (True, False) if rep % 2 else (False, True):
            run_cfg = cfg.model_copy(update={"output_dir": str(out / f"{share}_{rep}"), "share_video_prefix": share})
            t0, c0 = time.perf_counter(), time.process_time()
            n_generated, _ = predict_shard(run_cfg, spec, samples, generate=generate)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if n_generated != len(samples):
                raise RuntimeError(f"repeat {rep} generated {n_generated} of {len(samples)} questions")
            if rep >= 0:
                walls[share].append(wall)
                cpus[share].append(cpu)
            predictions[share] = read_predictions(out / f"{share}_{rep}" / PREDICTIONS)
    load.append(os.getloadavg()[0])
    shared_q_s = len(samples) / statistics.median(walls[True])
    batched_q_s = len(samples) / statistics.median(walls[False])
    return {
        "questions": len(samples),
        "videos": len({s.video for s in samples}),
        "frames": frames,
        "batch_size": batch_size,
        "input_protocol": protocol,
        "max_new_tokens": max_new_tokens,
        "batched_q_per_s": round(batched_q_s, 2),
        "shared_q_per_s": round(shared_q_s, 2),
        "speedup_vs_batched": round(shared_q_s / batched_q_s, 2),
        "speedup_vs_batched_cpu": round(statistics.median(cpus[False]) / statistics.median(cpus[True]), 2),
        "predictions_identical": predictions[True] == predictions[False],
        "batched_wall_s": [round(x, 2) for x in walls[False]],
        "shared_wall_s": [round(x, 2) for x in walls[True]],
        "load_1min": [round(x, 2) for x in load],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_rank(
    data: Path,
    model: Path,
    out: Path,
    batch_size: int,
    frames: int,
    max_new_tokens: int,
    repeats: int,
    protocol: str,
    rank: int,
    world_size: int,
) -> dict:
    """Rank ``rank`` of a ``world_size``-process eval: its shard, one encoding per video, as its own process."""
    import torch

    from spatialladder.eval import get_benchmark
    from spatialladder.eval.generation import HFGenerator
    from spatialladder.eval.predict import predict_shard
    from spatialladder.eval.sharding import read_predictions, shard_path
    from spatialladder.eval.shared_prefix import SharedVideoPrefix

    torch.set_num_threads(1)
    cfg = bench_config(
        data, model, out, batch_size, frames, max_new_tokens, input_protocol=protocol, share_video_prefix=True
    )
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    video_of = {s.id: s.video for s in samples}
    generate = HFGenerator(cfg)
    encoded: list[int] = []  # videos (grid rows) per vision-tower call

    def count(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        grid = kwargs["grid_thw"] if "grid_thw" in kwargs else args[1]
        encoded.append(len(grid))

    generate.model.model.visual.register_forward_hook(count, with_kwargs=True)
    shutil.rmtree(out, ignore_errors=True)  # this bench's own folder: a rerun must predict again, not resume
    wall, cpu, load = [], [], [os.getloadavg()[0]]
    for rep in range(-1, repeats):  # rep -1: warm-up, not timed
        generate.shared = SharedVideoPrefix(generate)  # no video state carried over, as in a fresh process
        encoded.clear()
        run_cfg = cfg.model_copy(update={"output_dir": str(out / f"rep{rep}")})
        t0, c0 = time.perf_counter(), time.process_time()
        predict_shard(run_cfg, spec, samples, rank=rank, world_size=world_size, generate=generate)
        if rep >= 0:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    load.append(os.getloadavg()[0])
    ids = sorted(read_predictions(shard_path(out / f"rep{repeats - 1}", rank, world_size)), key=int)
    return {
        "rank": rank,
        "world_size": world_size,
        "questions": len(ids),
        "videos": len({video_of[i] for i in ids}),
        "vision_encodings": sum(encoded),
        "wall_s": round(statistics.median(wall), 3),
        "cpu_s": round(statistics.median(cpu), 3),
        "ids": ids,
        "load_1min": [round(x, 2) for x in load],
    }


def run_one(
    data: Path, model: Path, out: Path, batch_size: int, frames: int, max_new_tokens: int, repeats: int
) -> dict:
    import torch

    from spatialladder.eval import get_benchmark
    from spatialladder.eval.generation import HFGenerator
    from spatialladder.eval.predict import predict_shard

    torch.set_num_threads(1)
    cfg = bench_config(
        data,
        model,
        out,
        batch_size,
        frames,
        max_new_tokens,
        input_protocol="direct",  # the docs/benchmarks.md figures: frames straight to the processor
        share_video_prefix=False,  # the batched path of those figures; --questions-per-video compares the two
    )
    spec = get_benchmark("vsibench")
    samples = spec.load(data)
    generate = HFGenerator(cfg)
    from spatialladder.eval.messages import build_message

    generate([build_message(s, spec, cfg.prompt, frames) for s in samples[:batch_size]])  # warm-up, not timed
    shutil.rmtree(out, ignore_errors=True)  # this bench's own folder: a rerun must predict again, not resume
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


def shard_ranks(args: argparse.Namespace) -> None:
    """Every rank of a ``--world-size`` launch, one subprocess each, one after another; then the summary."""
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_eval_"))
    data, model = make_video_inputs(workdir, args.videos, args.questions_per_video)
    batch = args.batch_sizes[0]
    rows = []
    for rank in range(args.world_size):
        cmd = [sys.executable, __file__, "--frames", str(args.frames), "--max-new-tokens", str(args.max_new_tokens)]
        cmd += ["--repeats", str(args.repeats), "--input-protocol", args.input_protocol, "--_rank", str(data)]
        cmd += [str(model), str(workdir / f"ranks_w{args.world_size}"), str(batch), str(rank), str(args.world_size)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        rows.append(json.loads(line))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "ids"}), flush=True)
    ids = [i for row in rows for i in row["ids"]]
    summary = {
        "world_size": args.world_size,
        "questions": len(ids),
        "videos": args.videos,
        "frames": args.frames,
        "batch_size": batch,
        "input_protocol": args.input_protocol,
        "disjoint_and_covering": len(ids) == len(set(ids)) == args.videos * args.questions_per_video,
        "vision_encodings": sum(row["vision_encodings"] for row in rows),
        "slowest_rank_wall_s": max(row["wall_s"] for row in rows),
        "slowest_rank_cpu_s": max(row["cpu_s"] for row in rows),
        "sum_wall_s": round(sum(row["wall_s"] for row in rows), 3),
    }
    print(json.dumps(summary), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--frames", type=int, default=None, help="frames sampled a video (default 8; 32 per video)")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default 1 4 8; 8 per video")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--questions-per-video", type=int, default=None)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--input-protocol", choices=["direct", "official"], default="direct")
    parser.add_argument("--world-size", type=int, default=None, help="with --questions-per-video: each rank's shard")
    parser.add_argument("--_run", nargs=4, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_compare", nargs=4, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_rank", nargs=6, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    per_video = args.questions_per_video is not None or args._compare is not None or args._rank is not None
    args.frames = args.frames or (32 if per_video else 8)
    args.batch_sizes = args.batch_sizes or ([8] if per_video else [1, 4, 8])
    logging.basicConfig(level=logging.WARNING)
    if args._compare is not None:
        data, model, out, batch = args._compare
        row = compare_paths(
            *(Path(data), Path(model), Path(out), int(batch), args.frames, args.max_new_tokens, args.repeats),
            args.input_protocol,
        )
        print(json.dumps(row))
        return
    if args._rank is not None:
        data, model, out, batch, rank, world = args._rank
        row = run_rank(
            *(Path(data), Path(model), Path(out), int(batch), args.frames, args.max_new_tokens, args.repeats),
            *(args.input_protocol, int(rank), int(world)),
        )
        print(json.dumps(row))
        return
    if args.questions_per_video is not None and args.world_size is not None:
        shard_ranks(args)
        return
    if args.questions_per_video is not None:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_eval_"))
        data, model = make_video_inputs(workdir, args.videos, args.questions_per_video)
        for batch in args.batch_sizes:
            cmd = [sys.executable, __file__, "--frames", str(args.frames), "--max-new-tokens", str(args.max_new_tokens)]
            cmd += ["--repeats", str(args.repeats), "--input-protocol", args.input_protocol]
            cmd += [
                "--_compare",
                str(data),
                str(model),
                str(workdir / f"cmp_b{batch}_{args.input_protocol}"),
                str(batch),
            ]
            line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            print(line, flush=True)
        return
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
