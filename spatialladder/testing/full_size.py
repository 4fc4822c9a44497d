"""Records and a benchmark at ScanNet's full colour-frame size (1296×968), for the real-shaped slow tier.

The tiny records use 112×84 frames that never reach a pixel budget, so the resize, token count and memory of a real
frame never run. These writers give the same official schemas (:mod:`spatialladder.testing.tiny_records`) with
1296×968 JPEG frames (the size of ScanNet's ``color/*.jpg``) and a VSI-Bench folder whose video has that size,
so every budget of the paper (100,352 px in training, 401,408 px in evaluation) is reached and applied.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spatialladder.config.scannet import ScanNetSettings
from spatialladder.vocab import RECORD_FILES

SCANNET_FRAME_SIZE = (1296, 968)
"""(W, H) of a ScanNet colour frame."""
VIDEO_ONLY_FILE = "spld_spatial_video_only.jsonl"


def full_size_frame(index: int, size: tuple[int, int] = SCANNET_FRAME_SIZE) -> np.ndarray:
    """A deterministic textured HxWx3 uint8 frame (gradients and a moving box), distinct per ``index``."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack(
        [(x * 255 // width + 17 * index) % 256, (y * 255 // height + 29 * index) % 256, ((x + y) // 8) % 256],
        axis=-1,
    ).astype(np.uint8)
    left = 100 + (37 * index) % (width - 400)
    frame[300:600, left : left + 250] = 255
    return frame


SCANNET_FPS = ScanNetSettings.model_fields["fps"].default
"""build-data's ScanNet clock (``scannet.fps``: VSI-Bench plays every .sens frame at 24 fps)."""


def write_full_size_records(root: str | Path, views: int = 8, video_frames: int = 32) -> dict[str, Path]:
    """Grounding (1 record) and spatial (single image, ``views``-view, ``video_frames``-frame video) records.

    Returns ``{"grounding": path, "spatial": path, "video": path}`` ("video": the video record alone, for a GRPO
    step on a video row); images are under ``root/images`` as the official layout has
    them. The grounding box is the white rectangle of frame 0, in the frame's own pixels (``image_size`` given).
    """
    from PIL import Image

    root = Path(root)
    scene = "scene0000_00"
    (root / "images" / scene).mkdir(parents=True, exist_ok=True)
    rels = []
    for i in range(max(views, video_frames)):
        rel = f"{scene}/{i * 10}.jpg"
        Image.fromarray(full_size_frame(i)).save(root / "images" / rel, quality=90)
        rels.append(rel)
    grounding = [
        {
            "question_id": 0,
            "question": "Locate the door in the image and output its bbox_2d and label in JSON.",
            "answer": [{"bbox_2d": [100, 300, 350, 600], "label": "door"}],
            "image": [rels[0]],
            "image_size": list(SCANNET_FRAME_SIZE),
            "data_type": "single_image",
        }
    ]
    spatial = [
        {
            "question_id": 1,
            "question": "Which is closer to the door, the chair or the table?",
            "options": ["A. chair", "B. table"],
            "answer": "A",
            "image": [rels[0]],
            "question_type": "relative distance",
            "data_type": "single_image",
        },
        {
            "question_id": 2,
            "question": "How many chair(s) are in this room?",
            "options": None,
            "answer": "3",
            "image": rels[:views],
            "question_type": "object count",
            "data_type": "multi_view",
        },
        {
            "question_id": 3,
            "question": "What is the size of this room (in square meters)?",
            "options": None,
            "answer": "21.5",
            "image": rels[:video_frames],
            "frame_indices": [i * 10 for i in range(video_frames)],  # the .sens frames the files are named after
            "fps": SCANNET_FPS,  # their clock, as build-data writes it: Qwen3-VL / Qwen3.5 stamp the capture times
            "question_type": "room size",
            "data_type": "video",
        },
    ]
    files = {}
    for kind, name, rows in (
        ("grounding", RECORD_FILES["grounding"], grounding),
        ("spatial", RECORD_FILES["spatial"], spatial),
        ("video", VIDEO_ONLY_FILE, spatial[-1:]),
    ):
        files[kind] = root / name
        files[kind].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return files


def write_full_size_vsibench(out_dir: str | Path, frames: int = 64) -> Path:
    """A VSI-Bench folder: one 1296×968 ScanNet-style video of ``frames`` frames and two questions on it."""
    from spatialladder.testing.synthetic_benchmarks import BenchItem, write_vsibench

    video = [full_size_frame(i) for i in range(frames)]
    items = [
        BenchItem("object_counting", "How many chair(s) are in this room?", "3", "scene0000_00", video),
        BenchItem(
            "object_rel_distance",
            "Measuring from the closest point of each object, which of these objects (bed, tv, sofa, lamp) is the "
            "closest to the door?",
            "B",
            "scene0000_00",
            video,
            options=["A. bed", "B. tv", "C. sofa", "D. lamp"],
        ),
    ]
    return write_vsibench(items, out_dir, layout="original")  # the gpu acceptance check reads its parquet
