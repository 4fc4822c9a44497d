"""Benchmark ``build-data``: scenes/minute end to end and peak RSS per worker on ScanNet-sized synthetic scans.

Usage: OMP_NUM_THREADS=1 python scripts/bench_build.py --scenes 4 --frames 300 --workers 1 2
Each scene: the synthetic writer's furnished room, ``--frames`` .sens frames (``--unique-views`` distinct renders
cycled, so writing stays quick), colour 1296×968 like ScanNet. Writes one JSON line per worker count to stdout,
with the HTML build report's share of the build: the report is timed again on the built folder with its ``report/``
folder removed (cold: every thumbnail and figure written) and once more as found (a rerun: all reused).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from spatialladder.config.data import DataConfig
from spatialladder.data.build import build_dataset, shard_path
from spatialladder.data.html_report import REPORT_DIR, build_html_report
from spatialladder.data.report import merge_records
from spatialladder.scannet.pipeline import build_scene_meta
from spatialladder.testing.synthetic_scannet import write_synthetic_scene

LABEL_MAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scannetv2-labels.combined.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--unique-views", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--label-map", type=Path, default=LABEL_MAP)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        scans = Path(tmp) / "scans"
        t0 = time.perf_counter()
        for i in range(args.scenes):
            size = {"color_size": (1296, 968), "depth_size": (640, 480)}
            write_synthetic_scene(
                scans, f"scene{i:04d}_00", seed=i, n_frames=args.frames, unique_views=args.unique_views, **size
            )
        print(f"# wrote {args.scenes} scenes in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        settings = {"label_map": str(args.label_map), "num_frames": 32}
        timings: dict[str, float] = {}
        build_scene_meta(scans / "scene0000_00", DataConfig(scannet=settings).scannet, timings=timings)
        print(f"# one scene's metadata stages (s): {json.dumps({k: round(v, 3) for k, v in timings.items()})}",
              file=sys.stderr)  # fmt: skip
        for workers in args.workers:
            cfg = DataConfig(
                scannet=settings, scannet_root=str(scans), out_dir=str(Path(tmp) / f"out{workers}"), workers=workers,
                mixture={"reference_scenes": 1201},
            )  # fmt: skip
            t0 = time.perf_counter()
            result = build_dataset(cfg, progress=False)
            seconds = time.perf_counter() - t0
            who = resource.RUSAGE_SELF if workers == 1 else resource.RUSAGE_CHILDREN
            peak_mib = resource.getrusage(who).ru_maxrss / 1024
            row = {
                "workers": workers, "scenes": args.scenes, "frames_per_scene": args.frames,
                "seconds": round(seconds, 2),
                "seconds_per_scene": round(seconds / args.scenes, 2),
                "scenes_per_minute": round(60 * args.scenes / seconds, 1), "peak_rss_mib_per_worker": round(peak_mib),
                "failed": len(result.failed), "records": {k: sum(v.values()) for k, v in result.counts.items()},
                **report_share(cfg, seconds),
            }  # fmt: skip
            print(json.dumps(row))


def report_share(cfg: DataConfig, build_seconds: float) -> dict[str, float]:
    """Seconds to write build_report.html from scratch and as a rerun, and the cold report's share of the build."""
    out = Path(cfg.out_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    shards = [json.loads(shard_path(out, s).read_text()) for s, v in manifest["scenes"].items() if v["status"] == "ok"]
    records = merge_records(shards)
    shutil.rmtree(out / REPORT_DIR)
    t0 = time.perf_counter()
    _, cold = build_html_report(out, manifest, records, shards, cfg.seed, cfg.workers)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_html_report(out, manifest, records, shards, cfg.seed, cfg.workers)
    warm_s = time.perf_counter() - t0
    return {
        "report_seconds": round(cold_s, 2), "report_rerun_seconds": round(warm_s, 2),
        "report_share_of_build": round(cold_s / build_seconds, 3), "report_thumbnails": cold.thumbs_written,
        "report_figures": cold.figures_written,
    }  # fmt: skip


if __name__ == "__main__":
    main()
