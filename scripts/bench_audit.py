"""Benchmark the shortcut audit (``spatialladder.data.audit``) on SpatialLadder-26k-sized data in our format.

Usage: OMP_NUM_THREADS=1 python scripts/bench_audit.py --scenes 4 --records 26610 --trees 100
A small synthetic build (``--scenes`` furnished rooms, the default mixture scaled to them) gives real records of
every type; they are replicated across fake scene ids (``sceneXXXX_00``, 1,201 of them like ScanNet's train split)
until there are ``--records`` in the 26k proportions (grounding 5,929, spatial the rest). Times build-data's
audit (``audit_build``) on them, wall and CPU (``process_time``: what a shared machine cannot inflate), and writes
one JSON line to stdout. Replicated records repeat their questions across scenes, so the flags mean nothing here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from spatialladder.config.data import DataConfig
from spatialladder.data.audit import audit_build
from spatialladder.data.build import build_dataset
from spatialladder.records import FILES, read_records
from spatialladder.testing.synthetic_scannet import synthetic_label_map, write_synthetic_scene

REFERENCE_SCENES = 1201
GROUNDING_SHARE = 5929 / 26610


def replicate(rows: list, n: int) -> list:
    """``n`` copies of ``rows`` cycled, the k-th pass under fake scene ``scene{k mod 1201:04d}_00``."""
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        fake = f"scene{(i // len(rows) * 7 + hash_scene(row.scene_id)) % REFERENCE_SCENES:04d}_00"
        out.append(row.model_copy(update={"scene_id": fake, "question_id": i}))
    return out


def hash_scene(scene_id: str) -> int:
    return int(scene_id[5:9])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--records", type=int, default=26610)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scans"
        for i in range(args.scenes):
            write_synthetic_scene(root, f"scene{i:04d}_00", seed=i, n_frames=40)
        cfg = DataConfig.model_validate({
            "scannet": {"label_map": str(synthetic_label_map()), "num_frames": 40},
            "scannet_root": str(root), "out_dir": str(Path(tmp) / "out"), "image_max_side": 64,
            "mixture": {"reference_scenes": 1, "localization": 40, "single_image": 40, "multi_view": 40, "video": 60},
            "audit": {"enabled": False},
        })  # fmt: skip
        result = build_dataset(cfg, progress=False)
        records = {kind: read_records(result.files[kind], FILES[kind][1]) for kind in ("grounding", "spatial")}
    n_grounding = round(args.records * GROUNDING_SHARE)
    data = {"grounding": replicate(records["grounding"], n_grounding),
            "spatial": replicate(records["spatial"], args.records - n_grounding)}  # fmt: skip
    import sklearn.ensemble  # noqa: F401 - imported before the clock starts, as a long build has it by then

    t0, c0 = time.perf_counter(), time.process_time()
    audit = audit_build(data, folds=args.folds, seed=args.seed, margin_pp=10.0, trees=args.trees)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    audited = [r for r in audit["rows"] if r["reason"] is None]
    line = {"records": args.records, "spatial": len(data["spatial"]), "rows": len(audit["rows"]),
            "audited_rows": len(audited), "flagged": sum(r["flagged"] for r in audited), "folds": args.folds,
            "trees": args.trees, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)}  # fmt: skip
    sys.stdout.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
