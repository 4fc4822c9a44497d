"""meta.json in the VSI-Bench meta-info schema (+ our own fields), and a loader for ours and the released files.

A file maps scene id → entry, exactly like thinking-in-space ``data/meta_info/*_meta_info_val.json``; our entries
add a ``spatialladder`` block (instance ids, raw labels, frames with views, 2D boxes and camera pose, first
appearance, units).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import DataFormatError
from spatialladder.scannet.types import Box3D, FrameInfo, Instance, InstanceView, SceneMeta

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
UNITS = {"room_size": "m2", "lengths": "m", "time": "s", "bbox_2d": "colour-image pixels [x1, y1, x2, y2]"}


def box_to_vsi(box: Box3D) -> dict[str, list[float]]:
    """VSI box dict: ``normalizedAxes`` = R.T.flatten() (rows are box axes), min/max = AABB of the 8 corners."""
    return {
        "centroid": [float(x) for x in box.centroid],
        "axesLengths": [float(x) for x in box.axes_lengths],
        "normalizedAxes": [float(x) for x in box.rotation.T.flatten()],
        "min": [float(x) for x in box.aabb_min],
        "max": [float(x) for x in box.aabb_max],
    }


def box_from_vsi(data: dict[str, Any]) -> Box3D:
    return Box3D(
        centroid=np.asarray(data["centroid"], dtype=np.float64).reshape(3),
        axes_lengths=np.asarray(data["axesLengths"], dtype=np.float64).reshape(3),
        rotation=np.asarray(data["normalizedAxes"], dtype=np.float64).reshape(3, 3).T,
    )


def scene_to_entry(scene: SceneMeta) -> dict[str, Any]:
    """One scene's JSON entry: categories in ``object_counts`` order (VSI-Bench's enumeration order, kept as is),
    boxes per category in ascending instance id."""
    bbox: dict[str, list[dict]] = {}
    ids: dict[str, list[int]] = {}
    raws: dict[str, list[str]] = {}
    rank = {c: k for k, c in enumerate(scene.object_counts)}
    for inst in sorted(scene.instances, key=lambda i: (rank.get(i.category, len(rank)), i.category, i.instance_id)):
        bbox.setdefault(inst.category, []).append(box_to_vsi(inst.box))
        ids.setdefault(inst.category, []).append(inst.instance_id)
        raws.setdefault(inst.category, []).append(inst.raw_category)
    frames = [
        {
            "frame_index": f.frame_index,
            "time_s": f.time_s,
            "image_path": f.image_path,
            "image_size": list(f.image_size),
            "views": {
                str(k): {
                    "visible_points": v.visible_points,
                    "visible_fraction": v.visible_fraction,
                    "bbox_2d": list(v.bbox_2d) if v.bbox_2d is not None else None,
                }
                for k, v in sorted(f.views.items())
            },
            "camera_position": list(f.camera_position) if f.camera_position is not None else None,
            "camera_forward": list(f.camera_forward) if f.camera_forward is not None else None,
        }
        for f in scene.frames
    ]
    return {
        "dataset": scene.dataset,
        "video_path": scene.video_path,
        "room_size": float(scene.room_size_m2),
        "room_center": [float(x) for x in scene.room_center],
        "object_counts": dict(scene.object_counts),
        "object_bbox": bbox,
        "spatialladder": {
            "format_version": FORMAT_VERSION,
            "units": UNITS,
            "fps": scene.fps,
            "object_instance_ids": ids,
            "object_raw_categories": raws,
            "first_appearance_s": dict(sorted(scene.first_appearance_s.items())),
            "skipped_frames": scene.skipped_frames,
            "invalid_frames": list(scene.invalid_frames),
            "total_frames": scene.total_frames,
            "ingest_stats": dict(scene.ingest_stats),
            "frames": frames,
        },
    }


def _vector3(value: list[float] | None) -> tuple[float, float, float] | None:
    """A frame's camera vector as written by ``write_meta_json`` (absent in files from before it had one)."""
    return None if value is None else (float(value[0]), float(value[1]), float(value[2]))


def write_meta_json(scenes: SceneMeta | list[SceneMeta], path: Path | str) -> Path:
    """Write one or several scenes to ``path`` as {scene_id: entry}."""
    scenes = [scenes] if isinstance(scenes, SceneMeta) else list(scenes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {s.scene_id: scene_to_entry(s) for s in scenes}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def _dedupe_boxes(boxes: list[dict]) -> tuple[list[dict], int]:
    seen, out = set(), []
    for box in boxes:
        key = tuple(np.round(np.concatenate([box["centroid"], box["axesLengths"], box["normalizedAxes"]]), 9))
        if key not in seen:
            seen.add(key)
            out.append(box)
    return out, len(boxes) - len(out)


def entry_to_scene(scene_id: str, entry: dict[str, Any], source: str = "") -> SceneMeta:
    """Rebuild a SceneMeta from a VSI-Bench entry (released or ours). ``object_counts`` is trusted as is."""
    where = f"{source}: scene {scene_id}"
    try:
        ours = entry.get("spatialladder") or {}
        counts = {str(k): int(v) for k, v in entry["object_counts"].items()}
        id_lists = ours.get("object_instance_ids", {})
        raw_lists = ours.get("object_raw_categories", {})
        instances, duplicates, next_id = [], 0, 0
        for category, boxes in entry["object_bbox"].items():
            if category in id_lists:  # ours: boxes are exactly the instances
                kept = boxes
            else:
                kept, dup = _dedupe_boxes(boxes)
                duplicates += dup
            for k, box in enumerate(kept):
                if category in id_lists:
                    inst_id = int(id_lists[category][k])
                else:
                    inst_id, next_id = next_id, next_id + 1
                raw = raw_lists[category][k] if category in raw_lists else category
                instances.append(Instance(inst_id, category, raw, box_from_vsi(box)))
        frames = tuple(
            FrameInfo(
                frame_index=int(f["frame_index"]),
                time_s=float(f["time_s"]),
                image_path=f.get("image_path"),
                image_size=(int(f["image_size"][0]), int(f["image_size"][1])),
                views={
                    int(k): InstanceView(
                        int(v["visible_points"]),
                        float(v["visible_fraction"]),
                        tuple(float(x) for x in v["bbox_2d"]) if v.get("bbox_2d") is not None else None,
                    )
                    for k, v in f.get("views", {}).items()
                },
                camera_position=_vector3(f.get("camera_position")),
                camera_forward=_vector3(f.get("camera_forward")),
            )
            for f in ours.get("frames", [])
        )
        stats = {str(k): int(v) for k, v in ours.get("ingest_stats", {}).items()}
        if duplicates:
            stats["duplicate_boxes_dropped"] = duplicates
        return SceneMeta(
            scene_id=scene_id,
            dataset=str(entry.get("dataset", "scannet")),
            room_size_m2=float(entry["room_size"]),
            room_center=np.asarray(entry["room_center"], dtype=np.float64).reshape(3),
            instances=tuple(instances),
            object_counts=counts,
            fps=float(ours.get("fps", _DEFAULT_FPS.get(entry.get("dataset", "scannet"), 24.0))),
            frames=frames,
            first_appearance_s={str(k): float(v) for k, v in ours.get("first_appearance_s", {}).items()},
            video_path=entry.get("video_path"),
            skipped_frames=int(ours.get("skipped_frames", 0)),
            invalid_frames=tuple(int(i) for i in ours.get("invalid_frames", [])),
            total_frames=int(ours.get("total_frames", 0)),
            ingest_stats=stats,
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise DataFormatError(f"{where}: malformed meta-info entry ({exc!r})") from exc


_DEFAULT_FPS = {"scannet": 24.0, "scannetpp": 30.0, "arkitscenes": 10.0}
"""VSI-Bench ``FRAME_CATEGORY_FPS_LOOKUP_TABLE``."""


def load_meta_file(path: Path | str) -> dict[str, SceneMeta]:
    """Load a meta file (ours or a released VSI-Bench ``*_meta_info_val.json``) into {scene_id: SceneMeta}."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: meta-info file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: malformed JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected an object mapping scene id → entry, got {type(data).__name__}")
    return {str(k): entry_to_scene(str(k), v, str(path)) for k, v in data.items()}
