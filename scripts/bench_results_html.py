"""Benchmark what ``results.html`` adds to an eval run: its gallery decodes each shown question's video again.

Usage: OMP_NUM_THREADS=1 python scripts/bench_results_html.py [--videos 24] [--video-frames 96] [--frames 32]
       [--out /tmp/bench_results_html]

Writes ``--videos`` synthetic 640×480 mp4s of ``--video-frames`` frames (noise shifted per frame: JPEG's worst
case, so the thumbnail bytes are an upper bound) once, then times ``write_html`` on a run where every question, one
per video, is wrong: the gallery shows 24 of them with ``--frames`` frames each (the run's sampler), every video
decoded once. Prints one JSON line: seconds (wall and this process's CPU), thumbnails written and their bytes.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from spatialladder.eval.base import EvalSample
from spatialladder.eval.html_report import Evidence, write_html
from spatialladder.eval.video import Uniform
from spatialladder.testing.writers import write_video

logger = logging.getLogger("bench_results_html")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--video-frames", type=int, default=96)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_results_html"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(0)
    samples = []
    for v in range(args.videos):
        path = args.out / "videos" / f"v{v}_{args.video_frames}.mp4"
        if not path.is_file():
            base = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
            write_video(path, [np.roll(base, 8 * k, axis=1) for k in range(args.video_frames)], fps=24)
        samples.append(EvalSample(str(v), "object_counting", "How many chairs?", "2", "na", video=path))
    rows = [{"id": s.id, "question_type": s.question_type, "answer": "7", "score": 0.0} for s in samples]
    n = len(samples)
    results = {
        "bench": "vsibench",
        "overall": 0.0,
        "n": n,
        "n_unparsed": 0,
        "n_missing": 0,
        "scoring_profile": "vsibench-2024",
        "aggregate": {"overall": 0.0, "per_type": {"object_counting": 0.0}},
        "per_type_counts": {"object_counting": {"n": n, "n_unparsed": 0}},
    }
    evidence = Evidence(samples, {s.id: {"prediction": "7"} for s in samples}, Uniform(args.frames))
    out = args.out / "run"
    out.mkdir(parents=True, exist_ok=True)
    wall, cpu = time.perf_counter(), time.process_time()
    write_html(results, rows, out, evidence=evidence)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    thumbs = list((out / "results_files").iterdir())
    record = {
        "videos": n,
        "video_frames": args.video_frames,
        "frames": args.frames,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "thumbnails": len(thumbs),
        "thumbnail_mb": round(sum(p.stat().st_size for p in thumbs) / 1e6, 2),
    }
    logger.info(json.dumps(record))


if __name__ == "__main__":
    main()
