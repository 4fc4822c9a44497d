"""Media of a training record: where its files are, reading them, and which video frames a trainer shows.

Images stay at their stored size here: the processor resizes them once, with the pixel budget of the config
(``official_pre_resize`` adds the official trainers' extra resize when asked). Media are read lazily, row by row,
so a 26k-record set costs no memory up front.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.media import CaptureTimes
from spatialladder.records import TrainingRecord
from spatialladder.sampling import uniform_sample

logger = logging.getLogger(__name__)


def resolve_image_root(data_file: str | Path, image_root: str | Path | None) -> Path:
    """The folder relative image paths start from: ``image_root`` if given, else ``<data file folder>/images``
    when it exists (the official ``data/images`` layout), else the data file's own folder."""
    if image_root is not None:
        root = Path(image_root).expanduser()
        if not root.is_dir():
            raise DataFormatError(f"data.image_root {image_root}: not a folder")
        return root
    folder = Path(data_file).parent
    return folder / "images" if (folder / "images").is_dir() else folder


def resolve_media(paths: Sequence[str], root: Path, where: str) -> tuple[Path, ...]:
    """Absolute paths of a record's images; a missing file is an error naming the record."""
    out = []
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else root / p
        if not path.is_file():
            raise DataFormatError(f"{where}: image {p!r} not found (looked at {path}; set data.image_root?)")
        out.append(path)
    return tuple(out)


def load_image(path: str | Path) -> Any:
    """An RGB PIL image, fully read (so the file handle closes at once)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read image ({exc})") from None


def load_video_frames(paths: Sequence[str | Path]) -> list[Any]:
    """A video record's (already selected) frames as PIL images."""
    return [load_image(p) for p in paths]


def official_pre_resize(image: Any) -> Any:
    """What the official collator did before the processor: qwen-vl-utils' ``fetch_image`` at its default pixel
    bounds, which rounds each side to a multiple of 28 (968×1296 → 980×1288); the processor then resizes again."""
    from qwen_vl_utils import fetch_image

    return fetch_image({"image": image})


def official_pre_resize_size(width: int, height: int) -> tuple[int, int]:
    """(W, H) :func:`official_pre_resize` turns a ``width``×``height`` image into, without any pixels: qwen-vl-utils'
    ``smart_resize`` at ``fetch_image``'s default bounds (its IMAGE_MIN/MAX_TOKEN_NUM × 28²)."""
    from qwen_vl_utils import vision_process as vp

    factor = 14 * vp.SPATIAL_MERGE_SIZE
    h, w = vp.smart_resize(
        height,
        width,
        factor=factor,
        min_pixels=vp.IMAGE_MIN_TOKEN_NUM * factor**2,
        max_pixels=vp.IMAGE_MAX_TOKEN_NUM * factor**2,
    )
    return w, h


def image_file_size(path: str | Path) -> tuple[int, int]:
    """(W, H) of an image file from its header alone (PIL reads no pixels until asked)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read image ({exc})") from None


def log_frames_kept_whole(frame_counts: Iterable[int], num_frames: int | None, what: str) -> None:
    """Say how many video ``what`` (records, rows) show more than ``num_frames`` frames: the frame-dependent ones
    :func:`shown_video` kept whole (``frame_counts``: frames shown per video)."""
    whole = num_frames is not None and sum(n > num_frames for n in frame_counts)
    if whole:
        logger.info("%d frame-dependent video %s keep all their frames (data.frame_dependent: keep_all)", whole, what)


def log_missing_capture_times(times: Iterable[CaptureTimes | None], video_fps: float, what: str) -> None:
    """Say how many video ``what`` (records, rows) carry no capture times (``frame_indices`` + ``fps``: the released
    files), so Qwen3-VL / Qwen3.5 stamp their frames as qwen-vl-utils stamps a frame list (``spatialladder.media``)."""
    missing = sum(t is None for t in times)
    if missing:
        logger.info(
            "%d video %s carry no capture times (frame_indices + fps): Qwen3-VL / Qwen3.5 stamp their frames as "
            "0..n-1 at data.video_fps %g, as qwen-vl-utils does for a frame list",
            missing,
            what,
            video_fps,
        )


def shown_video(
    record: TrainingRecord, num_frames: int | None, frame_dependent: str, where: str
) -> tuple[list[str], CaptureTimes | None]:
    """The frames a trainer shows for a video record: ``num_frames`` uniform over the listed ones (None = all),
    by the one sampler (``spatialladder.sampling``), and their capture times (None when the record has none).

    A frame-dependent record (``TrainingRecord.frame_dependent``) that this would subsample keeps every listed
    frame (``frame_dependent: keep_all``), or is refused with an error naming ``where`` (``error``), so the SFT
    target and the GRPO reward never hold an answer computed on frames the model was not shown.
    """
    listed = list(range(len(record.image)))
    kept = uniform_sample(listed, num_frames)
    if len(kept) != len(listed) and record.frame_dependent:
        if frame_dependent != "keep_all":
            raise DataFormatError(
                f"{where}: a {record.question_type or 'appearance order'!r} answer is computed from all "
                f"{len(listed)} listed frames, but data.video_frames: {num_frames} would show {len(kept)}; set "
                "data.video_frames: null (every listed frame) or data.frame_dependent: keep_all"
            )
        kept = listed
    times = record.capture_times(kept)
    return [record.image[i] for i in kept], None if times is None else CaptureTimes(*times)
