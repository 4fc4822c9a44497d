"""Benchmark ``build-data --format hf``: the export's time and peak RSS beside a JSONL-only rerun of the same build.

Usage: OMP_NUM_THREADS=1 python scripts/bench_hub.py --scenes 4 --frames 300 --reference-scenes 100
Builds synthetic ScanNet-format scans (1296×968 colour, JPEGs at 640 px) once; then, each in a fresh process so
that peak RSS is its own, reruns the build from its shards (merge + JSONL + manifest) without and with ``--format
hf``. The difference is the export: reading and embedding every JPEG, parquet shards, the card. One JSON line each.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spatialladder.config.data import DataConfig
from spatialladder.data.build import build_dataset
from spatialladder.records import FILES
from spatialladder.testing.synthetic_scannet import write_synthetic_scene

LABEL_MAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scannetv2-labels.combined.tsv"


def config(scans: Path, out: Path, reference: int, fmt: str, shard_records: int) -> DataConfig:
    settings = {"label_map": str(LABEL_MAP), "num_frames": 32}
    return DataConfig(
        scannet=settings, scannet_root=str(scans), out_dir=str(out), mixture={"reference_scenes": reference},
        format=fmt, hf_shard_records=shard_records,
    )  # fmt: skip


def child(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    result = build_dataset(config(args.scans, args.out, args.reference_scenes, args.format, args.shard_records), False)
    seconds = time.perf_counter() - t0
    hf = args.out / "hf"
    embedded = sum(
        (args.out / "images" / rel).stat().st_size
        for name, _ in FILES.values()
        for line in (args.out / name).read_text(encoding="utf-8").splitlines()
        for rel in json.loads(line)["image"]
    )
    row = {
        "format": args.format, "shard_records": args.shard_records, "seconds": round(seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "records": {k: sum(v.values()) for k, v in result.counts.items()},
        "images_mib": round(sum(p.stat().st_size for p in (args.out / "images").rglob("*.jpg")) / 2**20, 1),
        "embedded_mib": round(embedded / 2**20, 1),
        "parquet_files": len(list(hf.rglob("*.parquet"))) if args.format == "hf" else 0,
        "parquet_mib": round(sum(p.stat().st_size for p in hf.rglob("*.parquet")) / 2**20, 1),
    }  # fmt: skip
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--reference-scenes", type=int, default=100)
    parser.add_argument("--shard-records", type=int, nargs="+", default=[500, 100])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scans", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="jsonl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.shard_records = args.shard_records[0]
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        scans, out = Path(tmp) / "scans", Path(tmp) / "out"
        for i in range(args.scenes):
            size = {"color_size": (1296, 968), "depth_size": (640, 480)}
            write_synthetic_scene(scans, f"scene{i:04d}_00", seed=i, n_frames=args.frames, unique_views=30, **size)
        build_dataset(config(scans, out, args.reference_scenes, "jsonl", 500), progress=False)  # the shards
        runs = [("jsonl", 500)] + [("hf", n) for n in args.shard_records]
        for fmt, shard in runs:
            command = [sys.executable, __file__, "--child", "--scans", str(scans), "--out", str(out)]
            command += [
                "--reference-scenes",
                str(args.reference_scenes),
                "--format",
                fmt,
                "--shard-records",
                str(shard),
            ]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
