"""Scene folder + ScanNetSettings → SceneMeta, and the many-scene driver that records failures and continues."""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spatialladder.config.scannet import ScanNetSettings
from spatialladder.errors import ConfigError, SceneFormatError
from spatialladder.scannet.frames import (
    ExportedFrames,
    FrameSource,
    PointsByInstance,
    choose_frames,
    open_frames,
    scan_frames,
    valid_frames,
)
from spatialladder.scannet.geometry import room_area_m2, room_center, transform_points
from spatialladder.scannet.instances import build_instances
from spatialladder.scannet.io import ScenePaths, read_aggregation, read_ply, read_scan_info, read_segs
from spatialladder.scannet.labels import LabelMapper, make_label_mapper, vsi_ordered_counts
from spatialladder.scannet.meta import write_meta_json
from spatialladder.scannet.types import SceneMeta

logger = logging.getLogger(__name__)


def scene_rng(seed: int, scene_id: str) -> np.random.Generator:
    """Per-scene generator: reproducible for a seed, different across scenes."""
    return np.random.default_rng([seed, zlib.crc32(scene_id.encode("utf-8"))])


def build_scene_meta(
    scene_dir: Path | str,
    settings: ScanNetSettings,
    mapper: LabelMapper | None = None,
    timings: dict[str, float] | None = None,
) -> SceneMeta:
    """Read one scene folder (raw and/or exported layout; scene id = folder name) into a SceneMeta.

    ``mapper`` can be shared across scenes (else built from settings). ``timings``, when given, receives seconds
    per stage: read, instances, boxes, room_area (incl. room centre), frames (.sens index, depth decode, projection).
    """
    scene_dir = Path(scene_dir)
    scene = scene_dir.name
    if not scene_dir.is_dir():
        raise SceneFormatError(scene, str(scene_dir), "scene folder not found")
    mapper = mapper or make_label_mapper(settings.label_map, settings.categories_file, scene_dir.parent)
    times = timings if timings is not None else {}
    paths = ScenePaths(scene, scene_dir)

    t0 = time.perf_counter()
    info = read_scan_info(scene, paths.txt)
    mesh = read_ply(scene, paths.ply)
    seg = read_segs(scene, paths.segs, len(mesh.vertices))
    groups, duplicates = read_aggregation(scene, paths.aggregation)
    aligned = transform_points(info.axis_alignment, mesh.vertices)
    times["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = build_instances(scene, paths.segs.name, aligned, seg, groups, mapper, settings.box_type, duplicates)
    times["boxes"] = report.box_seconds
    times["instances"] = time.perf_counter() - t0 - report.box_seconds

    t0 = time.perf_counter()
    rng = scene_rng(settings.seed, scene)
    area = room_area_m2(
        aligned[:, :2], rng, settings.room_area_samples, settings.room_alpha, fill_holes=settings.room_fill_holes
    )
    center = room_center(aligned, settings.room_center_box)
    times["room_area"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    source = open_frames(scene, scene_dir, settings.layout, info)
    valid, invalid = valid_frames(source)
    chosen = choose_frames(valid, settings.frame_selection, settings.num_frames, settings.every_k)
    k = settings.appearance_every_k
    appearance = valid[valid % k == 0] if k is not None else chosen
    aligned_poses = isinstance(source, ExportedFrames) and settings.exported_poses == "aligned"
    frames, first = scan_frames(
        source,
        np.eye(4) if aligned_poses else info.axis_alignment,
        PointsByInstance.from_instances(report.instances),
        chosen,
        appearance,
        settings.fps,
        settings.depth_ratio,
        settings.min_visible_points,
        settings.appearance_min_points,
        settings.box_tolerance_px,
    )
    times["frames"] = time.perf_counter() - t0
    if len(invalid):
        logger.info("scene %s: skipped %d frames with non-finite poses", scene, len(invalid))

    stats = {
        "duplicate_seg_groups": report.duplicates,
        "unmapped_seg_groups": sum(report.dropped_labels.values()),
        "empty_instances": report.empty_groups,
        "mesh_vertices": len(mesh.vertices),
    }
    return SceneMeta(
        scene_id=scene,
        dataset="scannet",
        room_size_m2=area,
        room_center=center,
        instances=report.instances,
        object_counts=vsi_ordered_counts(Counter(i.category for i in report.instances), mapper.spec.vocabulary),
        fps=settings.fps,
        frames=frames,
        first_appearance_s=first,
        video_path=None,
        skipped_frames=len(invalid),
        invalid_frames=tuple(int(i) for i in invalid),
        total_frames=len(source.frame_indices),
        ingest_stats=stats,
    )


def read_color_frames(
    scene_dir: Path | str, frame_indices: Sequence[int], layout: str = "auto"
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode chosen colour frames as (index, (H, W, 3) uint8) from the .sens or the exported color/ folder."""
    scene_dir = Path(scene_dir)
    source: FrameSource = open_frames(scene_dir.name, scene_dir, layout)
    yield from source.colors(frame_indices)


# --------------------------------------------------------------------------------------------------- many scenes


def read_split(path: Path | str) -> set[str]:
    """Scene ids listed one per line (``scannetv2_train.txt`` / ``scannetv2_val.txt``)."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: scene list not found (expected a file with one scene id per line)")
    return {line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()}


def split_filter(scene_ids: Sequence[str], split_dir: Path | str, allow_val: bool) -> tuple[list[str], list[str]]:
    """(kept, refused): when ``scannetv2_val.txt`` is in ``split_dir``, its scenes are refused unless allowed.

    Training data must never contain val scenes (all 88 VSI-Bench ScanNet scenes are val scenes).
    """
    val_file = Path(split_dir) / "scannetv2_val.txt"
    val = read_split(val_file) if val_file.is_file() else set()
    if allow_val:
        return list(scene_ids), []
    return [s for s in scene_ids if s not in val], [s for s in scene_ids if s in val]


@dataclass
class IngestReport:
    """Outcome of processing many scenes: written meta files, failures with their reason, split refusals."""

    written: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    refused_val: list[str] = field(default_factory=list)


def ingest_scenes(
    scans_root: Path | str,
    out_dir: Path | str,
    settings: ScanNetSettings,
    scene_ids: Sequence[str] | None = None,
    split_dir: Path | str | None = None,
) -> IngestReport:
    """Build and write ``<out_dir>/<scene>/meta.json`` for each scene; a bad scene is recorded and skipped.

    ``split_dir`` defaults to the parent of ``scans_root`` (where ScanNet keeps the split lists).
    """
    scans_root, out_dir = Path(scans_root), Path(out_dir)
    ids = sorted(p.name for p in scans_root.iterdir() if p.is_dir()) if scene_ids is None else list(scene_ids)
    kept, refused = split_filter(ids, split_dir or scans_root.parent, settings.allow_val_scenes)
    report = IngestReport(refused_val=refused)
    if refused:
        logger.warning("refused %d val scenes (set allow_val_scenes to use them)", len(refused))
    mapper = make_label_mapper(settings.label_map, settings.categories_file, scans_root)
    for scene in kept:
        try:
            meta = build_scene_meta(scans_root / scene, settings, mapper)
        except SceneFormatError as exc:
            logger.warning("skipping %s", exc)
            report.failed[scene] = str(exc)
            continue
        report.written[scene] = write_meta_json(meta, out_dir / scene / "meta.json")
    return report
