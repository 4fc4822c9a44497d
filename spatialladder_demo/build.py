"""What the ladder and the evaluations consume: synthetic scans, build-data datasets, held-out benchmark folders in
their Hub layouts, and the tiny base model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from spatialladder.errors import ConfigError
from spatialladder.vocab import RECORD_FILES, SPBENCH_QUESTION_TYPES
from spatialladder_demo.plan import DemoPlan


def write_scenes(plan: DemoPlan) -> None:
    """Training and held-out scans in ScanNet's raw layout (.txt, PLY, segs, aggregation, .sens)."""
    from spatialladder.testing.synthetic_scannet import sample_objects, write_synthetic_scene

    rng = np.random.default_rng(plan.seed)
    jobs = [("train", f"scene{i:04d}_00") for i in range(plan.train_scenes)]
    jobs += [("heldout", f"scene{700 + i:04d}_00") for i in range(plan.heldout_scenes)]
    for k, (split, scene_id) in enumerate(jobs):
        room = (float(rng.uniform(4.0, 7.0)), float(rng.uniform(3.5, 6.0)), 2.6)
        write_synthetic_scene(
            plan.path("scannet", split),
            scene_id,
            objects=sample_objects(rng, room),
            n_frames=plan.n_frames,
            layout="raw",
            seed=plan.seed * 1000 + k,
            room_size=room,
            depth_size=(160, 120),
            color_size=(320, 240),
            invalid_frames=(3,),
        )


def build_data(plan: DemoPlan) -> None:
    """``spatialladder build-data`` on the training scans, and on the held-out scans for the benchmarks."""
    from spatialladder.data.command import run_build_data
    from spatialladder.testing.synthetic_scannet import synthetic_label_map

    for split, cfg_name, out in (("train", "data.yaml", "data"), ("heldout", "heldout.yaml", "heldout")):
        overrides = [
            f"scannet_root={plan.path('scannet', split)}",
            f"out_dir={plan.path(out)}",
            f"scannet.label_map={synthetic_label_map()}",
            f"seed={plan.seed + (0 if split == 'train' else 1000)}",
        ]
        result = run_build_data(plan.configs_dir / cfg_name, overrides, progress=False)
        if not result.ok:
            raise ConfigError(f"demo build-data on {split} scans failed: {result.failed}")


def build_benchmarks(plan: DemoPlan) -> None:
    """Held-out questions in VSI-Bench's current Hub layout (test.jsonl, pruned_ids.txt, the debiased/pruned parquets
    + mp4; none pruned) and SPBench's (parquet + images)."""
    from PIL import Image

    from spatialladder.records import SpatialRecord, read_records
    from spatialladder.testing.synthetic_benchmarks import BenchItem, write_spbench, write_vsibench

    root = plan.path("heldout")
    records = read_records(root / RECORD_FILES["spatial"], SpatialRecord)
    images = root / "images"
    video, single, multi = [], [], []
    video_frames: dict[tuple[str, tuple[int, ...]], str] = {}
    for rec in records:
        frames = [Image.open(images / p).convert("RGB") for p in rec.image]
        if rec.modality == "video":
            key = (rec.scene_id, tuple(rec.frame_indices))
            name = video_frames.setdefault(key, f"{rec.scene_id}_{len(video_frames)}")
            video.append(BenchItem(rec.vsi_question_type, rec.question, rec.answer, name, frames, rec.options))
        elif rec.vsi_question_type in SPBENCH_QUESTION_TYPES:
            qtype = SPBENCH_QUESTION_TYPES[rec.vsi_question_type]
            item = BenchItem(qtype, rec.question, rec.answer, rec.scene_id, frames, rec.options)
            (single if rec.modality == "single_image" else multi).append(item)
    for name, items in (("VSI-Bench video", video), ("SPBench-SI", single), ("SPBench-MV", multi)):
        if not items:
            raise ConfigError(f"demo: the held-out scans produced no {name} questions; use more held-out scenes")
    write_vsibench(_even_frames(video), plan.path("benchmarks", "vsibench"))
    write_spbench(single, plan.path("benchmarks", "spbench-si"), split="SI")
    write_spbench(multi, plan.path("benchmarks", "spbench-mv"), split="MV")


def _even_frames(items: list[Any]) -> list[Any]:
    """mp4 encoders need even frame sizes: crop one pixel where a side is odd."""

    def even(img: Any) -> Any:
        w, h = img.size
        return img.crop((0, 0, w - w % 2, h - h % 2))

    return [replace(it, frames=[even(f) for f in it.frames]) for it in items]


def build_model(plan: DemoPlan) -> None:
    from spatialladder.testing.tiny_qwen import build_tiny

    build_tiny(plan.model_dir("base"), plan.family, seed=plan.seed)
