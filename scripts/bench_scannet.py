"""Benchmark ScanNet ingestion on a ScanNet-sized synthetic scene: seconds per stage and peak RSS.

Usage: OMP_NUM_THREADS=1 python scripts/bench_scannet.py [--frames 3000] [--objects 40] [--workdir DIR]

The scene (~150k mesh vertices, 640×480 depth, 1296×968 JPEG colour, a ≥3000-frame .sens) is written first, then a
fresh subprocess ingests it so the reported peak RSS covers ingestion only.
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

REPO = Path(__file__).resolve().parents[1]
LABEL_MAP = REPO.parent / "shared" / "data" / "scannetv2-labels.combined.tsv"


MODES = {
    "chosen-frames-only": {"appearance_every_k": None},
    "appearance-every-frame": {"appearance_every_k": 1},
    "worst-case-every-frame": {"appearance_every_k": 1, "appearance_min_points": 10**9},
}
"""worst-case: no category ever reaches the threshold, so every depth frame of the .sens is decoded and projected."""


def ingest(scene_dir: Path, label_map: Path, mode: str) -> dict:
    from spatialladder.config.scannet import ScanNetSettings
    from spatialladder.scannet.pipeline import build_scene_meta

    settings = ScanNetSettings(label_map=label_map, num_frames=32, **MODES[mode])
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    meta = build_scene_meta(scene_dir, settings, timings=timings)
    total = time.perf_counter() - t0
    return {
        "mode": mode,
        "stages_s": {k: round(v, 3) for k, v in timings.items()},
        "total_s": round(total, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "instances": len(meta.instances),
        "mesh_vertices": meta.ingest_stats["mesh_vertices"],
        "frames_total": meta.total_frames,
        "frames_skipped": meta.skipped_frames,
        "frames_chosen": len(meta.frames),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--label-map", type=Path, default=LABEL_MAP)
    parser.add_argument("--_ingest", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_mode", default="chosen-frames-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args._ingest is not None:
        print(json.dumps(ingest(args._ingest, args.label_map, args._mode)))
        return

    from spatialladder.testing.synthetic_scannet import write_benchmark_scene

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t0 = time.perf_counter()
        scene = write_benchmark_scene(tmp, n_frames=args.frames, n_objects=args.objects)
        sens = scene.scene_dir / f"{scene.scene_id}.sens"
        print(
            f"wrote {scene.scene_id}: {scene.num_vertices} vertices, {len(scene.objects)} objects, "
            f"{args.frames} frames, .sens {sens.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - t0:.1f} s"
        )
        for mode in MODES:
            cmd = [sys.executable, __file__, "--_ingest", str(scene.scene_dir), "--_mode", mode,
                   "--label-map", str(args.label_map)]  # fmt: skip
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            print(json.dumps(result))


if __name__ == "__main__":
    main()
