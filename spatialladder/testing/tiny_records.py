"""Tiny SpatialLadder-26k-format records and images, for the SFT tests and the CPU debug configs.

Written in the official released schema (reference §2.3): ``spld_grounding_data.jsonl``,
``spld_spatial_data.jsonl`` (single image, 8-view multi-view and video-as-frames records) and
``spld_coldstart_data.jsonl``, with relative image paths under ``images/``, as in the official ``data/`` folder.

Run ``python -m spatialladder.testing.tiny_records outputs/tiny-data`` to write them for the debug configs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from spatialladder.vocab import RECORD_FILES

TINY_IMAGE_SIZE = (112, 84)
"""(W, H): 6×8 patches of 14 px, inside the tiny processor's pixel budget, so no resize happens."""
COLORS = ("red", "green", "blue", "yellow")
_RGB = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220), "yellow": (230, 220, 20)}


def _frame(color: str, index: int):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", TINY_IMAGE_SIZE, _RGB[color])
    x = 8 + 10 * (index % 8)
    ImageDraw.Draw(im).rectangle([x, 20, x + 20, 60], fill=(255, 255, 255))
    return im


def write_tiny_records(root: str | Path, video_frames: int = 6) -> dict[str, Path]:
    """Write the three JSONL files and their images under ``root``; return ``{kind: jsonl path}``."""
    root = Path(root)
    images = root / "images"
    scenes = {}
    for s, color in enumerate(COLORS):
        scene = f"scene000{s}_00"
        (images / scene).mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(max(8, video_frames)):
            rel = f"{scene}/{i * 20}.jpg"
            _frame(color, i).save(images / rel, quality=95)
            paths.append(rel)
        scenes[color] = paths
    grounding, spatial, coldstart = [], [], []
    for q, color in enumerate(COLORS):
        frames = scenes[color]
        x = 8
        grounding.append(
            {
                "question_id": q,
                "question": f"Locate the door in the {color} room.",
                "answer": [{"bbox_2d": [x, 20, x + 20, 60], "label": "door"}],
                "image": [frames[0]],
                "data_type": "single_image",
            }
        )
        spatial.append(
            {
                "question_id": 100 + q,
                "question": f"Which is closer to the door in the {color} room?",
                "options": ["A. chair", "B. table"],
                "answer": "A",
                "image": [frames[0]],
                "question_type": "relative distance",
                "data_type": "single_image",
            }
        )
        spatial.append(
            {
                "question_id": 200 + q,
                "question": f"How many chair(s) are in the {color} room?",
                "options": None,
                "answer": str(q + 1),
                "image": frames[:8],
                "question_type": "object count",
                "data_type": "multi_view",
            }
        )
        spatial.append(
            {
                "question_id": 300 + q,
                "question": f"What is the size of the {color} room (in square meters)?",
                "options": None,
                "answer": str(10 + q),
                "image": frames[:video_frames],
                "question_type": "room size",
                "data_type": "video",
            }
        )
        coldstart.append(
            {
                "question_id": 400 + q,
                "prompt": f"Question: How many lamp(s) are in the {color} room? \nThink, then answer.",
                "solution": f"<think>I see {q + 1}.</think><answer>{q + 1}</answer>",
                "image": frames[:8],
                "data_type": "multi_view",
            }
        )
    files = {}
    for name, rows in (("grounding", grounding), ("spatial", spatial), ("coldstart", coldstart)):
        path = root / RECORD_FILES[name]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        files[name] = path
    return files


if __name__ == "__main__":
    for kind, path in write_tiny_records(sys.argv[1] if len(sys.argv) > 1 else "outputs/tiny-data").items():
        print(f"{kind}: {path}")
