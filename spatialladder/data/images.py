"""Frame images: decode the chosen colour frames once, resize to the configured maximum side, write JPEGs."""

from __future__ import annotations

import io
from pathlib import Path

from spatialladder.errors import SceneFormatError
from spatialladder.records import write_atomic
from spatialladder.scannet.types import FrameInfo


def stored_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) after shrinking so the longer side is at most ``max_side`` (never enlarged)."""
    w, h = size
    scale = min(1.0, max_side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def image_relpath(scene_id: str, frame_index: int) -> str:
    """Record path, relative to ``<out>/images`` (the official ``--image_folders`` root)."""
    return f"{scene_id}/{frame_index}.jpg"


def write_frame_images(
    scene_dir: str | Path,
    scene_id: str,
    frames: dict[int, FrameInfo],
    indices: list[int],
    images_root: Path,
    max_side: int,
    quality: int,
    layout: str = "auto",
) -> dict[int, tuple[int, int]]:
    """Write ``images_root/<scene>/<frame>.jpg`` for each index; returns the stored (width, height) per frame."""
    from PIL import Image

    from spatialladder.scannet.pipeline import read_color_frames

    sizes: dict[int, tuple[int, int]] = {}
    for index, rgb in read_color_frames(scene_dir, indices, layout):
        image = Image.fromarray(rgb)
        if image.size != tuple(frames[index].image_size):
            raise SceneFormatError(
                scene_id, f"frame {index}", f"colour image is {image.size}, expected {tuple(frames[index].image_size)}"
            )
        size = stored_size(image.size, max_side)
        if size != image.size:
            image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        write_atomic(images_root / image_relpath(scene_id, index), buffer.getvalue())
        sizes[index] = size
    missing = sorted(set(indices) - set(sizes))
    if missing:
        raise SceneFormatError(scene_id, str(scene_dir), f"colour frames not found: {missing[:10]}")
    return sizes
